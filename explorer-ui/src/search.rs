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

/// The search form. Its hint follows the input only once the page has hydrated.
#[component]
pub fn SearchBox() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let submitted = RwSignal::new(false);
    view! {
        <form
            id="explorer-search"
            role="search"
            class="mt-6 flex flex-col gap-2 sm:flex-row"
            on:submit=move |ev| {
                ev.prevent_default();
                submitted.set(true);
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
                on:input=move |_| submitted.set(false)
            />
            <button type="submit" class="rounded-md bg-brand px-4 py-2 text-sm font-semibold text-white">
                "Search"
            </button>
        </form>
        <p id="explorer-search-hint" class="mt-2 text-sm text-muted" aria-live="polite">
            {move || describe(classify(&query.get()))}
        </p>
        <Show when=move || submitted.get()>
            <p id="explorer-search-result" class="mt-2 text-sm">
                "Nothing can be looked up yet: this server runs no chain node."
            </p>
        </Show>
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
