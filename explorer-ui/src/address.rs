//! The address page (`/explorer/address/{address}`): balance, nonce and history, and the balance checked in the browser against the signed head block's state root.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use types::{Address, Amount, Block, MerkleProof};

/// One line of an address's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub hash: String,
    pub sent: bool,
    pub counterparty: String,
    pub amount: String,
    pub fee: String,
    pub block_height: u64,
}

/// What the address page shows, and what the browser needs to check the balance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddressInfo {
    pub address: String,
    pub balance: Amount,
    pub nonce: u64,
    pub sent: u64,
    pub received: u64,
    pub history: Vec<HistoryRow>,
    /// The head block (without transactions) and the account's path to its state root; absent
    /// for an address the chain has never seen.
    pub head: Option<Block>,
    pub proof: Option<MerkleProof>,
}

/// How many history lines a page shows.
const PAGE: u32 = 25;

/// The account at `address` and the latest page of its history.
#[server(prefix = "/ui")]
pub async fn fetch_address(address: String) -> Result<Option<AddressInfo>, ServerFnError> {
    let node = use_context::<chain::Node>()
        .ok_or_else(|| ServerFnError::new("this server runs no chain node"))?;
    let Ok(address) = Address::parse(&address) else {
        return Ok(None);
    };
    let failed = |e: chain::store::StoreError| ServerFnError::new(e.to_string());
    // The state and the head are read one after the other; a block in between makes them
    // disagree, and then we read again.
    let (state, head) = loop {
        let state = node.state().await;
        let head = node.head().await;
        if state.root() == head.header.state_root {
            break (state, head);
        }
    };
    let head_block = node
        .store()
        .block_by_height(head.header.height)
        .await
        .map_err(failed)?;
    let account = state.account(&address);
    let history = node
        .store()
        .history(&address, PAGE, 0)
        .await
        .map_err(failed)?;
    let rows = history
        .transactions
        .iter()
        .map(|stored| {
            let sent = stored.tx.tx.sender_address() == address;
            let counterparty = if sent {
                stored
                    .tx
                    .tx
                    .body
                    .recipient()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            } else {
                stored.tx.tx.sender_address().to_string()
            };
            HistoryRow {
                hash: stored.tx.hash().to_hex(),
                sent,
                counterparty,
                amount: stored.tx.tx.body.amount().to_grouped(),
                fee: stored.tx.tx.fee.to_grouped(),
                block_height: stored.block_height,
            }
        })
        .collect();
    Ok(Some(AddressInfo {
        address: address.to_string(),
        balance: account.balance,
        nonce: account.nonce,
        sent: history.sent,
        received: history.received,
        history: rows,
        proof: state.proof(&address),
        head: head_block.map(|b| Block {
            transactions: Vec::new(),
            ..b
        }),
    }))
}

/// Checks `balance` and `nonce` of `address` against the head's state root, and the head's
/// signature.
pub fn check_balance(
    address: &Address,
    balance: Amount,
    nonce: u64,
    head: &Block,
    proof: &MerkleProof,
) -> crate::tx::Check {
    use crate::tx::Check;
    if head.verify_signature().is_err() && head.header.height > 0 {
        return Check::Failed("the head block's signature does not verify");
    }
    if !proof.verify(
        &types::account_leaf(address, balance, nonce),
        &head.header.state_root,
    ) {
        return Check::Failed("the balance does not match the block's state root");
    }
    Check::Verified
}

/// The page.
#[component]
pub fn AddressPage() -> impl IntoView {
    let params = use_params_map();
    let address = move || params.with(|p| p.get("address").unwrap_or_default());
    let info = Resource::new(address, fetch_address);
    view! {
        <Title text="Address" />
        <h1 class="text-2xl font-bold">"Address"</h1>
        <p class="mt-1 break-all font-mono text-sm text-muted">{address}</p>
        <Suspense fallback=|| view! { <p class="mt-6 text-muted">"Looking it up…"</p> }>
            {move || info.get().map(|result| match result {
                Ok(Some(info)) => view! { <AddressView info /> }.into_any(),
                Ok(None) => view! { <crate::NotFound what="address" /> }.into_any(),
                Err(_) => view! { <crate::NoNode /> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn AddressView(info: AddressInfo) -> impl IntoView {
    use crate::tx::Check;
    let check = RwSignal::new(None::<Check>);
    let query = use_query_map();
    let to_check = info.clone();
    // In the browser only: the page's balance is believed once it matches the signed root.
    Effect::new(move |_| {
        let (Some(head), Some(proof), Ok(address)) = (
            &to_check.head,
            &to_check.proof,
            Address::parse(&to_check.address),
        ) else {
            return;
        };
        let mut balance = to_check.balance;
        // Test hook: `?tamper=balance` claims one base unit more than the chain holds.
        if query.with_untracked(|q| q.get("tamper").as_deref() == Some("balance")) {
            balance = Amount(balance.0 + 1);
        }
        check.set(Some(check_balance(
            &address,
            balance,
            to_check.nonce,
            head,
            proof,
        )));
    });
    let rows = info
        .history
        .iter()
        .map(|row| {
            view! {
                <tr class="border-b border-line/50" data-direction=if row.sent { "sent" } else { "received" }>
                    <td class="py-2 pr-4 font-mono"><a class="underline" href=format!("/explorer/tx/{}", row.hash)>{crate::short(&row.hash)}</a></td>
                    <td class="py-2 pr-4">{if row.sent { "sent to" } else { "received from" }}</td>
                    <td class="py-2 pr-4 font-mono">{crate::short(&row.counterparty)}</td>
                    <td class="py-2 pr-4">{row.amount.clone()}</td>
                    <td class="py-2 pr-4">{row.fee.clone()}</td>
                    <td class="py-2"><a class="underline" href=format!("/explorer/block/{}", row.block_height)>{row.block_height}</a></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <dl id="address-detail" class="mt-6 grid grid-cols-[10rem_1fr] gap-x-4 gap-y-2 text-sm">
            <dt class="text-muted">"Balance"</dt>
            <dd id="address-balance">{info.balance.to_grouped()} " AITBC"</dd>
            <dt class="text-muted">"Nonce"</dt>
            <dd>{info.nonce}</dd>
            <dt class="text-muted">"Sent / received"</dt>
            <dd>{info.sent} " / " {info.received}</dd>
            <dt class="text-muted">"Balance proof"</dt>
            <dd id="address-proof">
                {move || match check.get() {
                    Some(Check::Verified) => view! { <span data-proof="verified" class="text-green-600">"verified locally against the head block"</span> }.into_any(),
                    Some(Check::Failed(why)) => view! { <span data-proof="failed" class="text-red-600">"verification failed: " {why}</span> }.into_any(),
                    None => view! { <span data-proof="none" class="text-muted">"no account on chain yet"</span> }.into_any(),
                }}
            </dd>
        </dl>
        <h2 class="mt-8 text-lg font-semibold">"History"</h2>
        <div class="mt-2 overflow-x-auto">
            <table id="address-history" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Transaction"</th>
                        <th class="py-2 pr-4 font-medium">"Direction"</th>
                        <th class="py-2 pr-4 font-medium">"Counterparty"</th>
                        <th class="py-2 pr-4 font-medium">"Amount (AITBC)"</th>
                        <th class="py-2 pr-4 font-medium">"Fee (AITBC)"</th>
                        <th class="py-2 font-medium">"Block"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
