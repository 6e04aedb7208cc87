//! The block explorer UI (served at `/explorer/`); until the chain node exists it shows an honest empty state and a search box that recognises what was typed.

mod search;

use leptos::prelude::*;
use leptos_meta::Title;

pub use search::{SearchKind, classify};

/// The explorer's home page.
#[component]
pub fn ExplorerHome() -> impl IntoView {
    view! {
        <Title text="Explorer" />
        <h1 class="text-3xl font-bold">"Explorer"</h1>
        <search::SearchBox />
        <section
            id="explorer-empty"
            class="mt-8 rounded-lg border border-dashed border-line p-8 text-center text-muted"
        >
            <h2 class="text-lg font-semibold text-ink">"No chain node connected"</h2>
            <p class="mt-2">
                "This server does not run a chain node yet, so there are no blocks or transactions to show. They appear here, live, once the node runs."
            </p>
        </section>
    }
}
