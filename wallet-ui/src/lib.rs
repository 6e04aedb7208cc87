//! The browser wallet UI (served at `/wallet/`, later also the Firefox extension's popup); until the wallet crate exists it explains the two ways in and generates no keys.

use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Create,
    Import,
}

/// The wallet's home page.
#[component]
pub fn WalletHome() -> impl IntoView {
    let tab = RwSignal::new(Tab::Create);
    let tab_button = move |t: Tab, id: &'static str, label: &'static str| {
        view! {
            <button
                id=id
                type="button"
                role="tab"
                class="border-b-2 border-transparent px-4 py-2 text-sm aria-selected:border-brand aria-selected:font-semibold"
                aria-selected=move || (tab.get() == t).to_string()
                on:click=move |_| tab.set(t)
            >
                {label}
            </button>
        }
    };
    view! {
        <Title text="Wallet" />
        <h1 class="text-3xl font-bold">"Wallet"</h1>
        <div role="tablist" aria-label="Get started" class="mt-6 flex gap-2 border-b border-line">
            {tab_button(Tab::Create, "wallet-tab-create", "Create a wallet")}
            {tab_button(Tab::Import, "wallet-tab-import", "Import a wallet")}
        </div>
        <section id="wallet-panel" role="tabpanel" class="mt-6 max-w-2xl text-muted">
            {move || match tab.get() {
                Tab::Create => {
                    view! {
                        <p data-panel="create">
                            "A new wallet is a 24-word recovery phrase generated in this page. It is shown to you once, encrypted with your password and kept only in this browser. Key generation is not available in this version yet."
                        </p>
                    }
                }
                Tab::Import => {
                    view! {
                        <p data-panel="import">
                            "Import a wallet from its recovery phrase or from an encrypted keystore file. Importing is not available in this version yet."
                        </p>
                    }
                }
            }}
        </section>
    }
}
