//! The coordinator's HTTP API (`/v1/…`, the same under `/api/…`, and the admin part also under `/admin/…`): the earlier routes and field names, each checked against the caller's API key and role, with errors in the shared structured shape.

mod admin;
mod explorer;
mod jobs;
mod limits;
mod marketplace;
mod miners;
mod users;

pub use limits::{Limiter, Limits, per_ip};
pub(crate) use users::loopback_host;

use std::path::Path;

use anyhow::Context;
use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use coordinator::{ApiKey, Coordinator, Role};

use crate::{ApiError, AppState, Config, error::FieldError};

/// The coordinator behind the API, or a 503 when this server runs none.
fn coordinator_of(state: &AppState) -> Result<&Coordinator, ApiError> {
    state.coordinator.as_ref().ok_or_else(|| {
        ApiError::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_coordinator",
            "this server runs no coordinator",
        )
    })
}

/// The key the request presents in `X-Api-Key`, if it is live and has `role`. A browser user's
/// session (`Authorization: Bearer …`) stands for a client key whose identity is the wallet
/// address it signed in with.
async fn authorize(state: &AppState, headers: &HeaderMap, role: Role) -> Result<ApiKey, ApiError> {
    let coordinator = coordinator_of(state)?;
    if !headers.contains_key("x-api-key")
        && let Some(token) = users::session_token(headers)
    {
        return session_as_key(state, coordinator, token, role).await;
    }
    let secret = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "send your API key in the X-Api-Key header",
            )
        })?;
    let key = coordinator
        .keys()
        .authenticate(coordinator.store(), secret)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "invalid api key",
            )
        })?;
    if let Err(wait) = state.limits.per_key.take(&key.id) {
        return Err(limits::too_many(wait, "API key"));
    }
    if key.role != role {
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "wrong_role",
            format!("this route needs a {} key", role.as_str()),
        ));
    }
    Ok(key)
}

/// A live session as a client key.
async fn session_as_key(
    state: &AppState,
    coordinator: &Coordinator,
    token: &str,
    role: Role,
) -> Result<ApiKey, ApiError> {
    let session = coordinator.session(token).await?.ok_or_else(|| {
        ApiError::refused(
            StatusCode::UNAUTHORIZED,
            "invalid_session",
            "the session expired or was never opened; sign in again",
        )
    })?;
    let key = ApiKey {
        id: format!("session:{}", session.address),
        key_hash: String::new(),
        role: Role::Client,
        identity: session.address.to_string(),
        created_at: session.created_at,
        revoked_at: None,
    };
    if let Err(wait) = state.limits.per_key.take(&key.id) {
        return Err(limits::too_many(wait, "session"));
    }
    if role != Role::Client {
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "wrong_role",
            format!("this route needs a {} key", role.as_str()),
        ));
    }
    Ok(key)
}

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

