//! The styled page for paths that no route matches; the server sends it with status 404.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Rendered by the router's fallback.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found" />
        <section id="not-found" class="mx-auto max-w-xl py-16 text-center">
            <p class="text-sm font-semibold text-brand">"404"</p>
            <h1 class="mt-2 text-3xl font-bold">"Page not found"</h1>
            <p class="mt-4 text-muted">"There is nothing at this address. The sections are:"</p>
            <div class="mt-6 flex flex-wrap justify-center gap-3">
                <A href="/" attr:class="underline">"Home"</A>
                <A href="/explorer/" attr:class="underline">"Explorer"</A>
                <A href="/marketplace/" attr:class="underline">"Marketplace"</A>
                <A href="/Exchange" attr:class="underline">"Exchange"</A>
                <A href="/wallet/" attr:class="underline">"Wallet"</A>
                <A href="/docs/" attr:class="underline">"Docs"</A>
            </div>
        </section>
    }
}
