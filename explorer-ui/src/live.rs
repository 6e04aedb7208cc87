//! The explorer's live part: blocks as the node announces them (its server-sent event feed), merged into what the page rendered, without reloading.

#[cfg(feature = "hydrate")]
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

#[cfg(feature = "ssr")]
impl BlockRow {
    pub fn of(block: &chain::store::BlockSummary) -> BlockRow {
        BlockRow {
            height: block.height,
            hash: block.hash.to_hex(),
            timestamp_ms: block.timestamp_ms,
            tx_count: block.tx_count as usize,
            proposer_address: types::Address::of(&block.proposer).to_string(),
        }
    }
}

/// Adds a block announced by the feed to the list, newest first, keeping [`crate::home::LATEST`].
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
    blocks.truncate(crate::home::LATEST as usize);
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
