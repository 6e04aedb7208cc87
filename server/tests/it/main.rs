//! The server's router, called in process with `oneshot`: structured errors for bad input, health, security headers.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
    routing::{get, post},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::{ApiJson, AppState, Config, app, with_common_layers};
use tower::ServiceExt;

fn config(site_root: &std::path::Path, data_dir: &std::path::Path) -> Config {
    Config {
        site_root: site_root.to_path_buf(),
        api_only: false,
        no_wallet: false,
        ..Config::nothing(
            "127.0.0.1:0".parse().expect("address"),
            data_dir.to_path_buf(),
        )
    }
}

/// The whole app on fresh, empty site and data folders, with no chain node.
fn fresh_app() -> (Router, (tempfile::TempDir, tempfile::TempDir)) {
    let dirs = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    (
        app(AppState::new(config(dirs.0.path(), dirs.1.path()))),
        dirs,
    )
}

async fn get_path(router: &Router, path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    send(
        router.clone(),
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

/// One test at a time. Each test runs its own Tokio runtime, and Leptos's server side, working in
/// two runtimes of one process at once (building the route list in one while rendering in the
/// other), now and then never finishes: about one run of this file in fifteen hung. A server has
/// one runtime and is not affected (the load runs of `./x bench` render thousands of pages
/// concurrently); these tests take turns instead.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Greeting {
    name: String,
    times: u8,
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

/// A router with one JSON route and one panicking route behind the server's common layers.
fn probe_router() -> Router {
    let routes = Router::new()
        .route(
            "/echo",
            post(|ApiJson(g): ApiJson<Greeting>| async move { ApiJson(g) }),
        )
        .route("/boom", get(boom))
        .layer(axum::extract::DefaultBodyLimit::max(1024));
    with_common_layers(routes)
}

fn post_json(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(body.into()).expect("request")
}

#[tokio::test]
async fn bad_json_bodies_get_structured_4xx_errors() {
    let _turn = one_at_a_time().await;
    let big = format!("{{\"name\":\"{}\",\"times\":1}}", "x".repeat(4096));
    let cases: [(&str, Option<&str>, String, StatusCode, &str); 6] = [
        (
            "ok",
            Some("application/json"),
            r#"{"name":"ada","times":2}"#.into(),
            StatusCode::OK,
            "",
        ),
        (
            "syntax",
            Some("application/json"),
            "{\"name\":".into(),
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
        ),
        (
            "wrong type",
            Some("application/json"),
            r#"{"name":"ada","times":"two"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
        ),
        (
            "out of range",
            Some("application/json"),
            r#"{"name":"ada","times":300}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
        ),
        (
            "no content type",
            None,
            r#"{"name":"ada","times":2}"#.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "too large",
            Some("application/json"),
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (name, content_type, body, want_status, want_code) in cases {
        let (status, _, bytes) = send(probe_router(), post_json("/echo", content_type, body)).await;
        assert_eq!(status, want_status, "case {name}");
        let body = json_of(&bytes);
        if want_status == StatusCode::OK {
            assert_eq!(body, json!({"name": "ada", "times": 2}));
            continue;
        }
        assert_eq!(body["error"]["code"], want_code, "case {name}: {body}");
        assert_eq!(body["error"]["status"], want_status.as_u16(), "case {name}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "case {name}"
        );
        assert!(
            body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "case {name}"
        );
        assert!(
            body["request_id"].as_str().is_some_and(|id| id.len() == 32),
            "case {name}: {body}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_without_internals() {
    let _turn = one_at_a_time().await;
    let (status, _, bytes) = send(
        probe_router(),
        Request::get("/boom").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = json_of(&bytes);
    assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
    assert!(
        !String::from_utf8_lossy(&bytes).contains("handler bug"),
        "panic text leaked: {body}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_replaced_otherwise() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    for (sent, echoed) in [("abc-123", true), ("has space", false), ("", false)] {
        let request = Request::get("/api/nothing")
            .header("x-request-id", sent)
            .body(Body::empty())
            .expect("request");
        let (status, headers, bytes) = send(router.clone(), request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body = json_of(&bytes);
        assert_eq!(body["error"]["message"], "no route for GET /api/nothing");
        let id = body["request_id"].as_str().expect("request id");
        assert_eq!(headers["x-request-id"], id);
        assert_eq!(id == sent, echoed, "sent {sent:?}, got {id:?}");
    }
}

#[tokio::test]
async fn health_reports_a_missing_site_bundle() {
    let _turn = one_at_a_time().await;
    let (router, dirs) = fresh_app();
    let (status, _, bytes) = get_path(&router, "/health").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the APIs still work without the bundle"
    );
    let body = json_of(&bytes);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["components"]["site"]["status"], "down");
    assert_eq!(body["components"]["storage"]["status"], "ok");

    let pkg = dirs.0.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    for file in ["aitbc.js", "aitbc_bg.wasm", "aitbc.css"] {
        std::fs::write(pkg.join(file), b"x").expect("write");
    }
    let (status, _, bytes) = get_path(&router, "/health").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(json_of(&bytes)["status"], "ok");
}

#[tokio::test]
async fn health_is_down_when_the_data_folder_cannot_be_written() {
    let _turn = one_at_a_time().await;
    let site = tempfile::tempdir().expect("dir");
    let data = tempfile::tempdir().expect("dir");
    let router = app(AppState::new(config(
        site.path(),
        &data.path().join("gone"),
    )));
    let (status, _, bytes) = get_path(&router, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(&bytes);
    assert_eq!(body["status"], "down");
    assert_eq!(body["components"]["storage"]["status"], "down");
    assert!(
        !String::from_utf8_lossy(&bytes).contains("gone"),
        "path leaked: {body}"
    );
}

#[tokio::test]
async fn pages_and_apis_carry_a_content_security_policy() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    let (status, headers, _) = get_path(&router, "/explorer/").await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let (_, headers, _) = get_path(&router, "/health").await;
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn unknown_pages_get_the_styled_404_page() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    for path in ["/nope", "/explorer/nope/deeper", "/%FF%FE"] {
        let (status, headers, bytes) = get_path(&router, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            String::from_utf8_lossy(&bytes).contains("Page not found"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn api_prefixes_answer_json_even_bare() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    for path in [
        "/api",
        "/api/",
        "/v1/",
        "/rpc/",
        "/admin/",
        "/rpc/no-such-route",
        "/api/jobs/x/y",
    ] {
        let (status, headers, bytes) = get_path(&router, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{path}");
        assert_eq!(
            json_of(&bytes)["error"]["message"],
            format!("no route for GET {path}")
        );
    }
}

#[tokio::test]
async fn redirects_are_301_and_keep_the_query() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    let cases = [
        ("/exchange", "/Exchange"),
        ("/exchange?pair=AITBC-BTC", "/Exchange?pair=AITBC-BTC"),
        ("/explorer", "/explorer/"),
        ("/wallet", "/wallet/"),
    ];
    for (from, to) in cases {
        let (status, headers, _) = get_path(&router, from).await;
        assert_eq!(status, StatusCode::MOVED_PERMANENTLY, "{from}");
        assert_eq!(headers[header::LOCATION], to, "{from}");
    }
}

#[tokio::test]
async fn the_bundle_is_revalidated_and_the_404_page_has_a_policy() {
    let _turn = one_at_a_time().await;
    let site = tempfile::tempdir().expect("dir");
    let data = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
    std::fs::write(site.path().join("pkg/aitbc.js"), "export default 1;").expect("write");
    let router = app(AppState::new(config(site.path(), data.path())));
    let (status, headers, _) = get_path(&router, "/pkg/aitbc.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let (status, headers, _) = get_path(&router, "/missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("'nonce-"), "{csp}");
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_a_json_405() {
    let _turn = one_at_a_time().await;
    let (router, _dirs) = fresh_app();
    let (status, _, bytes) = send(
        router,
        Request::delete("/rpc/sendTx")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json_of(&bytes)["error"]["code"], "METHOD_NOT_ALLOWED");
}

/// The route paths registered in `rpc/mod.rs`, read from its source.
fn registered_rpc_paths() -> std::collections::BTreeSet<String> {
    registered_paths(
        include_str!("../../src/rpc/mod.rs"),
        "pub fn router()",
        None,
    )
}

#[test]
fn every_rpc_route_is_in_the_openapi_document_and_nothing_else() {
    let document: Value = serde_json::from_str(server::RPC_OPENAPI).expect("valid JSON");
    let documented: std::collections::BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let registered = registered_rpc_paths();
    assert!(registered.len() > 15, "found only {registered:?}");
    assert_eq!(
        documented, registered,
        "OpenAPI paths and router paths differ"
    );
}

/// The paths registered with `.route(` in `source` between `from` and `to` (or its end): the
/// path is the first string literal, wherever rustfmt put it.
fn registered_paths(
    source: &str,
    from: &str,
    to: Option<&str>,
) -> std::collections::BTreeSet<String> {
    let start = source.find(from).expect("router function");
    let end = to
        .and_then(|t| source[start..].find(t))
        .map_or(source.len(), |e| start + e);
    source[start..end]
        .split(".route(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_coordinator_route_is_in_its_openapi_document_and_nothing_else() {
    let document: Value = serde_json::from_str(server::COORDINATOR_OPENAPI).expect("valid JSON");
    let documented: std::collections::BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let source = include_str!("../../src/coordinator_api/mod.rs");
    let mut registered = registered_paths(source, "pub fn router()", Some("pub fn admin_router()"));
    registered.extend(
        registered_paths(source, "pub fn admin_router()", None)
            .into_iter()
            .map(|p| format!("/admin{p}")),
    );
    assert!(registered.len() > 25, "found only {registered:?}");
    assert_eq!(
        documented, registered,
        "OpenAPI paths and router paths differ"
    );
}
