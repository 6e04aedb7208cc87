//! The mempool page (`/explorer/mempool`): what waits to be included, in the order the next blocks will take it, refreshed after every block.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Frame, grouped, short};

/// How many waiting transactions the page lists.
pub const SHOWN: usize = 100;

/// One waiting transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRow {
    pub hash: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub amount: String,
    pub fee: String,
    pub nonce: u64,
}

/// What the mempool holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MempoolView {
    pub count: usize,
    pub senders: usize,
    pub total_fees: String,
    /// How many transactions fit in one block.
    pub block_capacity: u32,
    /// The first [`SHOWN`], in inclusion order.
    pub transactions: Vec<PendingRow>,
}

#[server(prefix = "/ui")]
pub async fn fetch_mempool() -> Result<MempoolView, ServerFnError> {
    let node = crate::node()?;
    let pending = node.pending().await;
    let senders: std::collections::BTreeSet<_> =
        pending.iter().map(|t| t.tx.sender_address()).collect();
    let total_fees = pending.iter().fold(types::Amount::ZERO, |sum, t| {
        sum.checked_add(t.tx.fee).unwrap_or(sum)
    });
    Ok(MempoolView {
        count: pending.len(),
        senders: senders.len(),
        total_fees: total_fees.to_grouped(),
        block_capacity: node.genesis().params.max_block_txs,
        transactions: pending
            .iter()
            .take(SHOWN)
            .map(|t| PendingRow {
                hash: t.hash().to_hex(),
                kind: t.tx.body.kind().into(),
                from: t.tx.sender_address().to_string(),
                to: t
                    .tx
                    .body
                    .recipient()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                amount: t.tx.body.amount().to_grouped(),
                fee: t.tx.fee.to_grouped(),
                nonce: t.tx.nonce,
            })
            .collect(),
    })
}

/// The page.
#[component]
pub fn MempoolPage() -> impl IntoView {
    let blocks_seen = RwSignal::new(0u64);
    let view_of = Resource::new(move || blocks_seen.get(), |_| fetch_mempool());
    #[cfg(feature = "hydrate")]
    crate::live::on_feed(move |_| blocks_seen.update(|n| *n += 1));
    view! {
        <Frame title="Mempool">
            <h1 class="text-2xl font-bold">"Mempool"</h1>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Reading the mempool…"</p> }>
                {move || view_of.get().map(|result| match result {
                    Ok(pool) => view! { <PoolView pool /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn PoolView(pool: MempoolView) -> impl IntoView {
    let blocks_needed = pool.count.div_ceil(pool.block_capacity.max(1) as usize);
    let rows = pool
        .transactions
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            view! {
                <tr class="border-b border-line/50">
                    <td class="py-2 pr-4 text-muted tabular-nums">{i + 1}</td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono">
                        <a class="underline" href=format!("/explorer/tx/{}", t.hash) title=t.kind.clone()>{short(&t.hash)}</a>
                    </td>
                    <td class="py-2 pr-4"><AddressLink address=t.from /></td>
                    <td class="py-2 pr-4"><AddressLink address=t.to /></td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{t.amount}</td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{t.fee}</td>
                    <td class="py-2 text-right tabular-nums">{t.nonce}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <dl id="mempool-summary" class="mt-4 grid grid-cols-2 gap-4 text-sm sm:grid-cols-4">
            <div><dt class="text-muted">"Waiting"</dt><dd id="mempool-count" class="text-xl font-semibold">{grouped(pool.count as u64)}</dd></div>
            <div><dt class="text-muted">"Senders"</dt><dd class="text-xl font-semibold">{grouped(pool.senders as u64)}</dd></div>
            <div><dt class="text-muted">"Fees offered"</dt><dd class="text-xl font-semibold">{pool.total_fees} " AITBC"</dd></div>
            <div><dt class="text-muted">"Blocks to clear"</dt><dd class="text-xl font-semibold">{blocks_needed}</dd></div>
        </dl>
        {(pool.count == 0).then(|| view! {
            <p id="mempool-empty" class="mt-6 text-muted">"Nothing is waiting: every transaction the node admitted is in a block."</p>
        })}
        {(pool.count > SHOWN).then(|| view! {
            <p class="mt-6 text-sm text-muted">{format!("The first {SHOWN} in the order blocks will take them.")}</p>
        })}
        <div class="mt-4 overflow-x-auto">
            <table id="mempool-list" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"#"</th>
                        <th class="py-2 pr-4 font-medium">"Hash"</th>
                        <th class="py-2 pr-4 font-medium">"From"</th>
                        <th class="py-2 pr-4 font-medium">"To"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Amount (AITBC)"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Fee"</th>
                        <th class="py-2 text-right font-medium">"Nonce"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
