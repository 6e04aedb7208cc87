//! Three chain nodes as separate processes on loopback, each with its own database and authority key: they converge on one chain, and a node that was down for 30 s catches up and takes its turns again.

use std::{collections::BTreeSet, path::Path, time::Duration};

use serde_json::Value;
use tests::{Options, Server, Site, free_port};

async fn head(http: &reqwest::Client, server: &Server) -> anyhow::Result<Value> {
    Ok(http
        .get(server.at("/rpc/head"))
        .send()
        .await?
        .json()
        .await?)
}

async fn start_node(dir: &Path, index: usize, ports: &[u16]) -> anyhow::Result<Server> {
    start_node_with(dir, index, ports, true).await
}

async fn start_node_with(
    dir: &Path,
    index: usize,
    ports: &[u16],
    with_peers: bool,
) -> anyhow::Result<Server> {
    let devnet = dir.join("devnet");
    let mut args = vec![
        "--genesis".to_owned(),
        devnet.join("genesis.json").display().to_string(),
        "--node-key".to_owned(),
        devnet
            .join(format!("authority-{index}.key"))
            .display()
            .to_string(),
        "--empty-blocks".to_owned(),
    ];
    for (j, port) in ports.iter().enumerate() {
        if with_peers && j != index {
            args.push("--peer".into());
            args.push(format!("http://127.0.0.1:{port}"));
        }
    }
    let options = Options {
        data_dir: Some(dir.join(format!("node-{index}"))),
        bind: Some(format!("127.0.0.1:{}", ports[index])),
        args,
    };
    Server::start_with_options(Site::Default, options).await
}

