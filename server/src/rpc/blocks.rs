//! Block routes: the head, a block by height or hash, and a range of blocks (summaries for people, full blocks for syncing peers).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use types::Hash;

use super::{node_of, views::BlockView};
use crate::{
    ApiError, AppState,
    error::{ApiPath, ApiQuery},
};

/// The most blocks one range request returns.
const MAX_RANGE: u64 = 1_000;

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

/// `GET /rpc/head`.
pub async fn head(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let head = node.head().await;
    let block = node
        .store()
        .block_by_height(head.header.height)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound("head block".into()))?;
    let mut view = serde_json::to_value(BlockView::of(&block)).map_err(internal)?;
    view["total_weight"] = json!(head.total_weight);
    view["chain_id"] = json!(node.genesis().chain_id);
    Ok(Json(view))
}

/// `GET /rpc/blocks/{height}`.
pub async fn by_height(
    State(state): State<AppState>,
    ApiPath(height): ApiPath<String>,
) -> Result<Json<BlockView>, ApiError> {
    let node = node_of(&state)?;
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad("height", "a block height is a non-negative integer"))?;
    let block = node
        .store()
        .block_by_height(height)
        .await
        .map_err(internal)?;
    let head = node.head().await.header.height;
    let block = block
        .ok_or_else(|| ApiError::NotFound(format!("block {height} (the head is at {head})")))?;
    Ok(Json(BlockView::of(&block)))
}

/// `GET /rpc/blocks/hash/{hash}`.
pub async fn by_hash(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<BlockView>, ApiError> {
    let node = node_of(&state)?;
    let hash = Hash::from_hex(&hash)
        .ok_or_else(|| ApiError::bad("hash", "a hash is 64 hexadecimal digits"))?;
    let block = node
        .store()
        .block_by_hash(&hash)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("block {hash}")))?;
    Ok(Json(BlockView::of(&block)))
}

#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    start: u64,
    end: u64,
    /// Whole signed blocks with their transactions, as peers need them to verify.
    #[serde(default)]
    full: bool,
}

/// `GET /rpc/blocks-range?start=&end=[&full=true]`.
pub async fn range(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    if query.end < query.start {
        return Err(ApiError::bad("end", "must not be below start"));
    }
    let max = if query.full {
        chain::node::SYNC_BATCH
    } else {
        MAX_RANGE
    };
    if query.end - query.start >= max {
        return Err(ApiError::bad(
            "end",
            format!("at most {max} blocks per request"),
        ));
    }
    let blocks = node
        .store()
        .blocks_range(query.start, query.end)
        .await
        .map_err(internal)?;
    let count = blocks.len();
    let blocks = if query.full {
        serde_json::to_value(&blocks).map_err(internal)?
    } else {
        serde_json::to_value(blocks.iter().map(BlockView::of).collect::<Vec<_>>())
            .map_err(internal)?
    };
    Ok(Json(
        json!({ "blocks": blocks, "start": query.start, "end": query.end, "count": count }),
    ))
}
