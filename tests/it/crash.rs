//! Crash safety: the server is killed with SIGKILL while it accepts transactions; after a restart every transaction it acknowledged is in a block or still pending.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;
use tests::{Options, Server, Site, free_port};
use types::{Address, Amount, SecretKey, SignedTransaction, Transaction, TxBody};

fn sign(key: &SecretKey, nonce: u64, fee: u64, body: TxBody) -> SignedTransaction {
    Transaction {
        chain_id: "aitbc-devnet".into(),
        sender: key.public_key(),
        nonce,
        fee: Amount(fee),
        body,
    }
    .sign(key)
}

/// Sends transactions from `key` with consecutive nonces until the server stops answering;
/// records the hash of every one it acknowledged.
async fn send_until_down(
    url: String,
    key: SecretKey,
    faucet: bool,
    acknowledged: Arc<Mutex<Vec<String>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let to = Address::of(&SecretKey::from_seed(&[9; 32]).public_key());
    for nonce in 0.. {
        let tx = if faucet {
            sign(
                &key,
                nonce,
                0,
                TxBody::Faucet {
                    to,
                    amount: Amount(1),
                },
            )
        } else {
            sign(
                &key,
                nonce,
                10_000,
                TxBody::Transfer {
                    to,
                    amount: Amount(1),
                },
            )
        };
        let Ok(response) = http
            .post(format!("{url}/rpc/sendTx"))
            .json(&tx)
            .send()
            .await
        else {
            return;
        };
        if !response.status().is_success() {
            return;
        }
        acknowledged.lock().expect("lock").push(tx.hash().to_hex());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_transactions_survive_sigkill() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let options = || Options {
        data_dir: Some(dir.path().to_path_buf()),
        bind: Some(format!("127.0.0.1:{port}")),
        args: Vec::new(),
    };
    let server = Server::start_with_options(Site::Default, options()).await?;
    let chain_dir = dir.path().join("chain");
    let treasury = chain::keyfile::read(&chain_dir.join("treasury.key"))?;
    let faucet = chain::keyfile::read(&chain_dir.join("faucet.key"))?;

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let senders = [
        tokio::spawn(send_until_down(
            server.url.clone(),
            treasury,
            false,
            acknowledged.clone(),
        )),
        tokio::spawn(send_until_down(
            server.url.clone(),
            faucet,
            true,
            acknowledged.clone(),
        )),
    ];
    // Long enough for blocks to be produced while transactions keep arriving.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    server.kill().await?;
    for sender in senders {
        sender.await?;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 20,
        "too few transactions were sent to prove anything: {}",
        acknowledged.len()
    );

    let server = Server::start_with_options(Site::Default, options()).await?;
    let http = reqwest::Client::new();
    let mut included = 0;
    for hash in &acknowledged {
        let response = http
            .get(server.at(&format!("/rpc/tx/{hash}")))
            .send()
            .await?;
        assert!(
            response.status().is_success(),
            "acknowledged transaction {hash} was lost"
        );
        let body: Value = response.json().await?;
        if body["status"] != "pending" {
            included += 1;
        }
    }
    eprintln!(
        "{} acknowledged before the kill; {included} already in blocks",
        acknowledged.len()
    );
    assert!(
        included > 0,
        "no block was produced during the run: the kill did not interrupt block production"
    );
    Ok(())
}
