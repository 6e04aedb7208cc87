//! The HTML side: Leptos server rendering of every UI path, the Content-Security-Policy with a per-response nonce, the theme from its cookie, redirects to canonical paths, and static files.

use axum::{
    Router,
    extract::Request,
    http::Uri,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use leptos::{config::LeptosOptions, nonce::use_nonce, prelude::*};
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list};
use site::{App, BUNDLE_NAME, Theme, shell};

use crate::config::Config;

/// Paths that people type without their trailing slash, or in the wrong case, and where they belong.
const REDIRECTS: [(&str, &str); 5] = [
    ("/exchange", "/Exchange"),
    ("/explorer", "/explorer/"),
    ("/marketplace", "/marketplace/"),
    ("/wallet", "/wallet/"),
    ("/docs", "/docs/"),
];

/// The policy for HTML pages. Scripts run only from this origin or with this response's nonce
/// (the hydration bootstrap); `'wasm-unsafe-eval'` lets the browser compile the WASM bundle.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The policy for everything that is not a page (JSON, static files).
pub const NON_PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Runs inside every Leptos render, after leptos_axum has provided the request and a nonce.
fn request_context() {
    let theme = use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .map(Theme::from_cookie_header)
        })
        .unwrap_or_default();
    provide_context(theme);
    if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>())
        && let Ok(value) = HeaderValue::from_str(&page_csp(&nonce))
    {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// A 301 to `to` that keeps the request's query string.
fn redirect(to: &str, uri: &Uri) -> Response {
    let location = match uri.query() {
        Some(query) => format!("{to}?{query}"),
        None => to.to_owned(),
    };
    match HeaderValue::from_str(&location) {
        Ok(location) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Middleware: the bundle under `/pkg/` keeps its name across builds, so browsers must revalidate
/// it (cheaply, by `Last-Modified`) rather than run a stale bundle against new HTML.
pub async fn revalidate_bundle(request: Request, next: Next) -> Response {
    let bundle = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if bundle {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

/// Leptos options built from our config rather than from cargo-leptos metadata.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .env(if cfg!(debug_assertions) {
            leptos::config::Env::DEV
        } else {
            leptos::config::Env::PROD
        })
        .build()
}

/// The OpenAPI documents the reference pages under `/docs/api/` show.
const API_DOCUMENTS: site::ApiDocuments = site::ApiDocuments(&[
    (
        "coordinator",
        crate::coordinator_api::OPENAPI,
        "/v1/openapi.json",
    ),
    ("rpc", crate::rpc::OPENAPI, "/rpc/openapi.json"),
]);

/// Every HTML route, the redirects, and the fallback that serves static files or the 404 page.
///
/// Pages and their server functions find the chain node and the coordinator in Leptos's context.
pub fn router<S>(
    options: LeptosOptions,
    node: Option<chain::Node>,
    coordinator: Option<coordinator::Coordinator>,
) -> Router<S> {
    let routes = generate_route_list(App);
    let context = move || {
        request_context();
        provide_context(API_DOCUMENTS);
        if let Some(coordinator) = &coordinator {
            provide_context(coordinator.clone());
        }
        if let Some(node) = &node {
            provide_context(node.clone());
        }
    };
    let mut router = Router::new();
    for (from, to) in REDIRECTS {
        // 301 rather than axum's 308: the earlier nginx answered 301 and clients expect it.
        router = router.route(from, get(move |uri: Uri| async move { redirect(to, &uri) }));
    }
    router
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
}
