//! Client routes: submit a job (idempotently), read it, its result and receipts, cancel it; and the public receipt check.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use coordinator::{Job, Role, SubmitJob};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{authorize, coordinator_of, long_poll_wait, time};
use crate::{
    ApiError, AppState,
    error::{ApiJson, ApiPath, ApiQuery},
};

/// A job as clients see it (the earlier JobView, plus attempts and progress).
#[derive(Debug, Serialize)]
pub struct JobView {
    pub job_id: String,
    pub state: &'static str,
    pub assigned_miner_id: Option<String>,
    pub requested_at: String,
    pub expires_at: String,
    pub error: Option<String>,
    pub priority: i32,
    pub attempts: i32,
    pub progress: Option<i32>,
    pub partial: Option<Value>,
    pub receipt_id: Option<String>,
    pub payment_id: Option<String>,
    pub payment_status: Option<String>,
}

impl JobView {
    pub fn of(job: Job) -> Self {
        JobView {
            job_id: job.id,
            state: job.state.as_str(),
            assigned_miner_id: job.assigned_miner_id,
            requested_at: time(job.requested_at),
            expires_at: time(job.expires_at),
            error: job.error,
            priority: job.priority,
            attempts: job.attempts,
            progress: job.progress,
            partial: job.partial,
            receipt_id: job.receipt_id,
            payment_id: job.payment.as_ref().map(|p| p.lock_tx.hash().to_hex()),
            payment_status: job.payment_status.map(|s| s.as_str().to_owned()),
        }
    }
}

/// `GET /v1/health`.
pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    coordinator_of(&state)?;
    Ok(Json(json!({ "status": "ok", "env": "dev" })))
}

/// `POST /v1/jobs` → 201; an `Idempotency-Key` header makes retries safe.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SubmitJob>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()?;
    let job = coordinator_of(&state)?
        .submit(&client.identity, request, key)
        .await?;
    Ok((StatusCode::CREATED, Json(JobView::of(job))))
}

/// `GET /v1/jobs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobView>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let job = coordinator_of(&state)?
        .client_job(&client.identity, &id)
        .await?;
    Ok(Json(JobView::of(job)))
}

#[derive(Debug, Deserialize)]
pub struct ResultWait {
    /// How long to wait for the job to finish before answering 425 (0 to 60 s; 0: at once).
    #[serde(default)]
    wait_seconds: f64,
}

/// `GET /v1/jobs/{id}/result`: 425 until the job has finished; with `wait_seconds`, answered
/// the moment it finishes within that time (a long poll, so clients need not ask again and
/// again).
pub async fn result(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(wait): ApiQuery<ResultWait>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let wait = long_poll_wait("wait_seconds", wait.wait_seconds)?;
    let (job, receipt) = coordinator_of(&state)?
        .wait_result(&client.identity, &id, wait)
        .await?;
    Ok(Json(json!({
        "state": job.state.as_str(),
        "result": job.result,
        "error": job.error,
        "receipt": receipt,
    })))
}

/// `POST /v1/jobs/{id}/cancel`: 409 once the job has finished.
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobView>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let job = coordinator_of(&state)?
        .cancel(&client.identity, &id)
        .await?;
    Ok(Json(JobView::of(job)))
}

/// `GET /v1/jobs/{id}/receipt`: the latest receipt.
pub async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    coordinator_of(&state)?
        .receipts(&client.identity, &id)
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("receipt".into()))
}

/// `GET /v1/jobs/{id}/receipts`: every receipt, oldest first.
pub async fn receipts(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let items = coordinator_of(&state)?
        .receipts(&client.identity, &id)
        .await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/payments/terms` (public): what a client's escrow lock must name: this coordinator's
/// key, the chain, and how far past the head its expiry must lie; and the fee taken.
pub async fn payment_terms(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let coordinator = coordinator_of(&state)?;
    let config = coordinator.config();
    let head = coordinator.head_height().await;
    Ok(Json(json!({
        "coordinator_key": coordinator.public_key().to_hex(),
        "coordinator_address": types::Address::of(&coordinator.public_key()).to_string(),
        "chain_id": config.chain_id,
        "head_height": head,
        "min_escrow_blocks": config.min_escrow_blocks,
        "fee_bps": config.fee_bps,
        "unpaid_jobs": config.allow_unpaid,
    })))
}

/// `GET /v1/jobs/{id}/payment`: the job's escrow and where it stands.
pub async fn payment(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let job = coordinator_of(&state)?
        .client_job(&client.identity, &id)
        .await?;
    let (Some(payment), Some(status)) = (job.payment, job.payment_status) else {
        return Err(ApiError::NotFound(format!("payment of job {id}")));
    };
    Ok(Json(json!({
        "job_id": job.id,
        "payment_id": payment.lock_tx.hash().to_hex(),
        "status": status.as_str(),
        "amount": payment.amount,
        "currency": "AITBC",
        "escrow_address": payment.terms.address().to_string(),
        "refund_address": payment.terms.client.to_string(),
        "expiry_height": payment.terms.expiry_height,
        "transaction_hash": payment.lock_tx.hash().to_hex(),
        "settlement_transaction_hash": payment.settle_tx.map(|t| t.hash().to_hex()),
    })))
}

/// `POST /v1/receipts/verify` (public): checks a receipt's miner signature and attestations.
pub async fn verify_receipt(ApiJson(receipt): ApiJson<Value>) -> Result<Json<Value>, ApiError> {
    if !receipt.is_object() {
        return Err(ApiError::bad("receipt", "must be a JSON object"));
    }
    let check = types::receipt::verify(&receipt);
    Ok(Json(json!({
        "verified": check.verified,
        "miner_signature": check.miner_signature,
        "attestations": check.attestations,
        "receipt_hash": types::receipt::receipt_hash(&receipt).to_hex(),
    })))
}
