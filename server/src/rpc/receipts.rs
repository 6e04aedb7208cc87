//! Receipt routes: receipt hashes anchored on chain by receipt-anchor transactions, listed newest first or looked up by hash.

use axum::{Json, extract::State};
use serde_json::{Value, json};
use types::Hash;

use super::{
    node_of,
    views::{Page, rfc3339},
};
use crate::{
    ApiError, AppState,
    error::{ApiPath, ApiQuery},
};

fn view(anchor: &chain::store::Anchor) -> Value {
    json!({
        "receipt_hash": anchor.receipt_hash.to_hex(),
        "job_id": anchor.job_id,
        "tx_hash": anchor.tx_hash.to_hex(),
        "block_height": anchor.block_height,
        "anchored_by": anchor.anchored_by.to_string(),
        "recorded_at": rfc3339(anchor.timestamp_ms),
    })
}

fn internal(error: chain::store::StoreError) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

/// `GET /rpc/receipts?limit=&offset=`.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let page = page.checked()?;
    let (anchors, total) = node
        .store()
        .receipts(page.limit, page.offset)
        .await
        .map_err(internal)?;
    let receipts: Vec<Value> = anchors.iter().map(view).collect();
    Ok(Json(
        json!({ "receipts": receipts, "total": total, "limit": page.limit, "offset": page.offset }),
    ))
}

/// `GET /rpc/receipts/{receipt_hash}`: where the receipt was first anchored.
pub async fn by_hash(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let hash = Hash::from_hex(&hash)
        .ok_or_else(|| ApiError::bad("receipt_hash", "a hash is 64 hexadecimal digits"))?;
    let anchor = node
        .store()
        .receipt(&hash)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("anchored receipt {hash}")))?;
    Ok(Json(view(&anchor)))
}
