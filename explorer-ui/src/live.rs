//! The explorer home's data: the latest blocks from the node through a server function when the page renders, then new ones as the node announces them (its server-sent event feed), without reloading.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One block as the explorer lists it; the same fields as the RPC's block view, so feed events
/// parse into it directly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRow {
    pub height: u64,
    pub hash: String,
    pub timestamp_ms: u64,
    pub tx_count: usize,
    pub proposer_address: String,
}

/// What the home page shows first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub chain_id: String,
    /// Newest first; the first one is the head.
    pub blocks: Vec<BlockRow>,
    pub mempool_size: usize,
}

/// How many blocks the home page lists.
pub const LATEST: u64 = 10;

/// The chain's latest blocks, read from the node this server runs.
#[server(prefix = "/ui")]
pub async fn explorer_summary() -> Result<Summary, ServerFnError> {
    use types::Address;
    let node = use_context::<chain::Node>()
        .ok_or_else(|| ServerFnError::new("this server runs no chain node"))?;
    let head = node.head().await.header.height;
    let blocks = node
        .store()
        .blocks_range(head.saturating_sub(LATEST - 1), head)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let rows = blocks
        .iter()
        .rev()
        .map(|b| BlockRow {
            height: b.header.height,
            hash: b.hash().to_hex(),
            timestamp_ms: b.header.timestamp_ms,
            tx_count: b.transactions.len(),
            proposer_address: Address::of(&b.header.proposer).to_string(),
        })
        .collect();
    Ok(Summary {
        chain_id: node.genesis().chain_id.clone(),
        blocks: rows,
        mempool_size: node.mempool_len().await,
    })
}

/// Adds a block announced by the feed to the list, newest first, keeping [`LATEST`].
pub fn push_block(blocks: &mut Vec<BlockRow>, block: BlockRow) {
    if blocks
        .iter()
        .any(|b| b.height >= block.height && b.hash == block.hash)
    {
        return;
    }
    // A reorganization replaces blocks at the same or greater heights.
    blocks.retain(|b| b.height < block.height);
    blocks.insert(0, block);
    blocks.truncate(LATEST as usize);
}

/// Keeps `blocks` up to date from the node's feed for as long as the calling component lives.
#[cfg(feature = "hydrate")]
pub fn follow_blocks(blocks: RwSignal<Vec<BlockRow>>) {
    on_feed(move |event| match event {
        Some(block) => blocks.update(|list| push_block(list, block)),
        // (Re)connected: blocks made since the page was rendered were not announced to us.
        None => leptos::task::spawn_local(async move {
            if let Ok(summary) = explorer_summary().await {
                blocks.update(|list| {
                    for block in summary.blocks.into_iter().rev() {
                        push_block(list, block);
                    }
                });
            }
        }),
    });
}

/// Calls `then` with every block the node announces (`Some`), and with `None` whenever the feed
/// (re)connects, since blocks made while it was not connected were missed; for as long as the
/// calling component lives.
#[cfg(feature = "hydrate")]
pub fn on_feed(then: impl Fn(Option<BlockRow>) + 'static) {
    use std::rc::Rc;

    use wasm_bindgen::{JsCast, closure::Closure};
    let Ok(source) = web_sys::EventSource::new("/rpc/stream") else {
        return;
    };
    let then = Rc::new(then);
    let on_block = {
        let then = then.clone();
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(data) = event.data().as_string() else {
                return;
            };
            if let Ok(block) = serde_json::from_str::<BlockRow>(&data) {
                then(Some(block));
            }
        })
    };
    let on_open = Closure::<dyn Fn(web_sys::Event)>::new(move |_: web_sys::Event| then(None));
    let _ = source.add_event_listener_with_callback("block", on_block.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
    let source = send_wrapper::SendWrapper::new((source, on_block, on_open));
    on_cleanup(move || source.0.close());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(height: u64, hash: &str) -> BlockRow {
        BlockRow {
            height,
            hash: hash.into(),
            timestamp_ms: 0,
            tx_count: 0,
            proposer_address: String::new(),
        }
    }

    #[test]
    fn new_blocks_go_first_reorgs_replace_and_the_list_stays_short() {
        let mut list: Vec<BlockRow> = (1..=10).rev().map(|h| row(h, "a")).collect();
        push_block(&mut list, row(11, "a"));
        assert_eq!(
            list.iter().map(|b| b.height).collect::<Vec<_>>(),
            (2..=11).rev().collect::<Vec<_>>()
        );
        push_block(&mut list, row(11, "a"));
        assert_eq!(list.len(), 10, "a repeated announcement is ignored");
        push_block(&mut list, row(10, "b"));
        assert_eq!(
            list[0],
            row(10, "b"),
            "a competing block replaces the ones at and above its height"
        );
        assert!(list.iter().all(|b| b.height <= 10));
    }
}
