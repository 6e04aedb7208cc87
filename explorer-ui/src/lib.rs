//! The block explorer UI (served at `/explorer/`): its pages, rendered on the server from the node and kept live in the browser from the node's feed, and the pieces they share (the section bar with the search box, readable numbers and times, copy buttons).

mod accounts;
mod address;
mod block;
mod blocks;
mod home;
mod jobs;
mod live;
mod mempool;
mod network;
mod receipts;
mod search;
mod tx;

use leptos::prelude::*;

pub use accounts::AccountsPage;
pub use address::{AddressPage, balance_series, check_balance};
pub use block::BlockPage;
pub use blocks::BlocksPage;
pub use home::{ExplorerHome, Summary, explorer_summary};
pub use jobs::JobsPage;
pub use live::{BlockRow, push_block};
pub use mempool::MempoolPage;
pub use network::NetworkPage;
pub use receipts::ReceiptsPage;
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

/// How long ago `then` was, at `now` (both in milliseconds since the epoch).
pub fn ago(now: u64, then: u64) -> String {
    let secs = now.saturating_sub(then) / 1_000;
    match secs {
        0 => "just now".into(),
        1..=59 => format!("{secs} s ago"),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

fn short(text: &str) -> String {
    if text.len() > 16 {
        format!("{}…{}", &text[..10], &text[text.len() - 6..])
    } else {
        text.to_owned()
    }
}

/// The browser's clock, ticking once a second; `None` on the server and until the page is
/// hydrated, so that the server's HTML (absolute times) and the first render in the browser agree.
#[derive(Clone, Copy)]
struct Now(RwSignal<Option<u64>>);

fn provide_clock() {
    let now = RwSignal::new(None::<u64>);
    provide_context(Now(now));
    // Effects run in the browser only.
    Effect::new(move |_| {
        now.set(Some(js_now()));
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(Some(js_now())),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
}

fn js_now() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

/// A time: absolute (UTC) as rendered by the server, relative ("12 s ago") once the browser's
/// clock runs, with the absolute time as its tooltip.
#[component]
fn Ago(#[prop(into)] ms: Signal<u64>) -> impl IntoView {
    let now = use_context::<Now>();
    view! {
        <time title=move || format!("{} UTC", utc(ms.get()))>
            {move || match now.and_then(|n| n.0.get()) {
                Some(now) => ago(now, ms.get()),
                None => format!("{} UTC", utc(ms.get())),
            }}
        </time>
    }
}

/// A button that copies `text` (a hash or an address) to the clipboard, and says whether it
/// did.
#[component]
fn Copy(#[prop(into)] text: String) -> impl IntoView {
    // `None` until clicked, then whether the browser took it.
    let copied = RwSignal::new(None::<bool>);
    let value = text.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let promise = window.navigator().clipboard().write_text(&value);
            leptos::task::spawn_local(async move {
                let done = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
                copied.set(Some(done));
                set_timeout(
                    move || copied.set(None),
                    std::time::Duration::from_millis(1_500),
                );
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
    };
    view! {
        <button
            type="button"
            class="copy ml-2 rounded border border-line px-1.5 py-0.5 align-middle font-sans text-xs text-muted hover:text-ink"
            data-copy=text
            title="Copy to the clipboard"
            on:click=copy
        >
            {move || match copied.get() {
                None => "Copy",
                Some(true) => "Copied",
                Some(false) => "Not copied",
            }}
        </button>
    }
}

/// The explorer's sections, in the order of the section bar.
const SECTIONS: [(&str, &str); 7] = [
    ("/explorer/", "Overview"),
    ("/explorer/blocks", "Blocks"),
    ("/explorer/mempool", "Mempool"),
    ("/explorer/accounts", "Accounts"),
    ("/explorer/jobs", "Jobs"),
    ("/explorer/receipts", "Receipts"),
    ("/explorer/network", "Network"),
];

/// What every explorer page has: the section bar, the search box and the browser's clock.
#[component]
fn Frame(title: &'static str, children: Children) -> impl IntoView {
    provide_clock();
    let links = SECTIONS
        .iter()
        .map(|(href, label)| {
            view! {
                <leptos_router::components::A
                    href=*href
                    attr:class="whitespace-nowrap rounded-md px-3 py-1.5 text-sm text-muted hover:bg-raised hover:text-ink aria-[current=page]:bg-raised aria-[current=page]:font-semibold aria-[current=page]:text-ink"
                >
                    {*label}
                </leptos_router::components::A>
            }
        })
        .collect_view();
    view! {
        <leptos_meta::Title text=title />
        <nav id="explorer-sections" aria-label="Explorer" class="-mx-1 flex gap-1 overflow-x-auto pb-1">
            {links}
        </nav>
        <search::SearchBox />
        <div class="mt-6">{children()}</div>
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

/// The page number in the URL's `?page=` (0, the first, when absent or not a number).
fn page_number() -> impl Fn() -> u64 + Clone + Send + Sync + 'static {
    let query = leptos_router::hooks::use_query_map();
    move || query.with(|q| q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0))
}

/// Links to the neighbouring pages of a list paged by `?page=N` under `base`, with the ids
/// `{id}-newer`, `{id}-page` and `{id}-older`.
#[component]
fn Pager(
    id: &'static str,
    base: String,
    page: u64,
    pages: u64,
    #[prop(default = ("← Newer", "Older →"))] labels: (&'static str, &'static str),
) -> impl IntoView {
    let link = move |n: u64| {
        if n == 0 {
            base.clone()
        } else {
            format!("{base}?page={n}")
        }
    };
    let newer = (page > 0).then(|| {
        view! { <a id=format!("{id}-newer") class="underline" href=link(page - 1)>{labels.0}</a> }
    });
    let older = (page + 1 < pages).then(|| {
        view! { <a id=format!("{id}-older") class="underline" href=link(page + 1)>{labels.1}</a> }
    });
    view! {
        <nav class="mt-4 flex justify-between text-sm" aria-label="Pages">
            <span>{newer}</span>
            <span id=format!("{id}-page") class="text-muted">{format!("page {} of {}", page + 1, pages.max(1))}</span>
            <span>{older}</span>
        </nav>
    }
}

/// A link to an address in a list, shortened (the whole address in its tooltip and on its page,
/// where the copy button is).
#[component]
fn AddressLink(#[prop(into)] address: String) -> impl IntoView {
    if address.is_empty() {
        return view! { <span class="text-muted">"—"</span> }.into_any();
    }
    view! {
        <a class="whitespace-nowrap font-mono underline" href=format!("/explorer/address/{address}") title=address.clone()>
            {short(&address)}
        </a>
    }
    .into_any()
}

/// The server's node, or the error every server function gives without one.
#[cfg(feature = "ssr")]
fn node() -> Result<chain::Node, ServerFnError> {
    use_context::<chain::Node>().ok_or_else(|| ServerFnError::new("this server runs no chain node"))
}

#[cfg(feature = "ssr")]
fn failed(error: chain::store::StoreError) -> ServerFnError {
    ServerFnError::new(error.to_string())
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
        assert_eq!(ago(10_000, 10_500), "just now", "a clock behind the chain");
        assert_eq!(ago(70_000, 10_000), "1 min ago");
        assert_eq!(ago(12_000, 0), "12 s ago");
        assert_eq!(ago(3 * 86_400_000, 0), "3 d ago");
    }
}
