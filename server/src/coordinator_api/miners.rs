//! Miner routes: register, heartbeat, deregister, long-poll for work, and report results (with signed receipts), failures and progress. The miner's identity is its API key's.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use coordinator::{JobFailure, JobResult, RegisterMiner, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{authorize, coordinator_of, long_poll_wait};
use crate::{
    ApiError, AppState,
    error::{ApiJson, ApiPath},
};

/// `POST /v1/miners/register`.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterMiner>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let token = coordinator_of(&state)?
        .register(&miner.identity, request)
        .await?;
    Ok(Json(
        json!({ "status": "ok", "miner_id": miner.identity, "session_token": token }),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct Heartbeat {
    #[serde(default)]
    metadata: Value,
}

/// `POST /v1/miners/heartbeat`: keeps the miner online and renews its jobs' leases.
pub async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(beat): ApiJson<Heartbeat>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let metadata = if beat.metadata.is_null() {
        json!({})
    } else {
        beat.metadata
    };
    coordinator_of(&state)?
        .heartbeat(&miner.identity, metadata)
        .await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// `POST /v1/miners/deregister`: the miner is leaving (after draining): offline until it
/// registers or beats again.
pub async fn deregister(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    coordinator_of(&state)?.deregister(&miner.identity).await?;
    Ok(Json(json!({ "status": "offline" })))
}

#[derive(Debug, Deserialize)]
pub struct Poll {
    #[serde(default = "default_wait")]
    max_wait_seconds: f64,
}

fn default_wait() -> f64 {
    15.0
}

/// `POST /v1/miners/poll`: answers as soon as a job this miner can run exists (200), or after
/// `max_wait_seconds` with 204.
pub async fn poll(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(poll): ApiJson<Poll>,
) -> Result<Response, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let wait = long_poll_wait("max_wait_seconds", poll.max_wait_seconds)?;
    match coordinator_of(&state)?.poll(&miner.identity, wait).await? {
        Some(job) => Ok(Json(job).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `POST /v1/miners/{job_id}/result`: the result and the receipt the miner signed; answers
/// with the attested receipt.
pub async fn result(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(result): ApiJson<JobResult>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let receipt = coordinator_of(&state)?
        .complete(&miner.identity, &job_id, result)
        .await?;
    Ok(Json(json!({ "status": "ok", "receipt": receipt })))
}

/// `POST /v1/miners/{job_id}/usage`: the output so far and a signed receipt for the GPU time
/// until the client canceled the job; answers with the attested receipt, which the client pays.
pub async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(usage): ApiJson<JobResult>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let receipt = coordinator_of(&state)?
        .report_usage(&miner.identity, &job_id, usage)
        .await?;
    Ok(Json(json!({ "status": "ok", "receipt": receipt })))
}

/// `POST /v1/miners/{job_id}/fail`.
pub async fn fail(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(failure): ApiJson<JobFailure>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    coordinator_of(&state)?
        .fail(&miner.identity, &job_id, failure)
        .await?;
    Ok(Json(json!({ "status": "ok" })))
}

#[derive(Debug, Deserialize)]
pub struct Progress {
    #[serde(default)]
    progress: Option<i32>,
    #[serde(default)]
    partial: Option<Value>,
}

/// `POST /v1/miners/{job_id}/progress`: progress (0–100) and partial output of a long job.
pub async fn progress(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(job_id): ApiPath<String>,
    ApiJson(update): ApiJson<Progress>,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    coordinator_of(&state)?
        .progress(&miner.identity, &job_id, update.progress, update.partial)
        .await?;
    Ok(Json(json!({ "status": "ok" })))
}