impl From<coordinator::Error> for ApiError {
    fn from(error: coordinator::Error) -> Self {
        match error {
            coordinator::Error::NotFound(what) => ApiError::NotFound(what),
            coordinator::Error::Conflict(message) => {
                ApiError::refused(StatusCode::CONFLICT, "conflict", message)
            }
            coordinator::Error::Invalid { field, message } => {
                ApiError::Validation(vec![FieldError {
                    field: field.into(),
                    message,
                    code: "invalid".into(),
                }])
            }
            coordinator::Error::TooEarly => ApiError::refused(
                StatusCode::TOO_EARLY,
                "too_early",
                "the job has not finished yet",
            ),
            coordinator::Error::Forbidden(message) => {
                ApiError::refused(StatusCode::FORBIDDEN, "forbidden", message)
            }
            coordinator::Error::Unauthorized(message) => {
                ApiError::refused(StatusCode::UNAUTHORIZED, "sign_in_refused", message)
            }
            coordinator::Error::Unavailable(message) => {
                ApiError::refused(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            coordinator::Error::Store(error) => internal(error),
        }
    }
}

/// The coordinator's metrics in the Prometheus text format: jobs by state, queue depth, miners
/// online, and how long jobs waited for a miner over the last five minutes.
pub async fn metrics(coordinator: &Coordinator) -> Result<String, ApiError> {
    use std::fmt::Write;
    let store = coordinator.store();
    let counts = store.job_counts().await.map_err(internal)?;
    let miners = store.miners().await.map_err(internal)?;
    let window_start = coordinator::system_now() - 300_000;
    let (assigned, waited_ms) = store.assign_latency(window_start).await.map_err(internal)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP aitbc_coordinator_jobs Jobs by state.\n# TYPE aitbc_coordinator_jobs gauge"
    );
    for state in coordinator::JobState::ALL {
        let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |c| c.1);
        let _ = writeln!(
            out,
            "aitbc_coordinator_jobs{{state=\"{}\"}} {n}",
            state.as_str()
        );
    }
    let queued = counts
        .iter()
        .find(|(s, _)| *s == coordinator::JobState::Queued)
        .map_or(0, |c| c.1);
    let online = miners
        .iter()
        .filter(|m| m.status == coordinator::MinerStatus::Online)
        .count();
    let average = if assigned > 0 {
        waited_ms / assigned
    } else {
        0
    };
    for (name, help, value) in [
        (
            "aitbc_coordinator_queue_depth",
            "Jobs waiting for a miner.",
            queued,
        ),
        (
            "aitbc_coordinator_miners_online",
            "Miners heard from within the heartbeat timeout.",
            online as i64,
        ),
        (
            "aitbc_coordinator_assign_latency_ms",
            "Average wait from submission to a miner taking the job, over the last five minutes.",
            average,
        ),
        (
            "aitbc_coordinator_jobs_assigned_recent",
            "Jobs taken by miners over the last five minutes.",
            assigned,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    if let Some(groups) = store.group_commits() {
        for (name, help, value) in [
            (
                "aitbc_coordinator_db_commits_total",
                "Transactions of SQLite's group commit (jobs' inserts, claims and finishes).",
                groups.commits,
            ),
            (
                "aitbc_coordinator_db_grouped_writes_total",
                "Writes committed in those transactions.",
                groups.writes,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
    }
    Ok(out)
}

/// The wait a long poll asked for in `field`: 0 to 60 seconds.
fn long_poll_wait(field: &'static str, seconds: f64) -> Result<std::time::Duration, ApiError> {
    if !(0.0..=60.0).contains(&seconds) {
        return Err(ApiError::bad(field, "must be from 0 to 60"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Milliseconds since the epoch as RFC 3339.
fn time(ms: i64) -> String {
    crate::rpc::rfc3339(u64::try_from(ms).unwrap_or(0))
}

/// The routes of `/v1` (and `/api`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(jobs::health))
        .route("/jobs", post(jobs::submit))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/result", get(jobs::result))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/receipt", get(jobs::receipt))
        .route("/jobs/{id}/receipts", get(jobs::receipts))
        .route("/jobs/{id}/payment", get(jobs::payment))
        .route("/payments/terms", get(jobs::payment_terms))
        .route("/receipts/verify", post(jobs::verify_receipt))
        .route("/explorer/jobs", get(explorer::jobs))
        .route("/explorer/receipts", get(explorer::receipts))
        .route("/miners/register", post(miners::register))
        .route("/miners/heartbeat", post(miners::heartbeat))
        .route("/miners/deregister", post(miners::deregister))
        .route("/miners/poll", post(miners::poll))
        .route("/miners/{job_id}/result", post(miners::result))
        .route("/miners/{job_id}/fail", post(miners::fail))
        .route("/miners/{job_id}/usage", post(miners::usage))
        .route("/miners/{job_id}/progress", post(miners::progress))
        .route(
            "/marketplace/offers",
            get(marketplace::offers).post(marketplace::create_offer),
        )
        .route("/marketplace/miner-offers", get(marketplace::miner_offers))
        .route("/marketplace/stats", get(marketplace::stats))
        .route(
            "/marketplace/bids",
            get(marketplace::bids).post(marketplace::create_bid),
        )
        .route("/marketplace/bids/{id}", get(marketplace::bid))
        .route(
            "/marketplace/bids/{id}/accept",
            post(marketplace::accept_bid),
        )
        .route(
            "/marketplace/bids/{id}/reject",
            post(marketplace::reject_bid),
        )
        .route("/marketplace/gpu/register", post(marketplace::register_gpu))
        .route("/marketplace/gpu/list", get(marketplace::gpus))
        .route("/marketplace/gpu/{id}", get(marketplace::gpu))
        .route("/marketplace/gpu/{id}/book", post(marketplace::book))
        .route("/marketplace/gpu/{id}/release", post(marketplace::release))
        .route(
            "/marketplace/gpu/{id}/reviews",
            get(marketplace::reviews).post(marketplace::review),
        )
        .route("/marketplace/orders", get(marketplace::orders))
        .route("/marketplace/pricing/{model}", get(marketplace::pricing))
        .route("/users/challenge", post(users::challenge))
        .route("/users/login", post(users::login))
        .route("/users/me", get(users::me))
        .route("/users/logout", post(users::logout))
        .route("/openapi.json", get(openapi))
        .nest("/admin", admin_router())
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .fallback(crate::api::route_not_found)
        .method_not_allowed_fallback(crate::api::method_not_allowed)
}

/// The OpenAPI description of every route of [`router`] (the admin routes under `/admin`); a
/// test keeps the two in step.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// The admin routes, under `/v1/admin` and `/admin`.
pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/stats", get(admin::stats))
        .route("/jobs", get(admin::jobs))
        .route("/miners", get(admin::miners))
        .route("/miners/{id}/deactivate", post(admin::deactivate))
        .route("/miners/{id}/activate", post(admin::activate))
        .route("/keys", get(admin::keys).post(admin::create_key))
        .route("/keys/{id}/rotate", post(admin::rotate_key))
        .route("/keys/{id}/revoke", post(admin::revoke_key))
        .fallback(crate::api::route_not_found)
        .method_not_allowed_fallback(crate::api::method_not_allowed)
}

/// Job payloads and results are JSON of at most this size.
const BODY_LIMIT: usize = 1024 * 1024;

/// The coordinator's key (it attests receipts and settles escrows), created under
/// `<data-dir>/coordinator/` on the first start; `None` when the config runs no coordinator.
pub fn key(config: &Config) -> anyhow::Result<Option<types::SecretKey>> {
    if config.no_coordinator {
        return Ok(None);
    }
    let dir = config.data_dir.join("coordinator");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    attestation_key(&dir.join("coordinator.key")).map(Some)
}

/// Opens the coordinator of `config` with its `key`, taking payments on `ledger`'s chain, and on
/// the first start issues an admin key into `<data-dir>/coordinator/admin.key`.
pub async fn open(
    config: &Config,
    key: types::SecretKey,
    ledger: Option<std::sync::Arc<dyn coordinator::ledger::Ledger>>,
    chain_id: &str,
) -> anyhow::Result<Coordinator> {
    let dir = config.data_dir.join("coordinator");
    let url = match &config.coordinator_db {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.join("coordinator.db").display()),
    };
    let store = coordinator::Store::open(&url)
        .await
        .context("cannot open the coordinator database")?;
    let mut coordinator = Coordinator::new(
        store,
        coordinator::Config {
            chain_id: chain_id.to_owned(),
            allow_unpaid: config.allow_unpaid_jobs,
            heartbeat_timeout_ms: i64::from(config.heartbeat_timeout) * 1_000,
            ..coordinator::Config::default()
        },
        key,
    );
    if let Some(ledger) = ledger {
        coordinator = coordinator.with_ledger(ledger);
    }
    bootstrap_admin(&coordinator, &dir.join("admin.key")).await?;
    Ok(coordinator)
}

fn attestation_key(path: &Path) -> anyhow::Result<types::SecretKey> {
    if !path.exists() {
        chain::keyfile::write(path, &chain::keyfile::generate())?;
        tracing::info!(path = %path.display(), "created the coordinator's receipt attestation key");
    }
    Ok(chain::keyfile::read(path)?)
}

/// Without any admin key nobody could manage the others: the first start issues one and writes
/// its secret to a file only the owner can read.
async fn bootstrap_admin(coordinator: &Coordinator, path: &Path) -> anyhow::Result<()> {
    let store = coordinator.store();
    let keys = store.keys().await?;
    if keys
        .iter()
        .any(|k| k.role == Role::Admin && k.revoked_at.is_none())
    {
        return Ok(());
    }
    let issued =
        coordinator::keys::issue(store, Role::Admin, "admin", coordinator::system_now()).await?;
    write_secret(path, &issued.secret)?;
    tracing::info!(path = %path.display(), "issued the first admin API key");
    Ok(())
}

/// Writes `secret` to `path`, readable by the owner only.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{secret}")?;
    Ok(())
}
