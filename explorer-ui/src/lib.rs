//! The block explorer UI (served at `/explorer/`): the chain's head and latest blocks, rendered on the server and then kept live from the node's feed, and a search box that recognises what was typed.

mod address;
mod block;
mod live;
mod search;
mod tx;

use leptos::prelude::*;
use leptos_meta::Title;

pub use address::{AddressPage, check_balance};
pub use block::BlockPage;
pub use live::{BlockRow, Summary, explorer_summary, push_block};
pub use search::{SearchKind, SearchPage, classify};
pub use tx::{TxPage, check_inclusion};

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC, the same on the server and in the
/// browser (a relative time would differ between the two and break hydration).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn short(text: &str) -> String {
    if text.len() > 16 {
        format!("{}…{}", &text[..10], &text[text.len() - 6..])
    } else {
        text.to_owned()
    }
}

/// The explorer's home page.
#[component]
pub fn ExplorerHome() -> impl IntoView {
    let summary = Resource::new(|| (), |_| explorer_summary());
    view! {
        <Title text="Explorer" />
        <h1 class="text-3xl font-bold">"Explorer"</h1>
        <search::SearchBox />
        <Suspense fallback=|| view! { <p class="mt-8 text-muted">"Reading the chain…"</p> }>
            {move || {
                summary
                    .get()
                    .map(|result| match result {
                        Ok(summary) => view! { <LiveHome summary /> }.into_any(),
                        Err(_) => view! { <NoNode /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// Shown when what the reader asked for does not exist.
#[component]
fn NotFound(what: &'static str) -> impl IntoView {
    view! {
        <section id="explorer-not-found" class="mt-8 rounded-lg border border-dashed border-line p-8 text-center text-muted">
            <h2 class="text-lg font-semibold text-ink">{format!("No such {what}")}</h2>
            <p class="mt-2">"Nothing on this chain matches it. Check it, or search for a height, hash or address."</p>
        </section>
    }
}

#[component]
fn NoNode() -> impl IntoView {
    view! {
        <section
            id="explorer-empty"
            class="mt-8 rounded-lg border border-dashed border-line p-8 text-center text-muted"
        >
            <h2 class="text-lg font-semibold text-ink">"No chain node connected"</h2>
            <p class="mt-2">"This server runs no chain node, so there are no blocks or transactions to show."</p>
        </section>
    }
}

#[component]
fn LiveHome(summary: Summary) -> impl IntoView {
    let blocks = RwSignal::new(summary.blocks.clone());
    #[cfg(feature = "hydrate")]
    live::follow_blocks(blocks);
    let head_height =
        move || blocks.with(|b| b.first().map(|b| grouped(b.height)).unwrap_or_default());
    let head_time =
        move || blocks.with(|b| b.first().map(|b| utc(b.timestamp_ms)).unwrap_or_default());
    view! {
        <section id="explorer-head" class="mt-6 grid gap-4 sm:grid-cols-3">
            <div class="rounded-lg border border-line bg-raised p-4">
                <p class="text-xs uppercase text-muted">"Head"</p>
                <p id="head-height" class="mt-1 text-2xl font-semibold">{head_height}</p>
                <p class="text-xs text-muted">{head_time} " UTC"</p>
            </div>
            <div class="rounded-lg border border-line bg-raised p-4">
                <p class="text-xs uppercase text-muted">"Chain"</p>
                <p class="mt-1 font-mono">{summary.chain_id.clone()}</p>
            </div>
            <div class="rounded-lg border border-line bg-raised p-4">
                <p class="text-xs uppercase text-muted">"Pending transactions"</p>
                <p class="mt-1 text-2xl font-semibold">{summary.mempool_size}</p>
            </div>
        </section>
        <h2 class="mt-8 text-lg font-semibold">"Latest blocks"</h2>
        <div class="mt-2 overflow-x-auto">
            <table id="latest-blocks" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Height"</th>
                        <th class="py-2 pr-4 font-medium">"Hash"</th>
                        <th class="py-2 pr-4 font-medium">"Transactions"</th>
                        <th class="py-2 pr-4 font-medium">"Proposer"</th>
                        <th class="py-2 font-medium">"Time (UTC)"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || blocks.get() key=|b| b.hash.clone() let:block>
                        <tr class="border-b border-line/50" data-height=block.height>
                            <td class="py-2 pr-4">
                                <a class="underline" href=format!("/explorer/block/{}", block.height)>{grouped(block.height)}</a>
                            </td>
                            <td class="py-2 pr-4 font-mono" title=block.hash.clone()>{short(&block.hash)}</td>
                            <td class="py-2 pr-4">{block.tx_count}</td>
                            <td class="py-2 pr-4 font-mono" title=block.proposer_address.clone()>{short(&block.proposer_address)}</td>
                            <td class="py-2">{utc(block.timestamp_ms)}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_numbers_and_times() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(short("0123456789abcdefghij"), "0123456789…efghij");
    }
}
