//! The coordinator's public explorer feeds (`/v1/explorer/*`): real jobs and their receipts as they are, never dressed as blocks (the earlier feed rendered jobs as blocks when the node was unreachable). Clients are not named: a job's client is its own business.

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{coordinator_of, internal, time};
use crate::{ApiError, AppState, error::ApiQuery};

/// `limit` (1–200) and `offset`.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

impl Page {
    fn checked(&self) -> Result<(i64, i64), ApiError> {
        if !(1..=200).contains(&self.limit) {
            return Err(ApiError::bad("limit", "must be from 1 to 200"));
        }
        if self.offset < 0 {
            return Err(ApiError::bad("offset", "must not be negative"));
        }
        Ok((self.limit, self.offset))
    }
}

/// `GET /v1/explorer/jobs`: the latest jobs, newest first.
pub async fn jobs(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page.checked()?;
    let jobs = coordinator_of(&state)?
        .store()
        .jobs_page(limit, offset)
        .await
        .map_err(internal)?;
    let items: Vec<Value> = jobs
        .into_iter()
        .map(|j| {
            json!({
                "jobId": j.id,
                "state": j.state.as_str(),
                "miner": j.assigned_miner_id,
                "requestedAt": time(j.requested_at),
                "finishedAt": j.finished_at.map(time),
                "receiptId": j.receipt_id,
                "paymentStatus": j.payment_status.map(|s| s.as_str()),
            })
        })
        .collect();
    let next = (items.len() as i64 == limit).then_some(offset + limit);
    Ok(Json(json!({ "items": items, "next_offset": next })))
}

/// `GET /v1/explorer/receipts`: the latest receipts, newest first, with their payloads.
pub async fn receipts(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page.checked()?;
    let receipts = coordinator_of(&state)?
        .store()
        .receipts_page(limit, offset)
        .await
        .map_err(internal)?;
    let items: Vec<Value> = receipts
        .into_iter()
        .map(|(job_id, receipt, hash, created_at)| {
            json!({
                "receiptId": receipt.get("receipt_id"),
                "jobId": job_id,
                "miner": receipt.get("provider"),
                "price": receipt.get("price"),
                "priceBaseUnits": receipt.get("price_base_units"),
                "receiptHash": hash,
                "issuedAt": time(created_at),
                "status": receipt.get("status"),
                "payload": receipt,
            })
        })
        .collect();
    let next = (items.len() as i64 == limit).then_some(offset + limit);
    Ok(Json(json!({ "items": items, "next_offset": next })))
}
