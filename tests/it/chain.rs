//! The chain through the one-process server's RPC: signed transfers and faucet mints are included and move exactly the right amounts, and bad input is refused with a structured reason.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::Server;
use types::{Address, Amount, SecretKey, SignedTransaction, Transaction, TxBody};

struct Chain<'a> {
    server: &'a Server,
    http: reqwest::Client,
    chain_id: String,
}

impl Chain<'_> {
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = self.http.get(self.server.at(path)).send().await?;
        Ok((response.status(), response.json().await?))
    }

    async fn send(&self, tx: &SignedTransaction) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(self.server.at("/rpc/sendTx"))
            .json(tx)
            .send()
            .await?;
        Ok((response.status(), response.json().await?))
    }

    async fn balance(&self, address: &Address) -> anyhow::Result<u64> {
        let (_, body) = self.get(&format!("/rpc/getBalance/{address}")).await?;
        body["balance"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no balance in {body}"))
    }

    async fn nonce(&self, address: &Address) -> anyhow::Result<u64> {
        let (_, body) = self.get(&format!("/rpc/getBalance/{address}")).await?;
        body["nonce"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no nonce in {body}"))
    }

    async fn supply(&self) -> anyhow::Result<u64> {
        let (_, body) = self.get("/rpc/addresses?limit=100").await?;
        let listed: u64 = body["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["balance"].as_u64())
            .sum();
        assert_eq!(
            Some(listed),
            body["total_supply"].as_u64(),
            "the listed balances do not add up to the supply"
        );
        Ok(listed)
    }

    fn tx(&self, from: &SecretKey, nonce: u64, fee: u64, body: TxBody) -> SignedTransaction {
        Transaction {
            chain_id: self.chain_id.clone(),
            sender: from.public_key(),
            nonce,
            fee: Amount(fee),
            body,
        }
        .sign(from)
    }

    async fn wait_included(&self, hash: &str) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = self.get(&format!("/rpc/tx/{hash}")).await?;
            if status == StatusCode::OK && body["status"] != "pending" {
                return Ok(body);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{hash} not included: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn fresh_key(byte: u8) -> SecretKey {
    let mut seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(31) ^ byte);
    seed[0] = byte;
    SecretKey::from_seed(&seed)
}

#[tokio::test(flavor = "multi_thread")]
async fn transfers_and_faucet_mints_move_exact_amounts() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let chain_dir = server.data_dir().join("chain");
    let treasury = chain::keyfile::read(&chain_dir.join("treasury.key"))?;
    let faucet = chain::keyfile::read(&chain_dir.join("faucet.key"))?;
    let authority = chain::keyfile::read(&chain_dir.join("authority.key"))?;
    let http = reqwest::Client::new();
    let (_, head) = {
        let response = http.get(server.at("/rpc/head")).send().await?;
        (response.status(), response.json::<Value>().await?)
    };
    let chain = Chain {
        server: &server,
        http,
        chain_id: head["chain_id"].as_str().unwrap_or_default().to_owned(),
    };
    assert_eq!(chain.chain_id, "aitbc-devnet");

    let (treasury_addr, proposer_addr) = (
        Address::of(&treasury.public_key()),
        Address::of(&authority.public_key()),
    );
    let (alice, bob) = (fresh_key(1), fresh_key(2));
    let (alice_addr, bob_addr) = (
        Address::of(&alice.public_key()),
        Address::of(&bob.public_key()),
    );
    let supply_before = chain.supply().await?;
    let treasury_before = chain.balance(&treasury_addr).await?;
    let proposer_before = chain.balance(&proposer_addr).await?;

    let (_, fee) = {
        let response = chain
            .http
            .post(server.at("/rpc/estimateFee"))
            .json(&json!({}))
            .send()
            .await?;
        (response.status(), response.json::<Value>().await?)
    };
    let fee = fee["estimated_fee"].as_u64().expect("fee");
    let transfer = chain.tx(
        &treasury,
        0,
        fee,
        TxBody::Transfer {
            to: alice_addr,
            amount: Amount(10_000_000),
        },
    );
    let (status, body) = chain.send(&transfer).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["tx_hash"], transfer.hash().to_hex());
    let mint = chain.tx(
        &faucet,
        0,
        0,
        TxBody::Faucet {
            to: bob_addr,
            amount: Amount(250_000_000),
        },
    );
    let (status, body) = chain.send(&mint).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let included = chain.wait_included(&transfer.hash().to_hex()).await?;
    assert_eq!(included["recipient"], alice_addr.to_string());
    chain.wait_included(&mint.hash().to_hex()).await?;

    assert_eq!(chain.balance(&alice_addr).await?, 10_000_000);
    assert_eq!(chain.balance(&bob_addr).await?, 250_000_000);
    assert_eq!(
        chain.balance(&treasury_addr).await?,
        treasury_before - 10_000_000 - fee
    );
    assert_eq!(chain.nonce(&treasury_addr).await?, 1);
    assert_eq!(
        chain.balance(&proposer_addr).await?,
        proposer_before + fee,
        "the proposer earns the fee"
    );
    assert_eq!(
        chain.supply().await?,
        supply_before + 250_000_000,
        "only the faucet mint adds to the supply"
    );

    // Alice passes money on: her first transaction, paid from what she received.
    let onward = chain.tx(
        &alice,
        0,
        fee,
        TxBody::Transfer {
            to: bob_addr,
            amount: Amount(1_000_000),
        },
    );
    assert_eq!(chain.send(&onward).await?.0, StatusCode::ACCEPTED);
    chain.wait_included(&onward.hash().to_hex()).await?;
    assert_eq!(
        chain.balance(&alice_addr).await?,
        10_000_000 - 1_000_000 - fee
    );
    assert_eq!(chain.balance(&bob_addr).await?, 251_000_000);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_structured_reason_and_changes_nothing() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let treasury = chain::keyfile::read(&server.data_dir().join("chain/treasury.key"))?;
    let chain = Chain {
        server: &server,
        http: reqwest::Client::new(),
        chain_id: "aitbc-devnet".into(),
    };
    let treasury_addr = Address::of(&treasury.public_key());
    let before = chain.balance(&treasury_addr).await?;
    let to = Address::of(&fresh_key(3).public_key());
    let transfer = |nonce: u64, amount: u64, fee: u64| {
        chain.tx(
            &treasury,
            nonce,
            fee,
            TxBody::Transfer {
                to,
                amount: Amount(amount),
            },
        )
    };

    let mut bad_signature = transfer(0, 1, 10_000);
    bad_signature.signature = transfer(0, 2, 10_000).signature;
    let mut wrong_chain = transfer(0, 1, 10_000).tx;
    wrong_chain.chain_id = "aitbc-mainnet".into();
    let wrong_chain = wrong_chain.sign(&treasury);
    let mut oversized = transfer(0, 1, 10_000).tx;
    oversized.chain_id = "x".repeat(2_000);
    let oversized = oversized.sign(&treasury);
    let poor = fresh_key(4);
    let cases = [
        (bad_signature, "BAD_SIGNATURE"),
        (wrong_chain, "WRONG_CHAIN"),
        (oversized, "OVERSIZED"),
        (transfer(5, 1, 10_000), "FUTURE_NONCE"),
        (transfer(0, 1, 1), "FEE_TOO_LOW"),
        (transfer(0, u64::MAX / 2, 10_000), "INSUFFICIENT_FUNDS"),
        (
            chain.tx(
                &poor,
                0,
                10_000,
                TxBody::Transfer {
                    to,
                    amount: Amount(1),
                },
            ),
            "INSUFFICIENT_FUNDS",
        ),
        (
            chain.tx(
                &treasury,
                0,
                0,
                TxBody::Faucet {
                    to,
                    amount: Amount(1),
                },
            ),
            "FAUCET_NOT_ALLOWED",
        ),
    ];
    for (tx, code) in cases {
        let (status, body) = chain.send(&tx).await?;
        assert!(status.is_client_error(), "{code}: {status} {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // A used nonce: include one transfer, then send another with the same nonce.
    let first = transfer(0, 1, 10_000);
    assert_eq!(chain.send(&first).await?.0, StatusCode::ACCEPTED);
    chain.wait_included(&first.hash().to_hex()).await?;
    let (status, body) = chain.send(&transfer(0, 2, 10_000)).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("STALE_NONCE")),
        "{body}"
    );

    let raw = |path: &'static str, body: &'static str| {
        chain
            .http
            .post(server.at(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw("/rpc/sendTx", "{\"chain_id\":").await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let huge = format!("{{\"chain_id\":\"{}\"}}", "x".repeat(100_000));
    let response = chain
        .http
        .post(server.at("/rpc/sendTx"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await?["error"]["code"],
        "PAYLOAD_TOO_LARGE"
    );
    let response = raw("/rpc/sendTx", "{\"chain_id\":\"aitbc-devnet\"}").await?;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for (path, want) in [
        ("/rpc/getBalance/ait1notanaddress", StatusCode::BAD_REQUEST),
        ("/rpc/blocks/99999999", StatusCode::NOT_FOUND),
        ("/rpc/blocks/-1", StatusCode::BAD_REQUEST),
        ("/rpc/tx/zz", StatusCode::BAD_REQUEST),
        ("/rpc/blocks-range?start=5&end=1", StatusCode::BAD_REQUEST),
        (
            "/rpc/blocks-range?start=0&end=5000",
            StatusCode::BAD_REQUEST,
        ),
        ("/rpc/transactions?limit=0", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = chain.get(path).await?;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    assert_eq!(
        chain.balance(&treasury_addr).await?,
        before - 1 - 10_000,
        "only the one valid transfer moved money"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_faucet_funds_an_address_once_a_minute_and_the_feed_shows_it() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let chain = Chain {
        server: &server,
        http: reqwest::Client::new(),
        chain_id: "aitbc-devnet".into(),
    };
    let mut feed = chain.http.get(server.at("/rpc/stream")).send().await?;
    assert_eq!(feed.headers()["content-type"], "text/event-stream");

    let to = Address::of(&fresh_key(5).public_key());
    let ask = |address: String| {
        chain
            .http
            .post(server.at("/rpc/faucet"))
            .json(&json!({ "address": address }))
            .send()
    };
    let response = ask(to.to_string()).await?;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await?;
    let hash = body["tx_hash"].as_str().expect("hash").to_owned();
    let again = ask(to.to_string()).await?;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        again.json::<Value>().await?["error"]["code"],
        "RATE_LIMITED"
    );
    assert_eq!(
        ask("ait1nope".into()).await?.status(),
        StatusCode::BAD_REQUEST
    );

    // The feed announces the pending transaction, then the block that includes it.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(seen.contains("event: transaction")
        && seen.contains("event: block")
        && seen.contains(&hash))
    {
        let chunk = tokio::time::timeout_at(deadline, feed.chunk())
            .await??
            .ok_or_else(|| anyhow::anyhow!("feed ended"))?;
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    chain.wait_included(&hash).await?;
    assert_eq!(chain.balance(&to).await?, 100_000_000);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_blocks_from_a_peer_are_refused_and_counted_in_metrics() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let authority = chain::keyfile::read(&server.data_dir().join("chain/authority.key"))?;
    let head: Value = http
        .get(server.at("/rpc/head"))
        .send()
        .await?
        .json()
        .await?;
    let height = head["height"].as_u64().expect("height");
    let range: Value = http
        .get(server.at(&format!(
            "/rpc/blocks-range?start={height}&end={height}&full=true"
        )))
        .send()
        .await?
        .json()
        .await?;
    let parent: types::Block = serde_json::from_value(range["blocks"][0].clone())?;
    assert_eq!(
        parent.header.height, 0,
        "an idle devnet should still be at genesis"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let header = types::BlockHeader {
        chain_id: parent.header.chain_id.clone(),
        height: height + 1,
        parent_hash: parent.hash(),
        // A fresh devnet without transactions is still at genesis, where any later time will do.
        timestamp_ms: now_ms.max(parent.header.timestamp_ms + 1),
        proposer: authority.public_key(),
        tx_root: types::Hash::ZERO,
        state_root: parent.header.state_root,
    };
    let forged = types::Block::seal(header.clone(), Vec::new(), &fresh_key(6));
    let outsider = types::Block::seal(
        types::BlockHeader {
            proposer: fresh_key(6).public_key(),
            ..header
        },
        Vec::new(),
        &fresh_key(6),
    );
    for (block, code) in [(forged, "BAD_SIGNATURE"), (outsider, "NOT_AN_AUTHORITY")] {
        let response = http
            .post(server.at("/rpc/importBlock"))
            .json(&block)
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.json::<Value>().await?["error"]["code"], code);
    }
    let metrics = http.get(server.at("/metrics")).send().await?.text().await?;
    for reason in ["bad_signature", "not_an_authority"] {
        let line = format!("aitbc_chain_rejected_blocks_total{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    let after: Value = http
        .get(server.at("/rpc/head"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        after["hash"], head["hash"],
        "a refused block moved the head"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn receipt_anchors_are_included_and_listed() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let treasury = chain::keyfile::read(&server.data_dir().join("chain/treasury.key"))?;
    let chain = Chain {
        server: &server,
        http: reqwest::Client::new(),
        chain_id: "aitbc-devnet".into(),
    };
    let receipt_hash = types::Hash::of(&[b"a signed receipt"]);
    let anchor = chain.tx(
        &treasury,
        0,
        10_000,
        TxBody::ReceiptAnchor {
            receipt_hash,
            job_id: "job-7".into(),
        },
    );
    let (status, body) = chain.send(&anchor).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let included = chain.wait_included(&anchor.hash().to_hex()).await?;
    assert_eq!(
        (included["type"].as_str(), included["recipient"].as_str()),
        (Some("receipt_anchor"), Some(""))
    );
    assert_eq!(included["job_id"], "job-7");

    let (status, list) = chain.get("/rpc/receipts").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(list["receipts"][0]["receipt_hash"], receipt_hash.to_hex());
    assert_eq!(
        list["receipts"][0]["anchored_by"],
        Address::of(&treasury.public_key()).to_string()
    );
    let (status, one) = chain
        .get(&format!("/rpc/receipts/{}", receipt_hash.to_hex()))
        .await?;
    assert_eq!(
        (status, one["tx_hash"].as_str()),
        (StatusCode::OK, Some(anchor.hash().to_hex().as_str()))
    );
    assert_eq!(
        chain
            .get(&format!("/rpc/receipts/{}", types::Hash::ZERO.to_hex()))
            .await?
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        chain.get("/rpc/receipts/nothex").await?.0,
        StatusCode::BAD_REQUEST
    );

    let empty_job = chain.tx(
        &treasury,
        1,
        10_000,
        TxBody::ReceiptAnchor {
            receipt_hash,
            job_id: String::new(),
        },
    );
    let (status, body) = chain.send(&empty_job).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("BAD_JOB_ID"))
    );
    Ok(())
}