/// Waits until every node reports the same head hash; returns that head.
async fn converged(
    http: &reqwest::Client,
    nodes: &[&Server],
    within: Duration,
) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut heads = Vec::new();
        for node in nodes {
            heads.push(head(http, node).await?);
        }
        let hashes: BTreeSet<String> = heads.iter().map(|h| h["hash"].to_string()).collect();
        if hashes.len() == 1 && heads[0]["height"].as_u64() > Some(0) {
            return Ok(heads.swap_remove(0));
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no common head: {heads:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The proposers of blocks `from..=to` as node `at` stores them.
async fn proposers(
    http: &reqwest::Client,
    at: &Server,
    from: u64,
    to: u64,
) -> anyhow::Result<Vec<String>> {
    let body: Value = http
        .get(at.at(&format!("/rpc/blocks-range?start={from}&end={to}")))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["proposer"].as_str().unwrap_or_default().to_owned())
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_converge_and_a_restarted_node_catches_up() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let files = chain::devnet::create(&dir.path().join("devnet"), "aitbc-testnet", 3, now_ms)?;
    let keys: Vec<String> = files
        .authority_keys
        .iter()
        .map(|k| chain::keyfile::read(k).map(|k| k.public_key().to_hex()))
        .collect::<Result<_, _>>()?;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
    eprintln!("nodes listen on ports {ports:?}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;

    let a = start_node(dir.path(), 0, &ports).await?;
    let b = start_node(dir.path(), 1, &ports).await?;
    let c = start_node(dir.path(), 2, &ports).await?;

    // Blocks come every 2 s slot; after a few, all three agree within two slots.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let common = converged(&http, &[&a, &b, &c], Duration::from_secs(4)).await?;
    let height = common["height"].as_u64().unwrap_or_default();
    assert!(height >= 2, "too few blocks: {common}");
    let seen: BTreeSet<String> = proposers(&http, &a, 1, height).await?.into_iter().collect();
    assert_eq!(
        seen.len(),
        3,
        "every authority should have proposed by height {height}: {seen:?}"
    );

    // Node c goes down for 30 s; the other two keep the chain going in its slots too.
    assert!(c.stop().await?, "node c did not stop cleanly");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let while_down = converged(&http, &[&a, &b], Duration::from_secs(4)).await?;
    let down_height = while_down["height"].as_u64().unwrap_or_default();
    assert!(
        down_height >= height + 10,
        "the chain stalled while c was down: {height} -> {down_height}"
    );

    // Back up, c catches up from its own database and the peers, then takes its turns again.
    let c = start_node(dir.path(), 2, &ports).await?;
    let caught_up = converged(&http, &[&a, &b, &c], Duration::from_secs(10)).await?;
    let back_height = caught_up["height"].as_u64().unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let later = converged(&http, &[&a, &b, &c], Duration::from_secs(4)).await?;
    let later_height = later["height"].as_u64().unwrap_or_default();
    let after = proposers(&http, &a, back_height + 1, later_height).await?;
    assert!(
        after.contains(&keys[2]),
        "c proposed nothing after its restart: {after:?}"
    );

    // Every node stores the same blocks.
    for height in [1, down_height, later_height] {
        let mut hashes = BTreeSet::new();
        for node in [&a, &b, &c] {
            let block: Value = http
                .get(node.at(&format!("/rpc/blocks/{height}")))
                .send()
                .await?
                .json()
                .await?;
            hashes.insert(block["hash"].to_string());
        }
        assert_eq!(
            hashes.len(),
            1,
            "nodes disagree at height {height}: {hashes:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healed_partition_converges_on_one_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    chain::devnet::create(&dir.path().join("devnet"), "aitbc-testnet", 2, now_ms)?;
    let ports: Vec<u16> = (0..2).map(|_| free_port()).collect::<Result<_, _>>()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;

    // Apart, each authority builds its own chain: in its own slots, and as backup in the other's.
    let a = start_node_with(dir.path(), 0, &ports, false).await?;
    let b = start_node_with(dir.path(), 1, &ports, false).await?;
    // The treasury spends its nonce 0 differently on each side: only one of the two can survive.
    let treasury = chain::keyfile::read(&dir.path().join("devnet/treasury.key"))?;
    let (x, y) = (
        types::SecretKey::from_seed(&[1; 32]),
        types::SecretKey::from_seed(&[2; 32]),
    );
    let (x, y) = (
        types::Address::of(&x.public_key()),
        types::Address::of(&y.public_key()),
    );
    for (node, to) in [(&a, x), (&b, y)] {
        let tx = types::Transaction {
            chain_id: "aitbc-testnet".into(),
            sender: treasury.public_key(),
            nonce: 0,
            fee: types::Amount(10_000),
            body: types::TxBody::Transfer {
                to,
                amount: types::Amount(5_000_000),
            },
        }
        .sign(&treasury);
        let response = http.post(node.at("/rpc/sendTx")).json(&tx).send().await?;
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await?
        );
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (head_a, head_b) = (head(&http, &a).await?, head(&http, &b).await?);
    assert_ne!(
        head_a["hash"], head_b["hash"],
        "the partition produced no fork"
    );
    assert!(a.stop().await? && b.stop().await?);

    // Together again, they settle on one chain: one of them reorganizes.
    let a = start_node(dir.path(), 0, &ports).await?;
    let b = start_node(dir.path(), 1, &ports).await?;
    converged(&http, &[&a, &b], Duration::from_secs(15)).await?;
    let mut reorgs = 0;
    for node in [&a, &b] {
        let metrics = http.get(node.at("/metrics")).send().await?.text().await?;
        reorgs += metrics
            .lines()
            .find_map(|l| l.strip_prefix("aitbc_chain_reorgs_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_default();
    }
    assert!(reorgs >= 1, "no node switched chains");

    // Both nodes agree on every balance: the losing side's transfer was rolled back everywhere.
    let mut seen = Vec::new();
    for node in [&a, &b] {
        let mut balances = Vec::new();
        for address in [x, y] {
            let body: Value = http
                .get(node.at(&format!("/rpc/getBalance/{address}")))
                .send()
                .await?
                .json()
                .await?;
            balances.push(body["balance"].as_u64().unwrap_or(u64::MAX));
        }
        let supply: Value = http
            .get(node.at("/rpc/addresses"))
            .send()
            .await?
            .json()
            .await?;
        seen.push((balances, supply["total_supply"].clone()));
    }
    assert_eq!(seen[0], seen[1], "the nodes disagree after the reorg");
    let mut received = seen[0].0.clone();
    received.sort();
    assert_eq!(
        received,
        vec![0, 5_000_000],
        "exactly one of the two conflicting transfers must survive"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn aitbc_node_run_serves_the_rpc_alone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let binary = std::env::var_os("AITBC_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .and_then(|server| server.parent().map(|p| p.join("aitbc")))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!("the aitbc binary is not built; run the tests with ./x test")
        })?;
    let mut child = tokio::process::Command::new(binary)
        .args([
            "node",
            "run",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()?;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let status: Value = loop {
        if let Ok(response) = http.get(format!("{url}/rpc/syncStatus")).send().await {
            break response.json().await?;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "aitbc node run did not answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["chain_id"], "aitbc-devnet");
    let page = http.get(format!("{url}/explorer/")).send().await?;
    assert_eq!(
        page.status(),
        reqwest::StatusCode::NOT_FOUND,
        "a node alone serves no pages"
    );
    let health: Value = http
        .get(format!("{url}/health"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(health["status"], "ok", "{health}");
    child.start_kill()?;
    child.wait().await?;
    Ok(())
}
