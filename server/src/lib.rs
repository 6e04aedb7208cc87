//! The one AITBC server process as a library: [`app`] builds the whole router and [`run`] serves it until shutdown, so tests can start it on port 0.

mod api;
mod chain_node;
mod config;
mod coordinator_api;
mod error;
mod health;
mod request_id;
mod rpc;
mod shutdown;
mod wallet_api;
mod web;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::serve::ListenerExt;
use axum::{
    Router,
    http::{HeaderValue, header},
    middleware,
    routing::{any, get},
};
use tokio::net::TcpListener;
use tower_http::{
    LatencyUnit,
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};
use tracing::Level;

pub use config::Config;
pub use coordinator_api::OPENAPI as COORDINATOR_OPENAPI;
pub use error::{ApiError, ApiJson, FieldError};
pub use rpc::OPENAPI as RPC_OPENAPI;
pub use shutdown::shutdown_signal;

/// What every handler may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// When the process started serving, for `uptime_s`.
    pub started: Instant,
    /// The chain node this server runs, if any.
    pub node: Option<chain::Node>,
    /// The devnet faucet this server signs for, if it holds the faucet key.
    pub faucet: Option<Arc<rpc::Faucet>>,
    /// The last probe of the data folder, shared by `/health` calls.
    pub storage_probe: Arc<health::ProbeCache>,
    /// The job coordinator this server runs, if any.
    pub coordinator: Option<coordinator::Coordinator>,
    /// The coordinator API's rate limits.
    pub(crate) limits: Arc<coordinator_api::Limits>,
    /// The wallet daemon this server runs, if any.
    pub wallet: Option<Arc<wallet_api::Daemon>>,
}

impl AppState {
    /// State for a server with `config`, starting its uptime clock now.
    pub fn new(config: Config) -> Self {
        let limits = Arc::new(coordinator_api::Limits {
            per_key: coordinator_api::Limiter::new(config.key_rate_limit),
            per_ip: coordinator_api::Limiter::new(config.ip_rate_limit),
        });
        Self {
            limits,
            config: Arc::new(config),
            started: Instant::now(),
            node: None,
            faucet: None,
            storage_probe: Arc::default(),
            coordinator: None,
            wallet: None,
        }
    }

    /// The same, serving `node` under `/rpc/`, and its faucet when the key is at hand.
    pub fn with_node(self, node: chain::Node, faucet_key: Option<types::SecretKey>) -> Self {
        let faucet = faucet_key.map(|key| Arc::new(rpc::Faucet::new(key)));
        Self {
            node: Some(node),
            faucet,
            ..self
        }
    }
}

/// `GET /metrics`: Prometheus text for what this server runs: the chain node and the
/// coordinator.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    if state.node.is_none() && state.coordinator.is_none() {
        return Err(ApiError::refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "nothing_to_measure",
            "this server runs neither a chain node nor a coordinator",
        ));
    }
    let mut out = String::new();
    if let Some(node) = &state.node {
        out.push_str(&rpc::chain_metrics(node).await);
    }
    if let Some(coordinator) = &state.coordinator {
        out.push_str(&coordinator_api::metrics(coordinator).await?);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// A panic in a handler becomes a structured 500 instead of a dropped connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

/// The whole HTTP surface of the server.
pub fn app(state: AppState) -> Router {
    let options = web::leptos_options(&state.config);
    let mut router = Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(metrics));
    for (prefix, api) in api::routers(&state) {
        // `nest` covers `/api` and `/api/x`; the bare `/api/` needs its own route.
        router = router
            .nest(prefix, api)
            .route(&format!("{prefix}/"), any(api::route_not_found));
    }
    // The wallet daemon shares `/wallet` with the wallet's page: only its API paths are claimed.
    router = router
        .nest("/wallet", wallet_api::router(&state))
        .route("/wallet/v1/{*rest}", any(api::route_not_found));
    let api_only = state.config.api_only;
    let node = state.node.clone();
    let coordinator = state.coordinator.clone();
    let router = router.with_state(state);
    if api_only {
        with_common_layers(router.fallback(api::route_not_found))
    } else {
        with_common_layers(router.merge(web::router(options, node, coordinator)))
    }
}

