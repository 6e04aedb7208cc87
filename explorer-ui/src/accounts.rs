//! The rich list (`/explorer/accounts`): accounts by balance, largest first, each with its share of the supply, a page at a time (`?page=N`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Frame, grouped};

/// Accounts per page.
pub const PAGE: usize = 50;

/// One ranked account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub rank: usize,
    pub address: String,
    pub balance: String,
    /// Share of the supply in hundredths of a percent.
    pub share_bp: u64,
    pub nonce: u64,
}

/// One page of the rich list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    pub page: usize,
    pub total: usize,
    pub supply: String,
    pub accounts: Vec<AccountRow>,
}

#[server(prefix = "/ui")]
pub async fn fetch_ranking(page: usize) -> Result<Ranking, ServerFnError> {
    let node = crate::node()?;
    let offset = page.saturating_mul(PAGE);
    let ranking = node.richest(offset, PAGE).await;
    let supply = ranking.supply.unwrap_or(types::Amount::ZERO);
    Ok(Ranking {
        page,
        total: ranking.total,
        supply: supply.to_grouped(),
        accounts: ranking
            .accounts
            .iter()
            .enumerate()
            .map(|(i, (address, account))| AccountRow {
                rank: offset + i + 1,
                address: address.to_string(),
                balance: account.balance.to_grouped(),
                share_bp: share_bp(account.balance.0, supply.0),
                nonce: account.nonce,
            })
            .collect(),
    })
}

/// `part` of `whole` in hundredths of a percent, rounded down.
#[cfg(any(feature = "ssr", test))]
fn share_bp(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    (u128::from(part) * 10_000 / u128::from(whole)) as u64
}

/// The page.
#[component]
pub fn AccountsPage() -> impl IntoView {
    let page = crate::page_number();
    let ranking = Resource::new(move || page() as usize, fetch_ranking);
    view! {
        <Frame title="Accounts">
            <h1 class="text-2xl font-bold">"Accounts by balance"</h1>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Reading the accounts…"</p> }>
                {move || ranking.get().map(|result| match result {
                    Ok(ranking) => view! { <RankingView ranking /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn RankingView(ranking: Ranking) -> impl IntoView {
    let pages = ranking.total.div_ceil(PAGE) as u64;
    let page = ranking.page as u64;
    let rows = ranking
        .accounts
        .into_iter()
        .map(|a| {
            let share = format!("{}.{:02} %", a.share_bp / 100, a.share_bp % 100);
            view! {
                <tr class="border-b border-line/50">
                    <td class="py-2 pr-4 text-muted tabular-nums">{a.rank}</td>
                    <td class="py-2 pr-4"><AddressLink address=a.address /></td>
                    <td class="whitespace-nowrap py-2 pr-4 text-right tabular-nums">{a.balance}</td>
                    <td class="py-2 pr-4 text-right tabular-nums">{share}</td>
                    <td class="py-2 text-right tabular-nums">{a.nonce}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
            <p id="accounts-summary" class="mt-1 text-sm text-muted">
                {format!("{} accounts hold {} AITBC in all.", grouped(ranking.total as u64), ranking.supply)}
            </p>
            <div class="mt-4 overflow-x-auto">
                <table id="accounts-list" class="w-full text-left text-sm">
                    <thead class="border-b border-line text-muted">
                        <tr>
                            <th class="py-2 pr-4 font-medium">"Rank"</th>
                            <th class="py-2 pr-4 font-medium">"Address"</th>
                            <th class="py-2 pr-4 text-right font-medium">"Balance (AITBC)"</th>
                            <th class="py-2 pr-4 text-right font-medium">"Share"</th>
                            <th class="py-2 text-right font-medium">"Transactions sent"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
    <crate::Pager id="accounts" base="/explorer/accounts".to_owned() page pages labels=("← Richer", "Poorer →") />
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_down_and_survive_large_amounts() {
        assert_eq!(share_bp(1, 3), 3333);
        assert_eq!(share_bp(u64::MAX, u64::MAX), 10_000);
        assert_eq!(share_bp(5, 0), 0);
    }
}
