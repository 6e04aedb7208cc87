//! Admin routes: statistics, jobs and miners, switching miners off and on, and the API keys (issue, list, rotate, revoke). Each needs an admin key.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use coordinator::{JobState, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{authorize, coordinator_of, internal, time};
use crate::{
    ApiError, AppState,
    error::{ApiJson, ApiPath},
};

/// `GET /admin/stats`.
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let coordinator = coordinator_of(&state)?;
    let counts = coordinator.store().job_counts().await.map_err(internal)?;
    let miners = coordinator.store().miners().await.map_err(internal)?;
    let count = |s: JobState| {
        counts
            .iter()
            .find(|(state, _)| *state == s)
            .map_or(0, |c| c.1)
    };
    let total: i64 = counts.iter().map(|c| c.1).sum();
    let completed: i64 = miners.iter().map(|m| m.jobs_completed).sum();
    let duration: i64 = miners.iter().map(|m| m.total_job_duration_ms).sum();
    Ok(Json(json!({
        "total_jobs": total,
        "active_jobs": count(JobState::Queued) + count(JobState::Running),
        "jobs_by_state": counts.iter().map(|(s, n)| (s.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "online_miners": miners.iter().filter(|m| m.status == coordinator::MinerStatus::Online).count(),
        "avg_miner_job_duration_ms": if completed > 0 { duration / completed } else { 0 },
    })))
}

/// `GET /admin/jobs`: the latest 100.
pub async fn jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let jobs = coordinator_of(&state)?
        .store()
        .jobs(None, 100)
        .await
        .map_err(internal)?;
    let items: Vec<Value> = jobs
        .into_iter()
        .map(|j| {
            json!({
                "job_id": j.id,
                "state": j.state.as_str(),
                "client_id": j.client_id,
                "assigned_miner_id": j.assigned_miner_id,
                "requested_at": time(j.requested_at),
                "attempts": j.attempts,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /admin/miners`.
pub async fn miners(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let store = coordinator_of(&state)?.store();
    let mut items = Vec::new();
    let now = coordinator::system_now();
    for load in store.miner_loads(now).await.map_err(internal)? {
        let (m, inflight) = (load.miner, load.running);
        items.push(json!({
            "miner_id": m.id,
            "status": m.status.as_str(),
            "enabled": m.enabled,
            "inflight": inflight,
            "concurrency": m.concurrency,
            "region": m.region,
            "capabilities": m.capabilities,
            "payout_address": m.payout_address,
            "last_heartbeat": time(m.last_heartbeat),
            "average_job_duration_ms": if m.jobs_completed > 0 { m.total_job_duration_ms / m.jobs_completed } else { 0 },
            "jobs_completed": m.jobs_completed,
            "jobs_failed": m.jobs_failed,
            "last_receipt_id": m.last_receipt_id,
        }));
    }
    Ok(Json(json!({ "items": items })))
}

async fn set_enabled(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    authorize(state, headers, Role::Admin).await?;
    if !coordinator_of(state)?
        .store()
        .set_enabled(id, enabled)
        .await
        .map_err(internal)?
    {
        return Err(ApiError::NotFound(format!("miner {id}")));
    }
    Ok(Json(json!({ "miner_id": id, "enabled": enabled })))
}

/// `POST /admin/miners/{id}/deactivate`: the miner gets no more work.
pub async fn deactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &headers, &id, false).await
}

/// `POST /admin/miners/{id}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &headers, &id, true).await
}

/// `GET /admin/keys`: every key, without secrets.
pub async fn keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let keys = coordinator_of(&state)?
        .store()
        .keys()
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "items": keys })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    role: Role,
    identity: String,
}

/// `POST /admin/keys` → 201 with the secret, shown this once.
pub async fn create_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let identity = new.identity.trim();
    if identity.is_empty()
        || identity.len() > 128
        || !identity.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ApiError::bad(
            "identity",
            "must be 1 to 128 visible ASCII characters",
        ));
    }
    let issued = coordinator::keys::issue(
        coordinator_of(&state)?.store(),
        new.role,
        identity,
        coordinator::system_now(),
    )
    .await
    .map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "key": issued.key, "secret": issued.secret })),
    ))
}

/// `POST /admin/keys/{id}/rotate`: a new secret for the same role and identity; the old one
/// stops working.
pub async fn rotate_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let coordinator = coordinator_of(&state)?;
    let issued = coordinator
        .keys()
        .rotate(coordinator.store(), &id, coordinator::system_now())
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("key {id}")))?;
    Ok(Json(json!({ "key": issued.key, "secret": issued.secret })))
}

/// `POST /admin/keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Role::Admin).await?;
    let coordinator = coordinator_of(&state)?;
    if !coordinator
        .keys()
        .revoke(coordinator.store(), &id, coordinator::system_now())
        .await
        .map_err(internal)?
    {
        return Err(ApiError::NotFound(format!("key {id}")));
    }
    Ok(Json(json!({ "key_id": id, "revoked": true })))
}
