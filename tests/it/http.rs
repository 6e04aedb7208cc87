//! The server process over plain HTTP: pages render on the server, paths answer as documented, bad input gets structured errors, and SIGTERM stops it cleanly.

use reqwest::{StatusCode, redirect::Policy};
use serde_json::Value;
use tests::Server;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("http client")
}

#[tokio::test]
async fn pages_are_rendered_on_the_server() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = client();
    let cases = [
        ("/", "A market for AI compute"),
        ("/explorer/", "Latest blocks"),
        ("/marketplace/", "No GPU offers online."),
        ("/Exchange", "No orders"),
        ("/wallet/", "Create a wallet"),
        ("/docs/", "/rpc/"),
    ];
    for (path, text) in cases {
        let response = http.get(server.at(path)).send().await?;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()?
            .to_owned();
        let html = response.text().await?;
        assert!(html.contains(text), "{path} lacks {text:?}");
        // The hydration bootstrap carries the nonce that the policy allows.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("nonce in CSP");
        assert!(
            html.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: script nonce differs from the CSP's"
        );
    }
    Ok(())
}

#[tokio::test]
async fn documented_paths_answer_as_documented() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = client();

    let response = http.get(server.at("/exchange")).send().await?;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers()["location"], "/Exchange");

    let response = http.get(server.at("/health")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    let health: Value = response.json().await?;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["components"]["site"]["status"], "ok");
    assert_eq!(health["components"]["storage"]["status"], "ok");

    let response = http.get(server.at("/no/such/page")).send().await?;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await?.contains("Page not found"));

    for path in [
        "/api/no-such-route",
        "/v1/no-such-route",
        "/rpc/no-such-route",
        "/admin/no-such-route",
    ] {
        let response = http
            .post(server.at(path))
            .header("x-request-id", "test-42")
            .body("{not json")
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await?;
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{path}: {body}");
        assert_eq!(body["error"]["status"], 404);
        assert_eq!(body["request_id"], "test-42");
    }
    // A real route refuses a body that is not JSON with the same structured shape.
    let response = http
        .post(server.at("/api/jobs"))
        .header("x-request-id", "test-43")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "MALFORMED_JSON", "{body}");
    assert_eq!(body["request_id"], "test-43");
    Ok(())
}

#[tokio::test]
async fn sigterm_and_sigint_stop_the_server_cleanly() -> anyhow::Result<()> {
    for signal in ["TERM", "INT"] {
        let server = Server::start().await?;
        let url = server.at("/health");
        assert!(client().get(&url).send().await?.status().is_success());
        assert!(
            server.stop_with(signal).await?,
            "the server did not exit with status 0 after SIG{signal}"
        );
        assert!(
            client().get(&url).send().await.is_err(),
            "still answering after SIG{signal}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn without_a_chain_the_explorer_says_so() -> anyhow::Result<()> {
    let options = tests::Options {
        args: vec!["--no-chain".into()],
        ..Default::default()
    };
    let server = Server::start_with_options(tests::Site::Default, options).await?;
    let html = client()
        .get(server.at("/explorer/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(html.contains("No chain node connected"), "{html}");
    assert!(!html.contains("Latest blocks"));
    Ok(())
}

#[tokio::test]
async fn the_api_references_show_every_route_of_their_openapi_documents() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = client();
    for (page, document) in [
        ("/docs/api/coordinator", "/v1/openapi.json"),
        ("/docs/api/rpc", "/rpc/openapi.json"),
    ] {
        let doc: serde_json::Value = http.get(server.at(document)).send().await?.json().await?;
        let html = http.get(server.at(page)).send().await?.text().await?;
        let mut routes = 0;
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                let route = format!("data-route=\"{method} {path}\"");
                assert!(html.contains(&route), "{page} lacks {method} {path}");
                routes += 1;
            }
        }
        assert!(routes > 20, "{document} has only {routes} routes");
        assert!(
            html.contains(&format!("href=\"{document}\"")),
            "{page} links its document"
        );
    }
    let unknown = http
        .get(server.at("/docs/api/nothing"))
        .send()
        .await?
        .text()
        .await?;
    assert!(unknown.contains("api-unknown"));
    Ok(())
}
