//! The blocks list (`/explorer/blocks`): every block, newest first, a page at a time; `?before=HEIGHT` pages back, and the links work without WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Ago, BlockRow, Frame, grouped, short};

/// Blocks per page.
pub const PAGE: u64 = 25;

/// One page of blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksPage {
    pub head: u64,
    /// Newest first.
    pub blocks: Vec<BlockRow>,
}

/// The [`PAGE`] blocks below `before` (from the head when absent).
#[server(prefix = "/ui")]
pub async fn fetch_blocks(before: Option<u64>) -> Result<BlocksPage, ServerFnError> {
    let node = crate::node()?;
    let head = node.head().await.header.height;
    let top = before.map_or(head, |b| b.saturating_sub(1).min(head));
    let blocks = if before == Some(0) {
        Vec::new()
    } else {
        node.store()
            .block_summaries(top.saturating_sub(PAGE - 1), top)
            .await
            .map_err(crate::failed)?
            .iter()
            .map(BlockRow::of)
            .collect()
    };
    Ok(BlocksPage { head, blocks })
}

/// The page.
#[component]
pub fn BlocksPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || {
        query.with(|q| {
            q.get("before")
                .and_then(|b| b.replace(',', "").parse::<u64>().ok())
        })
    };
    let page = Resource::new(before, fetch_blocks);
    view! {
        <Frame title="Blocks">
            <h1 class="text-2xl font-bold">"Blocks"</h1>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Reading the chain…"</p> }>
                {move || page.get().map(|result| match result {
                    Ok(page) => view! { <BlockList page /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn BlockList(page: BlocksPage) -> impl IntoView {
    let newest = page.blocks.first().map(|b| b.height);
    let oldest = page.blocks.last().map(|b| b.height);
    let newer = newest.filter(|&n| n < page.head).map(|n| {
        let href = if n + PAGE >= page.head {
            "/explorer/blocks".to_owned()
        } else {
            format!("/explorer/blocks?before={}", n + PAGE + 1)
        };
        view! { <a id="blocks-newer" class="underline" href=href>"← Newer"</a> }
    });
    let older = oldest
        .filter(|&o| o > 0)
        .map(|o| view! { <a id="blocks-older" class="underline" href=format!("/explorer/blocks?before={o}")>"Older →"</a> });
    let range = match (oldest, newest) {
        (Some(o), Some(n)) => format!(
            "Blocks {} to {} of {}",
            grouped(o),
            grouped(n),
            grouped(page.head + 1)
        ),
        _ => "No blocks here".to_owned(),
    };
    let rows = page
        .blocks
        .into_iter()
        .map(|block| {
            view! {
                <tr class="border-b border-line/50" data-height=block.height>
                    <td class="py-2 pr-4">
                        <a class="underline" href=format!("/explorer/block/{}", block.height)>{grouped(block.height)}</a>
                    </td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono" title=block.hash.clone()>{short(&block.hash)}</td>
                    <td class="py-2 pr-4 text-right tabular-nums">{block.tx_count}</td>
                    <td class="py-2 pr-4"><AddressLink address=block.proposer_address.clone() /></td>
                    <td class="whitespace-nowrap py-2"><Ago ms=block.timestamp_ms /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p id="blocks-range" class="mt-1 text-sm text-muted">{range}</p>
        <div class="mt-4 overflow-x-auto">
            <table id="blocks-list" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Height"</th>
                        <th class="py-2 pr-4 font-medium">"Hash"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Transactions"</th>
                        <th class="py-2 pr-4 font-medium">"Proposer"</th>
                        <th class="py-2 font-medium">"Time"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="mt-4 flex justify-between text-sm" aria-label="Pages">
            <span>{newer}</span>
            <span>{older}</span>
        </nav>
    }
}
