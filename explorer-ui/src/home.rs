//! The explorer's home page (`/explorer/`): the head and the time since it was made, transactions per second lately, what waits in the mempool, and the latest blocks and transactions, rendered on the server and then kept live from the node's feed.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Ago, BlockRow, Frame, grouped, short};

/// One transaction as the home page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLine {
    pub hash: String,
    pub kind: String,
    pub from: String,
    /// Empty for a transaction without a recipient (a receipt anchor).
    pub to: String,
    pub amount: String,
    pub block_height: u64,
}

/// What the home page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub chain_id: String,
    /// Newest first; the first one is the head.
    pub blocks: Vec<BlockRow>,
    /// The latest included transactions, newest first.
    pub transactions: Vec<TxLine>,
    pub mempool_size: usize,
    /// Transactions included in the last `window_s` seconds.
    pub recent_txs: u64,
    pub window_s: u64,
}

impl Summary {
    /// Transactions per second over the window, as shown.
    pub fn tx_rate(&self) -> String {
        format!(
            "{:.2}",
            self.recent_txs as f64 / self.window_s.max(1) as f64
        )
    }
}

/// How many blocks and transactions the home page lists.
pub const LATEST: u64 = 10;

/// The window over which transactions per second are counted.
#[cfg(feature = "ssr")]
const RATE_WINDOW_MS: u64 = 300_000;

/// The chain as the home page shows it.
#[server(prefix = "/ui")]
pub async fn explorer_summary() -> Result<Summary, ServerFnError> {
    let node = crate::node()?;
    let mut summary = cached(&node).await?;
    summary.mempool_size = node.mempool_len().await;
    Ok(summary)
}

/// The summary changes only with the head (and, slowly, with the clock's effect on the rate
/// window), while every reader of the home page asks for it: it is computed once per head and
/// second, and the mempool count is read fresh each time.
#[cfg(feature = "ssr")]
async fn cached(node: &chain::Node) -> Result<Summary, ServerFnError> {
    use std::sync::Mutex;
    static LAST: Mutex<Option<(types::Hash, u64, Summary)>> = Mutex::new(None);
    let head = node.head().await.header;
    let key = head.hash();
    let now = now_ms();
    if let Ok(last) = LAST.lock()
        && let Some((hash, at, summary)) = last.as_ref()
        && *hash == key
        && now.saturating_sub(*at) < 1_000
    {
        return Ok(summary.clone());
    }
    let summary = compute(node, &head, now).await?;
    if let Ok(mut last) = LAST.lock() {
        *last = Some((key, now, summary.clone()));
    }
    Ok(summary)
}

#[cfg(feature = "ssr")]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(feature = "ssr")]
async fn compute(
    node: &chain::Node,
    head: &types::BlockHeader,
    now: u64,
) -> Result<Summary, ServerFnError> {
    let store = node.store();
    let genesis = node.genesis();
    let blocks = store
        .block_summaries(head.height.saturating_sub(LATEST - 1), head.height)
        .await
        .map_err(crate::failed)?
        .iter()
        .map(BlockRow::of)
        .collect();
    let (latest, _) = store
        .transactions(LATEST as u32, 0)
        .await
        .map_err(crate::failed)?;
    let transactions = latest
        .iter()
        .map(|stored| {
            let tx = &stored.tx.tx;
            TxLine {
                hash: stored.tx.hash().to_hex(),
                kind: tx.body.kind().into(),
                from: tx.sender_address().to_string(),
                to: tx
                    .body
                    .recipient()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                amount: tx.body.amount().to_grouped(),
                block_height: stored.block_height,
            }
        })
        .collect();
    // A young chain's rate is over its whole life, not over a window it has not lived yet.
    let window_ms = RATE_WINDOW_MS
        .min(now.saturating_sub(genesis.timestamp_ms))
        .max(1_000);
    let since = now.saturating_sub(window_ms);
    // Blocks come at most once per slot, which bounds how far back the window can reach.
    let from_height = head
        .height
        .saturating_sub(window_ms / genesis.params.block_time_ms.max(1) + 1);
    let recent_txs = store
        .txs_since(since, from_height)
        .await
        .map_err(crate::failed)?;
    Ok(Summary {
        chain_id: genesis.chain_id.clone(),
        blocks,
        transactions,
        mempool_size: 0,
        recent_txs,
        window_s: window_ms / 1_000,
    })
}

/// The page.
#[component]
pub fn ExplorerHome() -> impl IntoView {
    let summary = Resource::new(|| (), |_| explorer_summary());
    view! {
        <Frame title="Explorer">
            <h1 class="sr-only">"Explorer"</h1>
            <Suspense fallback=|| view! { <p class="text-muted">"Reading the chain…"</p> }>
                {move || {
                    summary
                        .get()
                        .map(|result| match result {
                            Ok(summary) => view! { <LiveHome summary /> }.into_any(),
                            Err(_) => view! { <crate::NoNode /> }.into_any(),
                        })
                }}
            </Suspense>
        </Frame>
    }
}

#[component]
fn LiveHome(summary: Summary) -> impl IntoView {
    let summary = RwSignal::new(summary);
    #[cfg(feature = "hydrate")]
    follow(summary);
    view! {
        <HeadCards summary />
        <div class="mt-8 grid gap-8 lg:grid-cols-2">
            <LatestBlocks summary />
            <LatestTransactions summary />
        </div>
    }
}

