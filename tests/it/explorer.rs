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

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_page_goes_from_pending_to_included_and_verifies_its_proof()
-> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let treasury = chain::keyfile::read(&server.data_dir().join("chain/treasury.key"))?;
    let to = types::Address([7; 20]);
    let browser = Browser::launch(1280, 900).await?;
    let send = |nonce: u64| {
        let tx = types::Transaction {
            chain_id: "aitbc-devnet".into(),
            sender: treasury.public_key(),
            nonce,
            fee: types::Amount(10_000),
            body: types::TxBody::Transfer {
                to,
                amount: types::Amount(1_000_000),
            },
        }
        .sign(&treasury);
        let http = http.clone();
        let url = server.at("/rpc/sendTx");
        async move {
            let response = http.post(url).json(&tx).send().await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.text().await?);
            Ok::<_, anyhow::Error>(tx.hash().to_hex())
        }
    };
    // A block in this slot takes the first transaction; the second then waits for the next
    // slot, long enough to watch it pending (tried again if the slot was about to end).
    let mut watched = None;
    for attempt in 0..4u64 {
        let first = send(attempt * 2).await?;
        loop {
            let body: Value = http
                .get(server.at(&format!("/rpc/tx/{first}")))
                .send()
                .await?
                .json()
                .await?;
            if body["status"] != "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let second = send(attempt * 2 + 1).await?;
        let tab = browser
            .open(&server.at(&format!("/explorer/tx/{second}")))
            .await?;
        tab.hydrated().await?;
        // Status and proof read at one moment: the page follows the transaction live, and a
        // block may include it between two reads.
        let (status, proof): (Option<String>, Option<String>) = serde_json::from_str(
            &tab.eval::<String>(
                "JSON.stringify([document.querySelector('#tx-status')?.dataset.status, \
                 document.querySelector('#tx-proof span')?.dataset.proof])",
            )
            .await?,
        )?;
        if status.as_deref() == Some("pending") {
            assert_eq!(
                proof.as_deref(),
                Some("none"),
                "a pending transaction shows no proof"
            );
            watched = Some((tab, second));
            break;
        }
    }
    let (tab, hash) =
        watched.ok_or_else(|| anyhow::anyhow!("never caught a transaction pending"))?;
    tab.eval::<bool>("(window.__aitbc_marker = true)").await?;
    if let Err(e) = tab
        .wait_for(
            "document.querySelector('#tx-status')?.dataset.status === 'included'",
            Duration::from_secs(5),
        )
        .await
    {
        let entries: String = tab
            .eval("JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))")
            .await?;
        let html: String = tab.eval("document.querySelector('#tx-detail') ? document.querySelector('#tx-detail').outerHTML : document.body.innerHTML.slice(0, 2000)").await?;
        let rpc: Value = http
            .get(server.at(&format!("/rpc/tx/{hash}")))
            .send()
            .await?
            .json()
            .await?;
        anyhow::bail!("{e}\n{entries}\n{html}\nrpc: {rpc}");
    }
    tab.wait_for(
        "document.querySelector('#tx-proof [data-proof=verified]') !== null",
        Duration::from_secs(5),
    )
    .await?;
    assert!(
        tab.eval::<bool>("window.__aitbc_marker === true").await?,
        "the page reloaded"
    );
    let problems = tab.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");

    // The same page with a corrupted proof (test hook) says so.
    let tampered = browser
        .open(&server.at(&format!("/explorer/tx/{hash}?tamper=proof")))
        .await?;
    tampered.hydrated().await?;
    tampered
        .wait_for(
            "document.querySelector('#tx-proof [data-proof=failed]') !== null",
            Duration::from_secs(5),
        )
        .await?;

    // Unknown and malformed hashes get the not-found page, not an error.
    for bad in ["0".repeat(64), "zz".to_owned()] {
        let html = http
            .get(server.at(&format!("/explorer/tx/{bad}")))
            .send()
            .await?
            .text()
            .await?;
        assert!(html.contains("No such transaction"), "{bad}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn search_leads_to_each_kind_of_page_and_garbage_to_not_found() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let to = "ait1x36slx9at870e9rd53d2405n80s4ff94jsn0nq";
    let response = http
        .post(server.at("/rpc/faucet"))
        .json(&json!({ "address": to }))
        .send()
        .await?;
    let tx_hash = response.json::<Value>().await?["tx_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let block_hash = loop {
        let tx: Value = http
            .get(server.at(&format!("/rpc/tx/{tx_hash}")))
            .send()
            .await?
            .json()
            .await?;
        if tx["status"] != "pending" {
            let block: Value = http
                .get(server.at("/rpc/blocks/1"))
                .send()
                .await?
                .json()
                .await?;
            break block["hash"].as_str().expect("hash").to_owned();
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "not included");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Server-rendered pages carry their data for plain HTTP clients.
    let block_html = http
        .get(server.at("/explorer/block/1"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        block_html.contains(&block_hash) && block_html.contains(&tx_hash),
        "block page lacks its data"
    );
    let address_html = http
        .get(server.at(&format!("/explorer/address/{to}")))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        address_html.contains("100.000000"),
        "address page lacks the balance"
    );

    let browser = Browser::launch(1280, 900).await?;
    let tab = browser.open(&server.at("/explorer/")).await?;
    tab.hydrated().await?;
    let cases = [
        ("1".to_owned(), "/explorer/block/1".to_owned()),
        (block_hash.clone(), "/explorer/block/1".to_owned()),
        (tx_hash.clone(), format!("/explorer/tx/{tx_hash}")),
        (to.to_owned(), format!("/explorer/address/{to}")),
    ];
    for (query, path) in cases {
        tab.eval::<bool>("(document.querySelector('#explorer-search-input').value = '', true)")
            .await?;
        tab.type_into("#explorer-search-input", &query).await?;
        tab.click("#explorer-search button[type=submit]").await?;
        tab.wait_for(
            &format!("location.pathname === '{path}'"),
            Duration::from_secs(5),
        )
        .await?;
        tab.page.goto(server.at("/explorer/")).await?;
        tab.hydrated().await?;
    }
    for garbage in ["hello world", "99999", &"0".repeat(64)] {
        let url = server.at(&format!("/explorer/search?q={}", garbage.replace(' ', "+")));
        let response = http.get(url).send().await?;
        assert!(
            response.status().is_success(),
            "{garbage}: {}",
            response.status()
        );
        assert!(
            response.text().await?.contains("Nothing found"),
            "{garbage}"
        );
    }

    // The balance is checked in the browser against the head block; a tampered one fails.
    let page = browser
        .open(&server.at(&format!("/explorer/address/{to}")))
        .await?;
    page.hydrated().await?;
    page.wait_for(
        "document.querySelector('#address-proof [data-proof=verified]') !== null",
        Duration::from_secs(5),
    )
    .await?;
    let tampered = browser
        .open(&server.at(&format!("/explorer/address/{to}?tamper=balance")))
        .await?;
    tampered.hydrated().await?;
    tampered
        .wait_for(
            "document.querySelector('#address-proof [data-proof=failed]') !== null",
            Duration::from_secs(5),
        )
        .await?;
    for tab in [&tab, &page, &tampered] {
        let problems = tab.problems();
        assert!(problems.is_empty(), "console problems: {problems:#?}");
    }
    Ok(())
}