/// What every response goes through: request ids, panic capture, compression, security headers
/// (a restrictive Content-Security-Policy unless the page set its own) and request tracing.
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(web::NON_PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(middleware::from_fn(web::revalidate_bundle))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                // Microseconds: most answers take well under a millisecond.
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        // Outermost, so the trace span above sits inside the span carrying the request id.
        .layer(middleware::from_fn(request_id::assign))
}

/// How long in-flight requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serves [`app`] on `listener` until `shutdown` completes, then lets in-flight requests finish
/// for at most [`SHUTDOWN_GRACE`].
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let coordinator_key = coordinator_api::key(&config)?;
    let node = chain_node::open(
        &config,
        coordinator_key
            .as_ref()
            .map(|k| types::Address::of(&k.public_key())),
    )
    .await?;
    let mut state = AppState::new(config);
    let wants_chain = coordinator_key.is_some() || !state.config.no_wallet;
    let rpc = match (&node, &state.config.chain_rpc) {
        (None, Some(url)) if wants_chain => Some(Arc::new(
            coordinator::rpc_ledger::RpcLedger::connect(url)
                .await
                .with_context(|| format!("cannot reach the chain node at {url}"))?,
        )),
        _ => None,
    };
    // The chain the coordinator pays through: the node in this process, or one over its RPC.
    let ledger: Option<Arc<dyn coordinator::ledger::Ledger>> = match (&node, &rpc) {
        (Some((node, _)), _) => Some(Arc::new(node.clone())),
        (None, Some(rpc)) if coordinator_key.is_some() => Some(rpc.clone()),
        _ => None,
    };
    if !state.config.no_wallet {
        let chain = match (&node, rpc) {
            (Some((node, _)), _) => Some(wallet_api::WalletChain::Node(node.clone())),
            (None, Some(rpc)) => Some(wallet_api::WalletChain::Rpc(rpc)),
            (None, None) => None,
        };
        let folder = state.config.data_dir.join("wallet");
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        let daemon = wallet_api::Daemon::open(
            &folder.join("wallets.db"),
            chain,
            state.config.wallet_allow_remote,
        )
        .await
        .context("cannot open the wallet daemon's database")?;
        state.wallet = Some(Arc::new(daemon));
    }
    let chain_id = ledger
        .as_ref()
        .map_or_else(|| chain_node::DEVNET_CHAIN_ID.to_owned(), |l| l.chain_id());
    let coordinator = match coordinator_key {
        Some(key) => Some(coordinator_api::open(&state.config, key, ledger, &chain_id).await?),
        None => None,
    };
    let node_task = node.map(|(node, faucet_key)| {
        state = state.clone().with_node(node.clone(), faucet_key);
        tokio::spawn(node.run(std::future::pending()))
    });
    let sweeper = coordinator.map(|coordinator| {
        state.coordinator = Some(coordinator.clone());
        tokio::spawn(coordinator.run_sweeper())
    });
    let app = app(state);
    let url = format!("http://{}/", listener.local_addr()?);
    tracing::info!(%url, "AITBC server listening");
    // A line on stdout for people and scripts waiting for the server, independent of RUST_LOG;
    // printed once everything is open, so whoever waits for it can use the server at once.
    println!("AITBC is running at {url}");
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    // Pages stream in several small writes; without TCP_NODELAY, Nagle's algorithm meeting the
    // client's delayed ACK stalls each page by about 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    // The peer's address reaches handlers as `ConnectInfo`, for the per-address rate limit.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = serve => result.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still running at the end of the grace period were cut off"),
    }
    if let Some(task) = sweeper {
        task.abort();
    }
    if let Some(task) = node_task {
        // Every block is committed in one database transaction, so stopping between two is safe.
        task.abort();
    }
    tracing::info!("server stopped");
    Ok(())
}
