//! The chain node's RPC under `/rpc/`: the earlier system's routes and JSON field names (head, blocks, blocks-range, tx, transactions, getBalance, address, sendTx, estimateFee, importBlock, syncStatus) made real, plus mempool, transaction status, proofs and metrics. Wire types live here and are converted from the chain's own types explicitly.

mod accounts;
mod blocks;
mod faucet;
mod feed;
mod node;
mod receipts;
mod transactions;
mod views;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use chain::Node;

pub(crate) use accounts::overview;
pub use faucet::Faucet;
pub use node::chain_metrics;
pub(crate) use views::Page;
pub use views::rfc3339;

use crate::{ApiError, AppState};

/// The node behind the RPC, or a 503 when this server runs none.
pub fn node_of(state: &AppState) -> Result<&Node, ApiError> {
    state.node.as_ref().ok_or_else(|| {
        ApiError::refused(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no_node",
            "this server runs no chain node",
        )
    })
}

/// The largest request body of any RPC route but block import: a transaction is at most a few
/// kilobytes of JSON.
const BODY_LIMIT: usize = 64 * 1024;
/// The largest block a peer may push.
const IMPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The OpenAPI description of every route below; a test keeps the two in step.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Every RPC route; mounted under `/rpc`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/head", get(blocks::head))
        .route("/blocks/{height}", get(blocks::by_height))
        .route("/blocks/hash/{hash}", get(blocks::by_hash))
        .route("/blocks-range", get(blocks::range))
        .route("/tx/{hash}", get(transactions::by_hash))
        .route("/tx/{hash}/proof", get(transactions::proof))
        .route("/transactions", get(transactions::list))
        .route("/mempool", get(transactions::mempool))
        .route("/sendTx", post(transactions::send))
        .route("/estimateFee", post(transactions::estimate_fee))
        .route("/getBalance/{address}", get(accounts::balance))
        .route("/address/{address}", get(accounts::address))
        .route("/address/{address}/history.csv", get(accounts::history_csv))
        .route("/addresses", get(accounts::addresses))
        .route("/accounts/{address}/proof", get(accounts::proof))
        // A full block in JSON is several times its encoded size (4 MiB by default).
        .route(
            "/importBlock",
            post(node::import_block).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/syncStatus", get(node::sync_status))
        .route("/metrics", get(node::metrics))
        .route("/stream", get(feed::stream))
        .route("/faucet", post(faucet::request))
        .route("/receipts", get(receipts::list))
        .route("/receipts/{receipt_hash}", get(receipts::by_hash))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .fallback(crate::api::route_not_found)
        .method_not_allowed_fallback(crate::api::method_not_allowed)
}
