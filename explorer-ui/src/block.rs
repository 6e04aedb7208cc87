//! The block page (`/explorer/block/{height}`): the header's fields, its proposer, its transactions, and links to its parent and child.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// One transaction row of a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRow {
    pub hash: String,
    pub from: String,
    pub to: String,
    pub amount: String,
    pub fee: String,
}

/// What the block page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    pub height: u64,
    pub hash: String,
    pub parent_hash: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub proposer_address: String,
    pub tx_root: String,
    pub state_root: String,
    pub signature: String,
    pub transactions: Vec<TxRow>,
    pub has_child: bool,
}

/// The block at `height`, if the chain has one.
#[server(prefix = "/ui")]
pub async fn fetch_block(height: u64) -> Result<Option<BlockInfo>, ServerFnError> {
    use types::Address;
    let node = use_context::<chain::Node>()
        .ok_or_else(|| ServerFnError::new("this server runs no chain node"))?;
    let block = node
        .store()
        .block_by_height(height)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let head = node.head().await.header.height;
    Ok(block.map(|b| BlockInfo {
        height: b.header.height,
        hash: b.hash().to_hex(),
        parent_hash: b.header.parent_hash.to_hex(),
        timestamp_ms: b.header.timestamp_ms,
        proposer: b.header.proposer.to_hex(),
        proposer_address: Address::of(&b.header.proposer).to_string(),
        tx_root: b.header.tx_root.to_hex(),
        state_root: b.header.state_root.to_hex(),
        signature: b.signature.to_hex(),
        transactions: b
            .transactions
            .iter()
            .map(|t| TxRow {
                hash: t.hash().to_hex(),
                from: t.tx.sender_address().to_string(),
                to: t
                    .tx
                    .body
                    .recipient()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                amount: t.tx.body.amount().to_grouped(),
                fee: t.tx.fee.to_grouped(),
            })
            .collect(),
        has_child: b.header.height < head,
    }))
}

/// The page.
#[component]
pub fn BlockPage() -> impl IntoView {
    let params = use_params_map();
    let height = move || {
        params.with(|p| {
            p.get("height")
                .and_then(|h| h.replace(',', "").parse::<u64>().ok())
        })
    };
    let block = Resource::new(height, |height| async move {
        match height {
            Some(height) => fetch_block(height).await,
            None => Ok(None),
        }
    });
    view! {
        <crate::Frame title="Block">
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Looking it up…"</p> }>
                {move || block.get().map(|result| match result {
                    Ok(Some(block)) => view! { <BlockView block /> }.into_any(),
                    Ok(None) => view! { <h1 class="text-2xl font-bold">"Block"</h1><crate::NotFound what="block" /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </crate::Frame>
    }
}

#[component]
fn BlockView(block: BlockInfo) -> impl IntoView {
    let parent = (block.height > 0).then(|| {
        view! { <a id="block-parent" class="underline" href=format!("/explorer/block/{}", block.height - 1)>"← parent"</a> }
    });
    let child = block.has_child.then(|| {
        view! { <a id="block-child" class="underline" href=format!("/explorer/block/{}", block.height + 1)>"child →"</a> }
    });
    let rows = block
        .transactions
        .iter()
        .map(|t| {
            view! {
                <tr class="border-b border-line/50">
                    <td class="whitespace-nowrap py-2 pr-4 font-mono"><a class="underline" href=format!("/explorer/tx/{}", t.hash)>{crate::short(&t.hash)}</a></td>
                    <td class="py-2 pr-4"><crate::AddressLink address=t.from.clone() /></td>
                    <td class="py-2 pr-4"><crate::AddressLink address=t.to.clone() /></td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{t.amount.clone()}</td>
                    <td class="whitespace-nowrap py-2 text-right tabular-nums">{t.fee.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1 class="text-2xl font-bold">"Block " <span id="block-height">{crate::grouped(block.height)}</span></h1>
        <nav class="mt-2 flex gap-4 text-sm">{parent}{child}</nav>
        <dl id="block-detail" class="mt-6 grid grid-cols-[8rem_1fr] gap-x-4 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
            <dt class="text-muted">"Hash"</dt><dd class="break-all font-mono">{block.hash.clone()} <crate::Copy text=block.hash.clone() /></dd>
            <dt class="text-muted">"Parent"</dt><dd class="break-all font-mono">{block.parent_hash.clone()}</dd>
            <dt class="text-muted">"Time"</dt><dd>{format!("{} UTC", crate::utc(block.timestamp_ms))} " (" <crate::Ago ms=block.timestamp_ms /> ")"</dd>
            <dt class="text-muted">"Proposer"</dt>
            <dd class="break-all font-mono"><a class="underline" href=format!("/explorer/address/{}", block.proposer_address)>{block.proposer_address.clone()}</a> <crate::Copy text=block.proposer_address.clone() /></dd>
            <dt class="text-muted">"Transactions root"</dt><dd class="break-all font-mono">{block.tx_root.clone()}</dd>
            <dt class="text-muted">"State root"</dt><dd class="break-all font-mono">{block.state_root.clone()}</dd>
            <dt class="text-muted">"Signature"</dt><dd class="break-all font-mono">{block.signature.clone()}</dd>
        </dl>
        <h2 class="mt-8 text-lg font-semibold">{format!("Transactions ({})", block.transactions.len())}</h2>
        <div class="mt-2 overflow-x-auto">
            <table id="block-transactions" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Hash"</th>
                        <th class="py-2 pr-4 font-medium">"From"</th>
                        <th class="py-2 pr-4 font-medium">"To"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Amount (AITBC)"</th>
                        <th class="py-2 text-right font-medium">"Fee (AITBC)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
