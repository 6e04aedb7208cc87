//! `GET /rpc/stream`: a live feed of new blocks and newly admitted transactions as server-sent events, so explorers update without polling.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use chain::Event;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::{
    node_of,
    views::{BlockView, TxStatus, TxView},
};
use crate::{ApiError, AppState};

/// Handler: `event: block` with a block summary, `event: transaction` with a pending transaction.
pub async fn stream(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let node = node_of(&state)?;
    let events = node.subscribe();
    let stream = futures::stream::unfold(events, |mut events| async move {
        loop {
            let event = match events.recv().await {
                Ok(Event::Block(block)) => SseEvent::default()
                    .event("block")
                    .json_data(BlockView::of(&block)),
                Ok(Event::Transaction(tx)) => SseEvent::default()
                    .event("transaction")
                    .json_data(TxView::of(&tx, TxStatus::Pending, None, None)),
                // A slow reader misses events rather than slowing the node; it can refetch.
                Err(RecvError::Lagged(missed)) => {
                    Ok(SseEvent::default().event("lagged").data(missed.to_string()))
                }
                Err(RecvError::Closed) => return None,
            };
            if let Ok(event) = event {
                return Some((Ok(event), events));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
