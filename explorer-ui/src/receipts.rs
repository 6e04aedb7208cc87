//! The receipts page (`/explorer/receipts`): the job receipts anchored on chain (by receipt-anchor transactions and escrow releases), newest first, a page at a time (`?page=N`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Ago, Frame, grouped, short};

/// Receipts per page.
pub const PAGE: u32 = 25;

/// One anchored receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRow {
    pub receipt_hash: String,
    pub job_id: String,
    pub tx_hash: String,
    pub block_height: u64,
    pub anchored_by: String,
    pub timestamp_ms: u64,
}

/// One page of receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptsPage {
    pub page: u32,
    pub total: u64,
    pub receipts: Vec<ReceiptRow>,
}

#[server(prefix = "/ui")]
pub async fn fetch_receipts(page: u32) -> Result<ReceiptsPage, ServerFnError> {
    let node = crate::node()?;
    let (anchors, total) = node
        .store()
        .receipts(PAGE, u64::from(page) * u64::from(PAGE))
        .await
        .map_err(crate::failed)?;
    Ok(ReceiptsPage {
        page,
        total,
        receipts: anchors
            .into_iter()
            .map(|a| ReceiptRow {
                receipt_hash: a.receipt_hash.to_hex(),
                job_id: a.job_id,
                tx_hash: a.tx_hash.to_hex(),
                block_height: a.block_height,
                anchored_by: a.anchored_by.to_string(),
                timestamp_ms: a.timestamp_ms,
            })
            .collect(),
    })
}

/// The page.
#[component]
pub fn ReceiptsPage() -> impl IntoView {
    let page = crate::page_number();
    let receipts = Resource::new(move || page() as u32, fetch_receipts);
    view! {
        <Frame title="Receipts">
            <h1 class="text-2xl font-bold">"Job receipts on chain"</h1>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Reading the chain…"</p> }>
                {move || receipts.get().map(|result| match result {
                    Ok(page) => view! { <ReceiptList page /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn ReceiptList(page: ReceiptsPage) -> impl IntoView {
    let pages = page.total.div_ceil(u64::from(PAGE));
    let number = u64::from(page.page);
    if page.total == 0 {
        return view! {
            <p id="receipts-empty" class="mt-6 text-muted">
                "No job receipt has been anchored on this chain yet: they appear here when completed jobs are paid."
            </p>
        }
        .into_any();
    }
    let rows = page
        .receipts
        .into_iter()
        .map(|r| {
            view! {
                <tr class="border-b border-line/50" data-receipt=r.receipt_hash.clone()>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono" title=r.receipt_hash.clone()>{short(&r.receipt_hash)}</td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono" title=r.job_id.clone()>{short(&r.job_id)}</td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono">
                        <a class="underline" href=format!("/explorer/tx/{}", r.tx_hash)>{short(&r.tx_hash)}</a>
                    </td>
                    <td class="py-2 pr-4">
                        <a class="underline" href=format!("/explorer/block/{}", r.block_height)>{grouped(r.block_height)}</a>
                    </td>
                    <td class="py-2 pr-4"><AddressLink address=r.anchored_by /></td>
                    <td class="whitespace-nowrap py-2"><Ago ms=r.timestamp_ms /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="mt-1 text-sm text-muted">{format!("{} receipts anchored", grouped(page.total))}</p>
        <div class="mt-4 overflow-x-auto">
            <table id="receipts-list" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Receipt hash"</th>
                        <th class="py-2 pr-4 font-medium">"Job"</th>
                        <th class="py-2 pr-4 font-medium">"Transaction"</th>
                        <th class="py-2 pr-4 font-medium">"Block"</th>
                        <th class="py-2 pr-4 font-medium">"Anchored by"</th>
                        <th class="py-2 font-medium">"Time"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
<crate::Pager id="receipts" base="/explorer/receipts".to_owned() page=number pages />
    }
    .into_any()
}
