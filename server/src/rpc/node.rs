//! Node routes: block import from peers, sync status, and Prometheus metrics.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use chain::{ImportOutcome, node::ImportError};
use serde_json::{Value, json};
use types::Block;

use super::node_of;
use crate::{ApiError, ApiJson, AppState};

/// `POST /rpc/importBlock`: a peer pushes a full signed block.
pub async fn import_block(
    State(state): State<AppState>,
    ApiJson(block): ApiJson<Block>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let (height, hash) = (block.header.height, block.hash().to_hex());
    let node_in_background = node.clone();
    match node.import(block).await {
        Ok(outcome) => {
            // A gap or a competing block: the peer knows something we lack, so pull and compare.
            if matches!(
                outcome,
                ImportOutcome::Gap { .. } | ImportOutcome::Fork { .. }
            ) {
                tokio::spawn(async move {
                    node_in_background.sync_once().await;
                });
            }
            let accepted = outcome == ImportOutcome::Appended;
            Ok(Json(
                json!({ "accepted": accepted, "height": height, "hash": hash, "outcome": outcome }),
            ))
        }
        Err(ImportError::Invalid(error)) => Err(ApiError::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.code(),
            &error,
        )),
        Err(ImportError::Store(error)) => Err(ApiError::Internal(anyhow::Error::new(error))),
    }
}

/// `GET /rpc/syncStatus`.
pub async fn sync_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let head = node.head().await;
    let (blocks, txs) = node
        .store()
        .totals()
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok(Json(json!({
        "chain_id": node.genesis().chain_id,
        "head_height": head.header.height,
        "head_hash": head.header.hash().to_hex(),
        "head_proposer": head.header.proposer.to_hex(),
        "head_timestamp": super::views::rfc3339(head.header.timestamp_ms),
        "total_weight": head.total_weight,
        "total_blocks": blocks,
        "total_transactions": txs,
        "max_reorg_depth": node.genesis().params.max_reorg_depth,
        "peers": node.peers(),
        "mempool_size": node.mempool_len().await,
    })))
}

/// `GET /rpc/metrics`: the chain's metrics as Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let out = chain_metrics(node_of(&state)?).await;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// The node's metrics in the Prometheus text format.
pub async fn chain_metrics(node: &chain::Node) -> String {
    let m = node.metrics();
    let head = node.head().await;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "aitbc_chain_head_height",
        "Height of the head block.",
        head.header.height,
    );
    gauge(
        "aitbc_chain_mempool_size",
        "Transactions waiting for a block.",
        node.mempool_len().await as u64,
    );
    gauge(
        "aitbc_chain_peers",
        "Configured peers.",
        node.peers().len() as u64,
    );
    gauge(
        "aitbc_chain_block_build_microseconds",
        "Time to build the last proposed block.",
        m.last_build_us.load(Ordering::Relaxed),
    );
    gauge(
        "aitbc_chain_block_import_microseconds",
        "Time to verify and store the last imported block.",
        m.last_import_us.load(Ordering::Relaxed),
    );
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "aitbc_chain_blocks_proposed_total",
        "Blocks this node proposed.",
        m.blocks_proposed.load(Ordering::Relaxed),
    );
    counter(
        "aitbc_chain_blocks_imported_total",
        "Blocks imported from peers.",
        m.blocks_imported.load(Ordering::Relaxed),
    );
    counter(
        "aitbc_chain_txs_accepted_total",
        "Transactions admitted to the mempool.",
        m.txs_accepted.load(Ordering::Relaxed),
    );
    counter(
        "aitbc_chain_reorgs_total",
        "Times this node switched to a heavier fork.",
        m.reorgs.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP aitbc_chain_rejected_txs_total Transactions refused, by reason.\n# TYPE aitbc_chain_rejected_txs_total counter"
    );
    for (reason, n) in m.rejected_txs() {
        let _ = writeln!(
            out,
            "aitbc_chain_rejected_txs_total{{reason=\"{reason}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP aitbc_chain_rejected_blocks_total Blocks from peers refused, by reason.\n# TYPE aitbc_chain_rejected_blocks_total counter"
    );
    for (reason, n) in m.rejected_blocks() {
        let _ = writeln!(
            out,
            "aitbc_chain_rejected_blocks_total{{reason=\"{reason}\"}} {n}"
        );
    }
    out
}
