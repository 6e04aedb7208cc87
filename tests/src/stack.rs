//! Talking to a running stack as its users do, for the end-to-end tests: the admin's key file and the keys it issues, balances and supply on chain, signed transfers and escrow locks, and waiting for a transaction or a job to get somewhere.

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use types::{Address, Amount, SecretKey, SignedTransaction, Transaction, TxBody, tx::EscrowTerms};

use crate::Server;

/// The fee every test transaction pays (above the devnet's floor for their sizes).
pub const FEE: u64 = 10_000;

/// Server flags that turn the coordinator's rate limits off, for tests that send as fast as they
/// can (the limits have a test of their own).
pub const NO_RATE_LIMITS: &[&str] = &["--key-rate-limit", "0", "--ip-rate-limit", "0"];

/// Server flags from groups of them.
pub fn args(groups: &[&[&str]]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|a| (*a).to_owned())
        .collect()
}

/// The admin key the server wrote on its first start.
pub fn admin_key(server: &Server) -> anyhow::Result<String> {
    Ok(
        std::fs::read_to_string(server.data_dir().join("coordinator/admin.key"))?
            .trim()
            .to_owned(),
    )
}

/// The devnet treasury's key (1,000,000 AITBC at genesis).
pub fn treasury(server: &Server) -> anyhow::Result<SecretKey> {
    Ok(types::keyfile::read(
        &server.data_dir().join("chain/treasury.key"),
    )?)
}

/// Has the admin issue a key of `role` for `identity`; returns its secret.
pub async fn issue(
    http: &reqwest::Client,
    server: &Server,
    role: &str,
    identity: &str,
) -> anyhow::Result<String> {
    issue_at(http, &server.url, &admin_key(server)?, role, identity).await
}

/// The same against the server at `url` with the admin key `admin_key` (for the benchmarks,
/// which load a server they did not start).
pub async fn issue_at(
    http: &reqwest::Client,
    url: &str,
    admin_key: &str,
    role: &str,
    identity: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{}/admin/keys", url.trim_end_matches('/')))
        .header("x-api-key", admin_key)
        .json(&json!({ "role": role, "identity": identity }))
        .send()
        .await?;
    ensure!(
        response.status() == StatusCode::CREATED,
        "{}",
        response.text().await?
    );
    let body: Value = response.json().await?;
    Ok(body["secret"].as_str().context("no secret")?.to_owned())
}

/// A GET that must answer 200 with JSON.
pub async fn get(http: &reqwest::Client, server: &Server, path: &str) -> anyhow::Result<Value> {
    let response = http.get(server.at(path)).send().await?;
    ensure!(
        response.status() == StatusCode::OK,
        "GET {path}: {} {}",
        response.status(),
        response.text().await?
    );
    Ok(response.json().await?)
}

/// `address`'s balance and next nonce, as its block-included state has them.
pub async fn account(
    http: &reqwest::Client,
    server: &Server,
    address: &Address,
) -> anyhow::Result<(u64, u64)> {
    let body = get(http, server, &format!("/rpc/getBalance/{address}")).await?;
    Ok((
        body["balance"].as_u64().context("balance")?,
        body["nonce"].as_u64().context("nonce")?,
    ))
}

/// Every base unit on chain.
pub async fn total_supply(http: &reqwest::Client, server: &Server) -> anyhow::Result<u64> {
    get(http, server, "/rpc/addresses?limit=1").await?["total_supply"]
        .as_u64()
        .context("total_supply")
}

/// The chain's id.
pub async fn chain_id(http: &reqwest::Client, server: &Server) -> anyhow::Result<String> {
    Ok(get(http, server, "/rpc/syncStatus").await?["chain_id"]
        .as_str()
        .context("chain_id")?
        .to_owned())
}

/// Signs `body` from `key` at `nonce`.
pub fn signed(chain_id: &str, key: &SecretKey, nonce: u64, body: TxBody) -> SignedTransaction {
    Transaction {
        chain_id: chain_id.to_owned(),
        sender: key.public_key(),
        nonce,
        fee: Amount(FEE),
        body,
    }
    .sign(key)
}

