//! The documentation page at `/docs/`: the public paths this server answers.

use leptos::prelude::*;
use leptos_meta::Title;

/// Every public path of the one-process server and what answers there.
const PATHS: [(&str, &str); 11] = [
    ("/", "This site's landing page"),
    ("/explorer/", "Block explorer"),
    ("/marketplace/", "GPU marketplace"),
    ("/Exchange", "AITBC/BTC exchange (/exchange redirects here)"),
    (
        "/wallet/",
        "Browser wallet (the wallet daemon API will live under /wallet/v1/)",
    ),
    (
        "/docs/",
        "This page; the API references are /docs/api/coordinator and /docs/api/rpc",
    ),
    ("/health", "JSON status of the server and its components"),
    (
        "/api/",
        "Coordinator API (/api/x is the coordinator's /v1/x)",
    ),
    (
        "/v1/",
        "Coordinator API under its original prefix; its OpenAPI description is /v1/openapi.json",
    ),
    (
        "/rpc/",
        "Chain node RPC; its OpenAPI description is /rpc/openapi.json",
    ),
    ("/admin/", "Coordinator admin API"),
];

/// The docs page.
#[component]
pub fn Docs() -> impl IntoView {
    view! {
        <Title text="Docs" />
        <h1 class="text-3xl font-bold">"Documentation"</h1>
        <p class="mt-4 max-w-2xl text-muted">
            "Every part of AITBC is served from this one origin. API routes answer in JSON; an unknown route answers 404 with a JSON error body."
        </p>
        <ul id="api-references" class="mt-4 list-disc pl-6 text-sm">
            <li><a class="underline" href="/docs/api/coordinator">"Coordinator API reference"</a>": jobs, miners, receipts, payments, the marketplace, sign-in and admin"</li>
            <li><a class="underline" href="/docs/api/rpc">"Chain node RPC reference"</a>": blocks, transactions, accounts, the faucet and the live feed"</li>
        </ul>
        <table id="paths" class="mt-6 w-full max-w-3xl text-left text-sm">
            <thead class="border-b border-line text-muted">
                <tr>
                    <th class="py-2 pr-4 font-medium">"Path"</th>
                    <th class="py-2 font-medium">"What answers"</th>
                </tr>
            </thead>
            <tbody>
                {PATHS
                    .iter()
                    .map(|(path, what)| {
                        view! {
                            <tr class="border-b border-line/50">
                                <td class="py-2 pr-4 font-mono">{*path}</td>
                                <td class="py-2">{*what}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