#[component]
fn HeadCards(summary: RwSignal<Summary>) -> impl IntoView {
    let head = move || summary.with(|s| s.blocks.first().cloned());
    let head_height = move || head().map(|b| grouped(b.height)).unwrap_or_default();
    let head_time = Signal::derive(move || head().map(|b| b.timestamp_ms).unwrap_or_default());
    let card = "rounded-lg border border-line bg-raised p-4";
    view! {
        <section id="explorer-head" class="grid grid-cols-2 gap-4 lg:grid-cols-4">
            <div class=card>
                <p class="text-xs uppercase text-muted">"Head"</p>
                <p id="head-height" class="mt-1 text-2xl font-semibold">{head_height}</p>
                <p id="head-age" class="text-xs text-muted">"last block " <Ago ms=head_time /></p>
            </div>
            <div class=card>
                <p class="text-xs uppercase text-muted">"Transactions / s"</p>
                <p id="tx-rate" class="mt-1 text-2xl font-semibold">{move || summary.with(Summary::tx_rate)}</p>
                <p class="text-xs text-muted">{move || format!("over the last {} s", summary.with(|s| s.window_s))}</p>
            </div>
            <div class=card>
                <p class="text-xs uppercase text-muted">"Pending"</p>
                <p id="pending-count" class="mt-1 text-2xl font-semibold">
                    <a href="/explorer/mempool">{move || grouped(summary.with(|s| s.mempool_size as u64))}</a>
                </p>
                <p class="text-xs text-muted">"transactions in the mempool"</p>
            </div>
            <div class=card>
                <p class="text-xs uppercase text-muted">"Chain"</p>
                <p class="mt-1 break-all font-mono">{move || summary.with(|s| s.chain_id.clone())}</p>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn LatestBlocks(summary: RwSignal<Summary>) -> impl IntoView {
    view! {
        <section class="min-w-0">
            <h2 class="text-lg font-semibold">"Latest blocks"</h2>
            <div class="mt-2 overflow-x-auto">
                <table id="latest-blocks" class="w-full text-left text-sm">
                    <thead class="border-b border-line text-muted">
                        <tr>
                            <th class="py-2 pr-4 font-medium">"Height"</th>
                            <th class="py-2 pr-4 font-medium">"Hash"</th>
                            <th class="py-2 pr-4 font-medium">"Txs"</th>
                            <th class="py-2 pr-4 font-medium">"Proposer"</th>
                            <th class="py-2 font-medium">"Time"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || summary.with(|s| s.blocks.clone()) key=|b| b.hash.clone() let:block>
                            <tr class="border-b border-line/50" data-height=block.height>
                                <td class="py-2 pr-4">
                                    <a class="underline" href=format!("/explorer/block/{}", block.height)>{grouped(block.height)}</a>
                                </td>
                                <td class="whitespace-nowrap py-2 pr-4 font-mono" title=block.hash.clone()>{short(&block.hash)}</td>
                                <td class="py-2 pr-4">{block.tx_count}</td>
                                <td class="py-2 pr-4"><AddressLink address=block.proposer_address.clone() /></td>
                                <td class="whitespace-nowrap py-2"><Ago ms=block.timestamp_ms /></td>
                            </tr>
                        </For>
                    </tbody>
                </table>
            </div>
            <a class="mt-2 inline-block text-sm underline" href="/explorer/blocks">"All blocks →"</a>
        </section>
    }
    .into_any()
}

#[component]
fn LatestTransactions(summary: RwSignal<Summary>) -> impl IntoView {
    view! {
        <section class="min-w-0">
            <h2 class="text-lg font-semibold">"Latest transactions"</h2>
            <div class="mt-2 overflow-x-auto">
                <table id="latest-transactions" class="w-full text-left text-sm">
                    <thead class="border-b border-line text-muted">
                        <tr>
                            <th class="py-2 pr-4 font-medium">"Hash"</th>
                            <th class="py-2 pr-4 font-medium">"From"</th>
                            <th class="py-2 pr-4 font-medium">"To"</th>
                            <th class="py-2 pr-4 text-right font-medium">"AITBC"</th>
                            <th class="py-2 font-medium">"Block"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || summary.with(|s| s.transactions.clone()) key=|t| t.hash.clone() let:tx>
                            <tr class="border-b border-line/50" data-tx=tx.hash.clone()>
                                <td class="whitespace-nowrap py-2 pr-4 font-mono">
                                    <a class="underline" href=format!("/explorer/tx/{}", tx.hash) title=tx.kind.clone()>{short(&tx.hash)}</a>
                                </td>
                                <td class="py-2 pr-4"><AddressLink address=tx.from.clone() /></td>
                                <td class="py-2 pr-4"><AddressLink address=tx.to.clone() /></td>
                                <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{tx.amount.clone()}</td>
                                <td class="py-2">
                                    <a class="underline" href=format!("/explorer/block/{}", tx.block_height)>{grouped(tx.block_height)}</a>
                                </td>
                            </tr>
                        </For>
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

/// Keeps the summary current: a block the feed announces is listed at once, then the rest (its
/// transactions, the rate, the mempool) is read again from the server.
#[cfg(feature = "hydrate")]
fn follow(summary: RwSignal<Summary>) {
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = explorer_summary().await {
                summary.update(|current| {
                    let mut blocks = std::mem::take(&mut current.blocks);
                    for block in fresh.blocks.iter().rev() {
                        crate::push_block(&mut blocks, block.clone());
                    }
                    *current = Summary { blocks, ..fresh };
                });
            }
        });
    };
    crate::live::on_feed(move |event| {
        if let Some(block) = event {
            summary.update(|s| crate::push_block(&mut s.blocks, block));
        }
        // After every block, and on (re)connecting: blocks made while the feed was not
        // connected were not announced.
        refresh();
    });
}
