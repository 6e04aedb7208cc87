//! The address page (`/explorer/address/{address}`): balance, nonce, a chart of the balance over time, the history a page at a time (`?page=N`) with a CSV export of all of it, and the balance checked in the browser against the signed head block's state root.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use types::{Address, Amount, Block, MerkleProof};

use crate::{AddressLink, Copy, Frame, grouped};

/// One line of an address's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub hash: String,
    pub sent: bool,
    pub counterparty: String,
    pub amount: String,
    pub fee: String,
    pub block_height: u64,
    pub timestamp_ms: u64,
}

/// What the address page shows, and what the browser needs to check the balance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddressInfo {
    pub address: String,
    pub balance: Amount,
    pub nonce: u64,
    pub sent: u64,
    pub received: u64,
    /// Transactions it took part in, in all.
    pub total: u64,
    /// Which page of the history this is (0: the newest).
    pub page: u32,
    pub history: Vec<HistoryRow>,
    /// `(timestamp_ms, balance)` after each of its latest balance changes, oldest first.
    pub balance_series: Vec<(u64, u64)>,
    /// The head block (without transactions) and the account's path to its state root; absent
    /// for an address the chain has never seen.
    pub head: Option<Block>,
    pub proof: Option<MerkleProof>,
}

/// How many history lines a page shows.
const PAGE: u32 = 25;

/// How many balance changes the chart shows at most.
#[cfg(feature = "ssr")]
const CHART_POINTS: u32 = 500;

/// The balance after each change, oldest first: `changes` are `(timestamp_ms, balance before)`
/// of the blocks that touched the account, oldest first, and `current` is its balance now. A
/// change that left the balance as it was (a block that only touched the account) is dropped.
pub fn balance_series(changes: &[(u64, Amount)], current: Amount) -> Vec<(u64, u64)> {
    let mut series: Vec<(u64, u64)> = Vec::with_capacity(changes.len());
    for (i, (timestamp_ms, before)) in changes.iter().enumerate() {
        let after = changes.get(i + 1).map_or(current, |next| next.1);
        if after != *before {
            series.push((*timestamp_ms, after.0));
        }
    }
    series
}

