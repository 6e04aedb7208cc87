//! The explorer's search box: it tells, as the reader types, whether the input is a block height, a hash or an address.

use leptos::prelude::*;

/// What a search input looks like, before any lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKind {
    /// A block height.
    Height(u64),
    /// 64 hex digits: a block or transaction hash.
    Hash,
    /// `ait1` followed by bech32 characters of an address's length.
    Address,
    /// Something that can be none of the above.
    Unknown,
}

/// Length of an `ait1…` address: 3 human-readable chars, the `1`, 32 data chars, 6 checksum chars.
const ADDRESS_LEN: usize = 42;
const BECH32_CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Classifies a search input by its shape. It checks no checksum and looks nothing up.
pub fn classify(input: &str) -> Option<SearchKind> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    // Hashes first: a hash may consist of digits only.
    let hex = input.strip_prefix("0x").unwrap_or(input);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(SearchKind::Hash);
    }
    if input.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match input.parse::<u64>() {
            Ok(height) => SearchKind::Height(height),
            Err(_) => SearchKind::Unknown,
        });
    }
    let lower = input.to_ascii_lowercase();
    let same_case = input == lower || input == input.to_ascii_uppercase();
    if same_case
        && lower.len() == ADDRESS_LEN
        && lower
            .strip_prefix("ait1")
            .is_some_and(|data| data.chars().all(|c| BECH32_CHARSET.contains(c)))
    {
        return Some(SearchKind::Address);
    }
    Some(SearchKind::Unknown)
}

fn describe(kind: Option<SearchKind>) -> String {
    match kind {
        None => "Search by block height, block or transaction hash, or address.".into(),
        Some(SearchKind::Height(h)) => format!("Block height {h}"),
        Some(SearchKind::Hash) => "A block or transaction hash".into(),
        Some(SearchKind::Address) => "An address".into(),
        Some(SearchKind::Unknown) => "Not a height, hash or address".into(),
    }
}

/// Where a search leads: the page of the block, transaction or address it names, if any.
#[server(prefix = "/ui")]
pub async fn resolve_search(q: String) -> Result<Option<String>, ServerFnError> {
    use types::{Address, Hash};
    let node = use_context::<chain::Node>()
        .ok_or_else(|| ServerFnError::new("this server runs no chain node"))?;
    let store = node.store();
    let failed = |e: chain::store::StoreError| ServerFnError::new(e.to_string());
    Ok(match classify(&q) {
        Some(SearchKind::Height(height)) => store
            .block_by_height(height)
            .await
            .map_err(failed)?
            .map(|_| format!("/explorer/block/{height}")),
        Some(SearchKind::Hash) => {
            let Some(hash) = Hash::from_hex(q.trim()) else {
                return Ok(None);
            };
            if node.find_tx(&hash).await.map_err(failed)?.is_some() {
                Some(format!("/explorer/tx/{hash}"))
            } else {
                store
                    .block_by_hash(&hash)
                    .await
                    .map_err(failed)?
                    .map(|b| format!("/explorer/block/{}", b.header.height))
            }
        }
        Some(SearchKind::Address) => Address::parse(q.trim())
            .ok()
            .map(|a| format!("/explorer/address/{a}")),
        Some(SearchKind::Unknown) | None => None,
    })
}

/// The search form. Without WASM it is a plain GET to the search page; once hydrated it
/// navigates in place, and its hint follows the input.
#[component]
pub fn SearchBox() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let navigate = leptos_router::hooks::use_navigate();
    view! {
        <form
            id="explorer-search"
            role="search"
            action="/explorer/search"
            method="get"
            class="mt-4 flex flex-col gap-2 sm:flex-row"
            on:submit=move |ev| {
                ev.prevent_default();
                let q = query.get_untracked();
                let encoded: String = q
                    .trim()
                    .bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                    .collect();
                navigate(&format!("/explorer/search?q={encoded}"), Default::default());
            }
        >
            <input
                id="explorer-search-input"
                name="q"
                type="search"
                autocomplete="off"
                spellcheck="false"
                placeholder="Height, hash or ait1… address"
                class="flex-1 rounded-md border border-line bg-surface px-3 py-2 font-mono text-sm"
                bind:value=query
            />
            <button type="submit" class="rounded-md bg-brand px-4 py-2 text-sm font-semibold text-white">
                "Search"
            </button>
        </form>
        <p id="explorer-search-hint" class="mt-2 text-sm text-muted" aria-live="polite">
            {move || describe(classify(&query.get()))}
        </p>
    }
}

/// `/explorer/search?q=…`: sends the reader to what the query names, or says nothing matches.
#[component]
pub fn SearchPage() -> impl IntoView {
    use leptos_router::{components::Redirect, hooks::use_query_map};
    let query = use_query_map();
    let q = move || query.with(|q| q.get("q").unwrap_or_default());
    let target = Resource::new(q, resolve_search);
    view! {
        <crate::Frame title="Search">
        <h1 class="text-2xl font-bold">"Search"</h1>
        <Suspense fallback=|| view! { <p class="mt-6 text-muted">"Searching…"</p> }>
            {move || target.get().map(|result| match result {
                Ok(Some(path)) => view! { <Redirect path /> }.into_any(),
                Ok(None) => view! {
                    <section id="explorer-not-found" class="mt-8 rounded-lg border border-dashed border-line p-8 text-center text-muted">
                        <h2 class="text-lg font-semibold text-ink">"Nothing found"</h2>
                        <p class="mt-2 break-all">"No block, transaction or address matches " <span class="font-mono">{q()}</span> "."</p>
                    </section>
                }.into_any(),
                Err(_) => view! { <crate::NoNode /> }.into_any(),
            })}
        </Suspense>
        </crate::Frame>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_inputs_by_shape() {
        let hash = "ab".repeat(32);
        let address = format!("ait1{}", "q".repeat(38));
        let cases: Vec<(String, Option<SearchKind>)> = vec![
            ("".into(), None),
            ("   ".into(), None),
            ("0".into(), Some(SearchKind::Height(0))),
            (" 1234 ".into(), Some(SearchKind::Height(1234))),
            ("99999999999999999999999".into(), Some(SearchKind::Unknown)),
            (hash.clone(), Some(SearchKind::Hash)),
            (format!("0x{hash}"), Some(SearchKind::Hash)),
            (hash[..63].into(), Some(SearchKind::Unknown)),
            (address.clone(), Some(SearchKind::Address)),
            (address.to_uppercase(), Some(SearchKind::Address)),
            ("0".repeat(64), Some(SearchKind::Hash)),
            (
                format!("ait1{}b", "q".repeat(37)),
                Some(SearchKind::Unknown),
            ),
            (format!("btc1{}", "q".repeat(38)), Some(SearchKind::Unknown)),
            ("hello world".into(), Some(SearchKind::Unknown)),
        ];
        for (input, want) in cases {
            assert_eq!(classify(&input), want, "input {input:?}");
        }
    }

    #[test]
    fn mixed_case_address_is_not_an_address() {
        let mixed = format!("Ait1{}", "q".repeat(38));
        assert_eq!(classify(&mixed), Some(SearchKind::Unknown));
    }
}
