//! The explorer's lists and detail pages with a little history on chain: served with their data to plain HTTP clients, paged, exported as CSV, usable at phone width, and photographed at desktop and phone widths for people to look at.

use std::time::Duration;

use serde_json::Value;
use tests::{Browser, Server, screenshot_dir};
use types::{Address, Amount, SignedTransaction, Transaction, TxBody};

/// Transfers the treasury sends to one address: more than a page of its history (25).
const TRANSFERS: u64 = 30;

async fn included(http: &reqwest::Client, server: &Server, hash: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let tx: Value = http
            .get(server.at(&format!("/rpc/tx/{hash}")))
            .send()
            .await?
            .json()
            .await?;
        if tx["status"] != "pending" {
            anyhow::ensure!(tx["block_height"].is_u64(), "{hash}: {tx}");
            return Ok(tx);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{hash} not included"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn page(http: &reqwest::Client, server: &Server, path: &str) -> anyhow::Result<String> {
    let response = http.get(server.at(path)).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    Ok(response.text().await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_pages_export_and_phone_layout() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let treasury = chain::keyfile::read(&server.data_dir().join("chain/treasury.key"))?;
    let to = Address([9; 20]);
    let txs: Vec<SignedTransaction> = (0..TRANSFERS)
        .map(|nonce| {
            Transaction {
                chain_id: "aitbc-devnet".into(),
                sender: treasury.public_key(),
                nonce,
                fee: Amount(10_000),
                body: TxBody::Transfer {
                    to,
                    amount: Amount(1_000_000 * (nonce + 1)),
                },
            }
            .sign(&treasury)
        })
        .collect();
    for tx in &txs {
        let response = http.post(server.at("/rpc/sendTx")).json(tx).send().await?;
        anyhow::ensure!(response.status().is_success(), "{}", response.text().await?);
    }
    let last = txs.last().expect("transfers").hash().to_hex();
    let last_block = included(&http, &server, &last).await?["block_height"]
        .as_u64()
        .expect("height");

    // Plain HTTP: every list carries its data in the HTML.
    let home = page(&http, &server, "/explorer/").await?;
    assert!(
        home.contains(&format!("data-tx=\"{last}\"")),
        "home lacks the latest transaction"
    );
    let blocks = page(&http, &server, "/explorer/blocks").await?;
    assert!(
        blocks.contains(&format!("data-height=\"{last_block}\"")),
        "blocks list lacks the head"
    );
    let first_page = page(&http, &server, "/explorer/blocks?before=1").await?;
    assert!(
        first_page.contains("data-height=\"0\"") && !first_page.contains("data-height=\"1\""),
        "the oldest page holds genesis only"
    );
    assert!(
        first_page.contains("id=\"blocks-newer\""),
        "no way back to newer blocks"
    );
    let accounts = page(&http, &server, "/explorer/accounts").await?;
    let treasury_address = Address::of(&treasury.public_key()).to_string();
    assert!(
        accounts.contains(&treasury_address),
        "the rich list lacks the treasury"
    );
    assert!(
        accounts.contains(&to.to_string()),
        "the rich list lacks the recipient"
    );
    let network = page(&http, &server, "/explorer/network").await?;
    assert!(
        network.contains("this node"),
        "the network page does not mark this node"
    );
    assert!(
        network.contains("id=\"network-no-peers\""),
        "a lone node has no peers"
    );
    let mempool = page(&http, &server, "/explorer/mempool").await?;
    assert!(mempool.contains("id=\"mempool-count\""));
    // No job has been paid yet: the receipts page says so rather than showing anything.
    let receipts = page(&http, &server, "/explorer/receipts").await?;
    assert!(receipts.contains("id=\"receipts-empty\""));
    let jobs = page(&http, &server, "/explorer/jobs").await?;
    assert!(
        jobs.contains("id=\"jobs-empty\""),
        "the coordinator has no jobs yet"
    );

    // The address's history pages: 25 on the first, the rest on the second, and a chart.
    let address_path = format!("/explorer/address/{to}");
    let first = page(&http, &server, &address_path).await?;
    assert_eq!(first.matches("data-direction=\"received\"").count(), 25);
    assert!(first.contains("id=\"history-older\""));
    assert!(first.contains(&format!(
        "data-points=\"{}\"",
        count_blocks(&http, &server, &txs).await?
    )));
    let second = page(&http, &server, &format!("{address_path}?page=1")).await?;
    assert_eq!(
        second.matches("data-direction=\"received\"").count(),
        (TRANSFERS - 25) as usize
    );
    assert!(second.contains("id=\"history-newer\"") && !second.contains("id=\"history-older\""));

    // The CSV export: a header and every transfer, oldest first, amounts in AITBC.
    let response = http
        .get(server.at(&format!("/rpc/address/{to}/history.csv")))
        .send()
        .await?;
    assert_eq!(
        response.headers()["content-type"].to_str()?,
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len() as u64, TRANSFERS + 1, "{csv}");
    assert!(lines[0].starts_with("tx_hash,block_height,timestamp,type,direction"));
    assert!(lines[1].starts_with(&txs[0].hash().to_hex()));
    assert!(lines[1].contains(",transfer,received,") && lines[1].ends_with(",1,0.01,0"));
    let bad = http
        .get(server.at("/rpc/address/not-an-address/history.csv"))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);

    // In the browser: times become relative, copy buttons copy, and nothing complains.
    let browser = Browser::launch(1280, 900).await?;
    let tx_path = format!("/explorer/tx/{last}");
    let block_path = format!("/explorer/block/{last_block}");
    let pages = [
        ("home", "/explorer/".to_owned()),
        ("block", block_path),
        ("tx", tx_path),
        ("address", address_path),
    ];
    for (name, path) in &pages {
        let tab = browser.open(&server.at(path)).await?;
        tab.hydrated().await?;
        let relative = tab
            .wait_for(
                "[...document.querySelectorAll('time')].some(t => /ago|just now/.test(t.textContent))",
                Duration::from_secs(5),
            )
            .await;
        if relative.is_err() {
            let times: String = tab
                .eval("JSON.stringify([...document.querySelectorAll('time')].map(t => t.textContent))")
                .await?;
            anyhow::bail!("{path}: times stay absolute: {times}");
        }
        tab.screenshot(&format!("desktop-{name}")).await?;
        let problems = tab.problems();
        assert!(
            problems.is_empty(),
            "{path}: console problems: {problems:#?}"
        );
    }
    let tab = browser
        .open(&server.at(&format!("/explorer/tx/{last}")))
        .await?;
    tab.hydrated().await?;
    tab.grant_clipboard(&server.at("/")).await?;
    // The page follows the chain live: a block arriving between the click and the look redraws
    // the details, button included, which then reads "Copy" again. A person would click again.
    let mut said_copied = Err(anyhow::anyhow!("never clicked"));
    for _ in 0..5 {
        tab.click("#tx-detail .copy").await?;
        said_copied = tab
            .wait_for(
                "document.querySelector('#tx-detail .copy').textContent === 'Copied'",
                Duration::from_secs(1),
            )
            .await;
        if said_copied.is_ok() {
            break;
        }
    }
    said_copied?;
    let copied: String = tab.eval("navigator.clipboard.readText()").await?;
    assert_eq!(
        copied, treasury_address,
        "the sender's copy button copies the sender"
    );

    // At phone width nothing sticks out sideways.
    let phone = Browser::launch(390, 844).await?;
    for (name, path) in &pages {
        let tab = phone.open(&server.at(path)).await?;
        tab.hydrated().await?;
        let overflow = tab.horizontal_overflow().await?;
        if overflow > 0 {
            let culprits: String = tab
                .eval(
                    "JSON.stringify([...document.querySelectorAll('body *')] \
                     .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1) \
                     .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className))",
                )
                .await?;
            panic!("{path} is {overflow} px wider than a phone; sticking out: {culprits}");
        }
        tab.screenshot(&format!("phone-{name}")).await?;
    }
    println!("screenshots: {}", screenshot_dir().display());
    Ok(())
}

/// How many blocks changed the recipient's balance: one chart point each.
async fn count_blocks(
    http: &reqwest::Client,
    server: &Server,
    txs: &[SignedTransaction],
) -> anyhow::Result<usize> {
    let mut heights = std::collections::BTreeSet::new();
    for tx in txs {
        heights.insert(included(http, server, &tx.hash().to_hex()).await?["block_height"].as_u64());
    }
    Ok(heights.len())
}