/// The account at `address` and page `page` of its history (0: the newest).
#[server(prefix = "/ui")]
pub async fn fetch_address(
    address: String,
    page: u32,
) -> Result<Option<AddressInfo>, ServerFnError> {
    let node = crate::node()?;
    let Ok(address) = Address::parse(&address) else {
        return Ok(None);
    };
    let failed = crate::failed;
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
        .history(&address, PAGE, u64::from(page) * u64::from(PAGE))
        .await
        .map_err(failed)?;
    let changes: Vec<(u64, Amount)> = node
        .store()
        .balance_changes(&address, CHART_POINTS)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|c| (c.timestamp_ms, c.before))
        .collect();
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
                timestamp_ms: stored.timestamp_ms,
            }
        })
        .collect();
    Ok(Some(AddressInfo {
        address: address.to_string(),
        balance: account.balance,
        nonce: account.nonce,
        sent: history.sent,
        received: history.received,
        total: history.total,
        page,
        history: rows,
        balance_series: balance_series(&changes, account.balance),
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
    let page = crate::page_number();
    let info = Resource::new(
        move || (address(), page() as u32),
        |(address, page)| fetch_address(address, page),
    );
    view! {
        <Frame title="Address">
            <h1 class="text-2xl font-bold">"Address"</h1>
            <p class="mt-1 break-all font-mono text-sm text-muted">{address} {move || view! { <Copy text=address() /> }}</p>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Looking it up…"</p> }>
                {move || info.get().map(|result| match result {
                    Ok(Some(info)) => view! { <AddressView info /> }.into_any(),
                    Ok(None) => view! { <crate::NotFound what="address" /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </Frame>
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
    let pages = info.total.div_ceil(u64::from(PAGE));
    let here = format!("/explorer/address/{}", info.address);
    let rows = info
        .history
        .iter()
        .map(|row| {
            view! {
                <tr class="border-b border-line/50" data-direction=if row.sent { "sent" } else { "received" }>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono"><a class="underline" href=format!("/explorer/tx/{}", row.hash)>{crate::short(&row.hash)}</a></td>
                    <td class="py-2 pr-4">{if row.sent { "sent to" } else { "received from" }}</td>
                    <td class="py-2 pr-4"><AddressLink address=row.counterparty.clone() /></td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{if row.sent { "−" } else { "+" }}{row.amount.clone()}</td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{row.fee.clone()}</td>
                    <td class="py-2 pr-4"><a class="underline" href=format!("/explorer/block/{}", row.block_height)>{grouped(row.block_height)}</a></td>
                    <td class="whitespace-nowrap py-2"><crate::Ago ms=row.timestamp_ms /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
            <dl id="address-detail" class="mt-6 grid grid-cols-[8rem_1fr] gap-x-4 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
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
            <h2 class="mt-8 text-lg font-semibold">"Balance over time"</h2>
            <BalanceChart series=info.balance_series.clone() />
            <div class="mt-8 flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="text-lg font-semibold">{format!("History ({})", grouped(info.total))}</h2>
                <a id="history-csv" class="text-sm underline" href=format!("/rpc/address/{}/history.csv", info.address) download="">
                    "Export all as CSV"
                </a>
            </div>
            <div class="mt-2 overflow-x-auto">
                <table id="address-history" class="w-full text-left text-sm">
                    <thead class="border-b border-line text-muted">
                        <tr>
                            <th class="py-2 pr-4 font-medium">"Transaction"</th>
                            <th class="py-2 pr-4 font-medium">"Direction"</th>
                            <th class="py-2 pr-4 font-medium">"Counterparty"</th>
                            <th class="py-2 pr-4 text-right font-medium">"Amount (AITBC)"</th>
                            <th class="py-2 pr-4 text-right font-medium">"Fee"</th>
                            <th class="py-2 pr-4 font-medium">"Block"</th>
                            <th class="py-2 font-medium">"Time"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
    <crate::Pager id="history" base=here page=u64::from(info.page) pages />
        }
}

/// The chart's drawing area, in SVG user units.
const CHART_W: f64 = 640.0;
const CHART_H: f64 = 160.0;

/// The balance as a step line: it holds its value until the next change.
#[component]
fn BalanceChart(series: Vec<(u64, u64)>) -> impl IntoView {
    if series.is_empty() {
        return view! { <p id="balance-chart-empty" class="mt-2 text-sm text-muted">"No balance changes yet."</p> }.into_any();
    }
    let path = step_path(&series);
    let max = series.iter().map(|p| p.1).max().unwrap_or(0);
    let first = series.first().map_or(0, |p| p.0);
    let last = series.last().map_or(0, |p| p.0);
    view! {
        <figure class="mt-2">
            <svg
                id="balance-chart"
                viewBox=format!("0 0 {CHART_W} {CHART_H}")
                preserveAspectRatio="none"
                class="h-40 w-full rounded-lg border border-line bg-raised text-brand"
                role="img"
                aria-label="Balance over time"
                data-points=series.len()
            >
                <path d=path fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
            </svg>
            <figcaption class="mt-1 flex justify-between text-xs text-muted">
                <span>{format!("{} UTC", crate::utc(first))}</span>
                <span>{format!("max {} AITBC", Amount(max).to_grouped())}</span>
                <span>{format!("{} UTC", crate::utc(last))}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

/// SVG path data for `series` scaled into the chart: time across, balance up from zero.
fn step_path(series: &[(u64, u64)]) -> String {
    let (t0, t1) = (series[0].0, series[series.len() - 1].0);
    let max = series.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let x = |t: u64| {
        if t1 == t0 {
            0.0
        } else {
            (t - t0) as f64 / (t1 - t0) as f64 * CHART_W
        }
    };
    let y = |b: u64| CHART_H - 4.0 - b as f64 / max * (CHART_H - 8.0);
    let mut d = format!("M{:.1},{:.1}", x(t0), y(series[0].1));
    for (t, b) in &series[1..] {
        d.push_str(&format!("H{:.1}V{:.1}", x(*t), y(*b)));
    }
    // The last balance holds until now.
    d.push_str(&format!("H{CHART_W:.1}"));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_the_balance_after_each_change_skipping_no_ops() {
        let changes = [
            (10, Amount(0)),
            (20, Amount(500)),
            (30, Amount(500)),
            (40, Amount(300)),
        ];
        assert_eq!(
            balance_series(&changes, Amount(900)),
            vec![(10, 500), (30, 300), (40, 900)],
            "the block at 20 left the balance at 500"
        );
        assert!(balance_series(&[], Amount(5)).is_empty());
    }

    #[test]
    fn chart_path_steps_across_the_whole_width() {
        let path = step_path(&[(0, 0), (50, 100), (100, 50)]);
        assert_eq!(path, "M0.0,156.0H320.0V4.0H640.0V80.0H640.0");
        assert_eq!(step_path(&[(7, 3)]), "M0.0,4.0H640.0");
    }
}
