//! The layout every page shares: header with navigation between the UIs, theme toggle, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::theme::ThemeToggle;

/// The sections in the navigation, in the order readers see them.
const SECTIONS: [(&str, &str); 5] = [
    ("/explorer/", "Explorer"),
    ("/marketplace/", "Marketplace"),
    ("/Exchange", "Exchange"),
    ("/wallet/", "Wallet"),
    ("/docs/", "Docs"),
];

fn nav_links() -> impl IntoView {
    SECTIONS
        .iter()
        .map(|(href, label)| {
            view! {
                <A
                    href=*href
                    attr:class="rounded-md px-3 py-2 text-sm text-muted hover:bg-raised hover:text-ink aria-[current=page]:font-semibold aria-[current=page]:text-ink"
                >
                    {*label}
                </A>
            }
        })
        .collect_view()
}

/// Wraps a page in the shared header and footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="border-b border-line bg-raised/60">
            <div class="mx-auto flex max-w-6xl items-center gap-4 px-4 py-3">
                <A href="/" attr:class="flex items-center gap-2 font-semibold tracking-tight">
                    <span class="inline-block h-6 w-6 rounded bg-brand"></span>
                    "AITBC"
                </A>
                <nav aria-label="Sections" class="hidden flex-1 items-center gap-1 md:flex">
                    {nav_links()}
                </nav>
                <div class="ml-auto flex items-center gap-2">
                    <ThemeToggle />
                    // A <details> menu works on phones even before the WASM has loaded.
                    <details class="relative md:hidden">
                        <summary class="cursor-pointer list-none rounded-md border border-line px-3 py-1.5 text-sm">
                            "Menu"
                        </summary>
                        <nav
                            aria-label="Sections"
                            class="absolute right-0 z-10 mt-2 flex w-48 flex-col rounded-md border border-line bg-surface p-1 shadow-lg"
                        >
                            {nav_links()}
                        </nav>
                    </details>
                </div>
            </div>
        </header>
        <main class="mx-auto max-w-6xl px-4 py-8">{children()}</main>
        <footer class="mx-auto max-w-6xl px-4 py-8 text-xs text-muted">
            "AITBC: a market for AI compute, paid on its own proof-of-authority chain."
        </footer>
    }
}
