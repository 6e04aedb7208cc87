//! Transaction routes: submit, look up with status (pending, included, final), Merkle inclusion proof, recent list, mempool, fee estimate.

use axum::{Json, extract::State, http::StatusCode};
use chain::{
    mempool::Admitted,
    mempool::PoolError,
    node::{Located, SubmitError},
};
use serde::Deserialize;
use serde_json::{Value, json};
use types::{Hash, SignedTransaction};

use super::{
    node_of,
    views::{Page, TxStatus, TxView, status_at},
};
use crate::{
    ApiError, ApiJson, AppState,
    error::{ApiPath, ApiQuery},
};

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

fn hash_param(text: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text).ok_or_else(|| ApiError::bad("hash", "a hash is 64 hexadecimal digits"))
}

/// `POST /rpc/sendTx`: a signed transaction in its JSON form.
pub async fn send(
    State(state): State<AppState>,
    ApiJson(tx): ApiJson<SignedTransaction>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let node = node_of(&state)?;
    match node.submit(tx).await {
        Ok(Admitted::New(hash)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "tx_hash": hash.to_hex(), "status": "pending" })),
        )),
        Ok(Admitted::Duplicate(hash)) => Ok((
            StatusCode::OK,
            Json(json!({ "tx_hash": hash.to_hex(), "status": "pending", "duplicate": true })),
        )),
        Ok(Admitted::Replaced { new, old }) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "tx_hash": new.to_hex(), "status": "pending", "replaced": old.to_hex() })),
        )),
        Err(SubmitError::Refused(error)) => {
            let status = match error {
                PoolError::PoolFull => StatusCode::SERVICE_UNAVAILABLE,
                PoolError::ReplacementUnderpriced { .. } | PoolError::AccountFull(_) => {
                    StatusCode::CONFLICT
                }
                PoolError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::refused(status, error.code(), &error))
        }
        Err(SubmitError::Store(error)) => Err(internal(error)),
    }
}

/// `GET /rpc/tx/{hash}`.
pub async fn by_hash(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<TxView>, ApiError> {
    let node = node_of(&state)?;
    let hash = hash_param(&hash)?;
    match node.find_tx(&hash).await.map_err(internal)? {
        Some(Located::Included(stored)) => {
            let status = status_at(node, stored.block_height).await;
            Ok(Json(TxView::of(
                &stored.tx,
                status,
                Some(stored.block_height),
                Some(stored.index),
            )))
        }
        Some(Located::Pending(tx)) => Ok(Json(TxView::of(&tx, TxStatus::Pending, None, None))),
        None => Err(ApiError::NotFound(format!("transaction {hash}"))),
    }
}

/// `GET /rpc/tx/{hash}/proof`: the Merkle path from the transaction to its block's `tx_root`.
pub async fn proof(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let hash = hash_param(&hash)?;
    let inclusion = node
        .inclusion(&hash)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("included transaction {hash}")))?;
    Ok(Json(json!({
        "tx_hash": hash.to_hex(),
        "block_height": inclusion.tx.block_height,
        "block_hash": inclusion.block.hash().to_hex(),
        "tx_root": inclusion.block.header.tx_root.to_hex(),
        "proof": inclusion.proof,
    })))
}

/// `GET /rpc/transactions?limit=&offset=`: included transactions, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let page = page.checked()?;
    let (txs, total) = node
        .store()
        .transactions(page.limit, page.offset)
        .await
        .map_err(internal)?;
    let mut views = Vec::with_capacity(txs.len());
    for stored in &txs {
        let status = status_at(node, stored.block_height).await;
        views.push(TxView::of(
            &stored.tx,
            status,
            Some(stored.block_height),
            Some(stored.index),
        ));
    }
    Ok(Json(
        json!({ "transactions": views, "total": total, "limit": page.limit, "offset": page.offset }),
    ))
}

/// `GET /rpc/mempool`: pending transactions in the order a block would take them.
pub async fn mempool(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let pending = node.pending().await;
    let views: Vec<TxView> = pending
        .iter()
        .take(1_000)
        .map(|t| TxView::of(t, TxStatus::Pending, None, None))
        .collect();
    Ok(Json(
        json!({ "size": pending.len(), "transactions": views }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct FeeQuery {
    /// The encoded size of the transaction; a transfer's size when absent.
    #[serde(default)]
    size_bytes: Option<u64>,
}

/// `POST /rpc/estimateFee`: the smallest fee the chain accepts for a transaction of that size.
pub async fn estimate_fee(
    State(state): State<AppState>,
    ApiJson(query): ApiJson<FeeQuery>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let params = &node.genesis().params;
    // A transfer encodes to the same size whatever its values (fixed-width fields), except for the chain id.
    let size = query
        .size_bytes
        .unwrap_or(TRANSFER_BASE_BYTES + node.genesis().chain_id.len() as u64);
    let fee = params.required_fee(size as usize);
    Ok(Json(json!({
        "type": "transfer",
        "base_fee": params.min_fee.0,
        "fee_per_byte": params.fee_per_byte,
        "size_bytes": size,
        "estimated_fee": fee.0,
    })))
}

/// The encoded size of a transfer without its chain id: domain tag (4+12), version (1), chain id
/// length (4), sender (32), nonce (8), fee (8), tag (1), recipient (20), amount (8), signature (64).
const TRANSFER_BASE_BYTES: u64 = 4 + 8 + 1 + 4 + 32 + 8 + 8 + 1 + 20 + 8 + 64;
