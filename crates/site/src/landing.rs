//! The landing page at `/`: what AITBC is and where each part lives.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// One card per user-facing part of the product.
const PARTS: [(&str, &str, &str); 4] = [
    (
        "/explorer/",
        "Explorer",
        "Blocks, transactions and accounts of the AITBC chain, live.",
    ),
    (
        "/marketplace/",
        "Marketplace",
        "GPU offers from miners, and AI jobs from clients who pay for them.",
    ),
    ("/Exchange", "Exchange", "Trade AITBC against BTC."),
    (
        "/wallet/",
        "Wallet",
        "Keys that never leave your browser; send, receive and sign in.",
    ),
];

/// The home page.
#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <Title text="A market for AI compute" />
        <section id="landing" class="py-8">
            <h1 class="text-4xl font-bold tracking-tight">"A market for AI compute"</h1>
            <p class="mt-4 max-w-2xl text-lg text-muted">
                "Clients submit AI jobs (generation, chat, embeddings). GPU owners run them and are paid in AITBC on the platform's own proof-of-authority chain, against a signed receipt."
            </p>
        </section>
        <section class="grid gap-4 sm:grid-cols-2">
            {PARTS
                .iter()
                .map(|(href, title, blurb)| {
                    view! {
                        <A
                            href=*href
                            attr:class="block rounded-lg border border-line bg-raised p-5 hover:border-brand"
                        >
                            <h2 class="text-lg font-semibold">{*title}</h2>
                            <p class="mt-2 text-sm text-muted">{*blurb}</p>
                        </A>
                    }
                })
                .collect_view()}
        </section>
    }
}