/// Posts `tx` to `/rpc/sendTx`; returns its hash.
pub async fn send(
    http: &reqwest::Client,
    server: &Server,
    tx: &SignedTransaction,
) -> anyhow::Result<String> {
    let response = http.post(server.at("/rpc/sendTx")).json(tx).send().await?;
    ensure!(
        response.status() == StatusCode::ACCEPTED,
        "sendTx: {} {}",
        response.status(),
        response.text().await?
    );
    Ok(tx.hash().to_hex())
}

/// Waits until the transaction `hash` is in a block; returns its view.
pub async fn included(
    http: &reqwest::Client,
    server: &Server,
    hash: &str,
) -> anyhow::Result<Value> {
    eventually(
        Duration::from_secs(30),
        &format!("tx {hash} included"),
        || async {
            let view = get(http, server, &format!("/rpc/tx/{hash}")).await?;
            Ok((view["status"] != "pending").then_some(view))
        },
    )
    .await
}

/// Sends `amount` base units from the treasury to a fresh key and waits until it lands.
pub async fn funded_key(
    http: &reqwest::Client,
    server: &Server,
    amount: u64,
) -> anyhow::Result<SecretKey> {
    let key = SecretKey::from_seed(&rand::random());
    fund(http, server, Address::of(&key.public_key()), amount).await?;
    Ok(key)
}

/// Sends `amount` base units from the treasury to `to` and waits until it lands.
pub async fn fund(
    http: &reqwest::Client,
    server: &Server,
    to: Address,
    amount: u64,
) -> anyhow::Result<()> {
    let treasury = treasury(server)?;
    let (_, nonce) = account(http, server, &Address::of(&treasury.public_key())).await?;
    let tx = signed(
        &chain_id(http, server).await?,
        &treasury,
        nonce,
        TxBody::Transfer {
            to,
            amount: Amount(amount),
        },
    );
    included(http, server, &send(http, server, &tx).await?).await?;
    Ok(())
}

/// The escrow lock paying for job `job_id` with `amount` base units from `client`: it names the
/// coordinator's key and an expiry `blocks` past the head, from `/v1/payments/terms`.
pub async fn escrow_lock(
    http: &reqwest::Client,
    server: &Server,
    client: &SecretKey,
    nonce: u64,
    job_id: &str,
    amount: u64,
    blocks: u64,
) -> anyhow::Result<SignedTransaction> {
    let terms = get(http, server, "/v1/payments/terms").await?;
    let escrow = EscrowTerms {
        client: Address::of(&client.public_key()),
        job_id: job_id.to_owned(),
        coordinator: types::PublicKey::from_hex(
            terms["coordinator_key"]
                .as_str()
                .context("coordinator_key")?,
        )?,
        expiry_height: terms["head_height"].as_u64().context("head_height")? + blocks,
    };
    Ok(signed(
        terms["chain_id"].as_str().context("chain_id")?,
        client,
        nonce,
        TxBody::EscrowLock {
            terms: escrow,
            amount: Amount(amount),
        },
    ))
}

/// Calls `check` every 100 ms until it yields a value; fails with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "{what}: not within {} s (last error: {last_error:?})",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The result of job `id` of the client with key `client_key` at the coordinator at `url`, read
/// with one long poll (`wait_seconds`) that answers the moment the job finishes.
pub async fn result_when_done(
    http: &reqwest::Client,
    url: &str,
    client_key: &str,
    id: &str,
    wait_seconds: u32,
) -> anyhow::Result<Value> {
    Ok(http
        .get(format!(
            "{url}/v1/jobs/{id}/result?wait_seconds={wait_seconds}"
        ))
        .header("x-api-key", client_key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// What the server's public receipt check (`POST /v1/receipts/verify`) says of `receipt`.
pub async fn verify_receipt(
    http: &reqwest::Client,
    server: &Server,
    receipt: &Value,
) -> anyhow::Result<Value> {
    Ok(http
        .post(server.at("/v1/receipts/verify"))
        .json(receipt)
        .send()
        .await?
        .json()
        .await?)
}
