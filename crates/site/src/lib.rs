//! The Leptos application root shared by the server (SSR) and the browser (hydration): the HTML shell, the router over the four UIs, and the hydrate entry point.

mod api_docs;
mod docs;
mod landing;
mod layout;
mod not_found;
mod theme;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

pub use api_docs::ApiDocuments;
pub use theme::Theme;

/// Name of the JS and WASM bundle that the build writes under `/pkg/`; the server's
/// `LeptosOptions` and the build driver must agree on it.
pub const BUNDLE_NAME: &str = "aitbc";

/// The whole HTML document. Only the server calls this; the browser hydrates the `<body>`.
///
/// The `<html>` element carries the theme class so the first paint already has the right
/// colours; the server provides [`Theme`] from the request's cookie through context.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = use_context::<Theme>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en" class=theme.html_class()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=format!("/pkg/{BUNDLE_NAME}.css") />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-surface text-ink antialiased">
                <App />
            </body>
        </html>
    }
}

/// The routed application: one shell layout around the landing page, the four UIs and the docs.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| format!("{page} · AITBC") />
        <Router>
            <layout::Layout>
                <Routes fallback=not_found::NotFound>
                    <Route path=path!("/") view=landing::Landing />
                    <Route path=path!("/explorer/") view=explorer_ui::ExplorerHome />
                    <Route path=path!("/explorer/blocks") view=explorer_ui::BlocksPage />
                    <Route path=path!("/explorer/mempool") view=explorer_ui::MempoolPage />
                    <Route path=path!("/explorer/accounts") view=explorer_ui::AccountsPage />
                    <Route path=path!("/explorer/network") view=explorer_ui::NetworkPage />
                    <Route path=path!("/explorer/receipts") view=explorer_ui::ReceiptsPage />
                    <Route path=path!("/explorer/jobs") view=explorer_ui::JobsPage />
                    <Route path=path!("/explorer/tx/:hash") view=explorer_ui::TxPage />
                    <Route path=path!("/explorer/search") view=explorer_ui::SearchPage />
                    <Route path=path!("/explorer/block/:height") view=explorer_ui::BlockPage />
                    <Route path=path!("/explorer/address/:address") view=explorer_ui::AddressPage />
                    <Route path=path!("/marketplace/") view=marketplace_ui::MarketplaceHome />
                    <Route path=path!("/Exchange") view=exchange_ui::ExchangeHome />
                    <Route path=path!("/wallet/") view=wallet_ui::WalletHome />
                    <Route path=path!("/docs/") view=docs::Docs />
                    <Route path=path!("/docs/api/:name") view=api_docs::ApiDocsPage />
                </Routes>
            </layout::Layout>
        </Router>
    }
}

/// Entry point the browser calls once the WASM bundle has loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // A marker for people and browser tests: from here on, every control works.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
