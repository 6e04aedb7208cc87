//! The explorer in a real browser: the home page renders the chain on the server and shows a new block within a second of its production, without a reload.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{Browser, Server};

#[tokio::test(flavor = "multi_thread")]
async fn a_new_block_appears_on_the_home_page_within_a_second() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let html = http
        .get(server.at("/explorer/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("id=\"head-height\""),
        "the head is not rendered on the server"
    );
    assert!(
        html.contains("aitbc-devnet"),
        "the chain id is not rendered on the server"
    );

    let browser = Browser::launch(1280, 900).await?;
    let tab = browser.open(&server.at("/explorer/")).await?;
    tab.hydrated().await?;
    let head: Value = http
        .get(server.at("/rpc/head"))
        .send()
        .await?
        .json()
        .await?;
    let next = head["height"].as_u64().expect("height") + 1;
    // Note when the row appears, in the browser's clock, and that the page never reloads.
    tab.eval::<bool>(&format!(
        "(window.__aitbc_marker = true, new MutationObserver(() => {{
            if (!window.__seen && document.querySelector('#latest-blocks tr[data-height=\"{next}\"]')) {{ window.__seen = Date.now(); }}
        }}).observe(document.body, {{ subtree: true, childList: true }}), true)"
    ))
    .await?;

    // A transaction makes the devnet produce the next block.
    let response = http
        .post(server.at("/rpc/faucet"))
        .json(&json!({ "address": "ait1x36slx9at870e9rd53d2405n80s4ff94jsn0nq" }))
        .send()
        .await?;
    assert!(response.status().is_success(), "{}", response.text().await?);
    tab.wait_for("window.__seen !== undefined", Duration::from_secs(10))
        .await?;
    let seen_ms: f64 = tab.eval("window.__seen").await?;
    let block: Value = http
        .get(server.at(&format!("/rpc/blocks/{next}")))
        .send()
        .await?
        .json()
        .await?;
    let produced_ms = block["timestamp_ms"].as_u64().expect("timestamp") as f64;
    let delay_ms = seen_ms - produced_ms;
    assert!(
        delay_ms < 1_000.0,
        "the block showed {delay_ms} ms after it was produced"
    );
    assert!(
        tab.eval::<bool>("window.__aitbc_marker === true").await?,
        "the page reloaded"
    );
    let shown: String = tab.text("#head-height").await?;
    assert_eq!(shown.replace(',', ""), next.to_string());
    let problems = tab.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    Ok(())
}
