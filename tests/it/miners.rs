//! Paid jobs run by real `aitbc-miner` processes (test backend) against a real server: a hundred jobs on two miners with every party's balance checked on chain, a miner killed mid-job, and the server killed with SIGKILL under load.

use std::{collections::HashMap, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{
    Miner, Options, Server, Site,
    stack::{self, FEE, account, eventually, get, issue, verify_receipt},
};
use types::{Address, SecretKey};

/// What each job locks in escrow: 1 AITBC, far above what a test job costs.
pub(super) const LOCK: u64 = 1_000_000;

/// A server without rate limits (the load is the point) whose miners go offline after 2 s of
/// silence.
pub(super) async fn stack_server(
    data: Option<std::path::PathBuf>,
    bind: Option<String>,
) -> anyhow::Result<Server> {
    stack_server_on(data, bind, None).await
}

/// The same, its coordinator on the database at `db` (a PostgreSQL URL) when given.
pub(super) async fn stack_server_on(
    data: Option<std::path::PathBuf>,
    bind: Option<String>,
    db: Option<&str>,
) -> anyhow::Result<Server> {
    let mut args = stack::args(&[stack::NO_RATE_LIMITS, &["--heartbeat-timeout", "2"]]);
    if let Some(db) = db {
        args.extend(["--coordinator-db".to_owned(), db.to_owned()]);
    }
    Server::start_with_options(
        Site::Default,
        Options {
            data_dir: data,
            bind,
            args,
        },
    )
    .await
}

/// Starts a miner process with a fresh miner key for `identity`, charging `price` base units per
/// second.
async fn miner(
    http: &reqwest::Client,
    server: &Server,
    identity: &str,
    price: u64,
    concurrency: u32,
) -> anyhow::Result<Miner> {
    Miner::start(
        &server.url,
        &issue(http, server, "miner", identity).await?,
        &[
            "--price-per-unit",
            &price.to_string(),
            "--concurrency",
            &concurrency.to_string(),
            "--heartbeat-seconds",
            "0.5",
            "--poll-seconds",
            "5",
        ],
    )
    .await
}

/// A client: its API key and its funded chain key.
pub(super) struct Client {
    pub(super) api_key: String,
    key: SecretKey,
}

impl Client {
    pub(super) async fn new(
        http: &reqwest::Client,
        server: &Server,
        identity: &str,
        funds: u64,
    ) -> anyhow::Result<Client> {
        Ok(Client {
            api_key: issue(http, server, "client", identity).await?,
            key: stack::funded_key(http, server, funds).await?,
        })
    }

    pub(super) fn address(&self) -> Address {
        Address::of(&self.key.public_key())
    }

    /// The body of paid job `job_id` whose lock has `nonce`.
    pub(super) async fn job(
        &self,
        http: &reqwest::Client,
        server: &Server,
        job_id: &str,
        nonce: u64,
        payload: Value,
    ) -> anyhow::Result<Value> {
        let lock = stack::escrow_lock(http, server, &self.key, nonce, job_id, LOCK, 300).await?;
        Ok(json!({ "job_id": job_id, "payload": payload, "payment": { "escrow_lock": lock } }))
    }

    /// Submits `body` under an idempotency key until the coordinator acknowledges it (201),
    /// retrying while the server cannot be reached.
    pub(super) async fn submit(
        &self,
        http: &reqwest::Client,
        server_url: &str,
        body: &Value,
    ) -> anyhow::Result<()> {
        let key = body["job_id"].as_str().unwrap_or_default().to_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let sent = http
                .post(format!("{server_url}/v1/jobs"))
                .header("x-api-key", &self.api_key)
                .header("idempotency-key", &key)
                .timeout(Duration::from_secs(10))
                .json(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == StatusCode::CREATED => return Ok(()),
                Ok(r) if r.status().is_client_error() => {
                    anyhow::bail!("job {key} refused: {} {}", r.status(), r.text().await?)
                }
                _ => {}
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "job {key} never acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
        server: &Server,
        path: &str,
    ) -> anyhow::Result<Value> {
        let response = http
            .get(server.at(path))
            .header("x-api-key", &self.api_key)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "GET {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }
}

/// Balances before the jobs, to compare with after.
pub(super) struct Before {
    supply: u64,
    client: (u64, u64),
    coordinator: u64,
}

/// Reads balances on `chain`; `server` runs the coordinator (the same server, or one of its own).
pub(super) async fn before(
    http: &reqwest::Client,
    server: &Server,
    chain: &Server,
    client: &Client,
) -> anyhow::Result<Before> {
    Ok(Before {
        supply: stack::total_supply(http, chain).await?,
        client: account(http, chain, &client.address()).await?,
        coordinator: account(http, chain, &coordinator_address(http, server).await?)
            .await?
            .0,
    })
}

async fn coordinator_address(http: &reqwest::Client, server: &Server) -> anyhow::Result<Address> {
    get(http, server, "/v1/payments/terms").await?["coordinator_address"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| anyhow::anyhow!("coordinator_address: {e:?}"))
}

/// Waits until every job in `ids` is completed (or canceled while it ran and billed for the
/// usage until then) and its escrow released; then checks each
/// receipt verifies and that on chain every miner got its receipts' prices, the coordinator its
/// fees (less what it paid to send the releases), the client the rest, and no money appeared or
/// vanished. Returns the number of jobs each miner ran.
pub(super) async fn check_settled(
    http: &reqwest::Client,
    server: &Server,
    chain: &Server,
    client: &Client,
    ids: &[String],
    before: &Before,
    miners: &[(&str, &Miner)],
) -> anyhow::Result<HashMap<String, usize>> {
    let fee_bps = get(http, server, "/v1/payments/terms").await?["fee_bps"]
        .as_u64()
        .unwrap_or_default();
    let mut waiting: Vec<&String> = ids.iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for id in waiting {
            let job = client.get(http, server, &format!("/v1/jobs/{id}")).await?;
            anyhow::ensure!(
                matches!(
                    job["state"].as_str(),
                    Some("QUEUED" | "RUNNING" | "COMPLETED")
                ) || (job["state"] == "CANCELED" && job["payment_status"] != "refunded"),
                "job {id} did not complete: {job}"
            );
            if job["payment_status"] != "released" {
                still.push(id);
            }
        }
        anyhow::ensure!(
            still.is_empty() || tokio::time::Instant::now() < deadline,
            "{} jobs not completed and paid within 180 s, e.g. {}",
            still.len(),
            still[0]
        );
        waiting = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut earned: HashMap<String, u64> = HashMap::new();
    let mut ran: HashMap<String, usize> = HashMap::new();
    let (mut fees, mut release_fees, mut remainders) = (0u64, 0u64, 0u64);
    for id in ids {
        let receipt = client
            .get(http, server, &format!("/v1/jobs/{id}/receipt"))
            .await?;
        let check = verify_receipt(http, server, &receipt).await?;
        assert_eq!(check["verified"], true, "receipt of {id}: {check}");
        assert_eq!(check["attestations"], json!([true]));
        let receipts = client
            .get(http, server, &format!("/v1/jobs/{id}/receipts"))
            .await?;
        assert_eq!(
            receipts["items"].as_array().map(Vec::len),
            Some(1),
            "job {id} has more than one receipt"
        );
        // The miner is paid the price, or all the escrow holds if the price is more.
        let price = receipt["price_base_units"]
            .as_u64()
            .unwrap_or_default()
            .min(LOCK);
        let provider = receipt["provider"].as_str().unwrap_or_default().to_owned();
        *earned.entry(provider.clone()).or_default() += price;
        *ran.entry(provider).or_default() += 1;
        let fee = (price * fee_bps / 10_000).min(LOCK - price);
        fees += fee;
        remainders += LOCK - price - fee;
        let payment = client
            .get(http, server, &format!("/v1/jobs/{id}/payment"))
            .await?;
        let settlement = payment["settlement_transaction_hash"]
            .as_str()
            .unwrap_or_default();
        let release = stack::included(http, chain, settlement).await?;
        assert_eq!(release["type"], "escrow_release", "{release}");
        release_fees += release["fee"].as_u64().unwrap_or_default();
        let escrow = payment["escrow_address"].as_str().unwrap_or_default();
        let (held, _) = account(
            http,
            chain,
            &escrow.parse().map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
        assert_eq!(held, 0, "escrow of {id} not emptied");
    }
    for (name, miner) in miners {
        let (balance, _) = account(http, chain, &miner.payout).await?;
        assert_eq!(
            balance,
            earned.get(*name).copied().unwrap_or_default(),
            "{name}'s payout address holds the sum of its receipts' prices"
        );
    }
    let n = ids.len() as u64;
    let (client_now, nonce_now) = account(http, chain, &client.address()).await?;
    assert_eq!(nonce_now, before.client.1 + n, "one lock per job, no more");
    assert_eq!(
        client_now,
        before.client.0 - n * (LOCK + FEE) + remainders,
        "the client paid its locks and fees and got the remainders back"
    );
    let coordinator_now = account(http, chain, &coordinator_address(http, server).await?)
        .await?
        .0;
    assert_eq!(
        coordinator_now,
        before.coordinator + fees - release_fees,
        "the coordinator earned its fees and paid for the releases"
    );
    assert_eq!(
        stack::total_supply(http, chain).await?,
        before.supply,
        "supply unchanged"
    );
    Ok(ran)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_paid_jobs_on_two_miner_processes_pay_every_party_on_chain() -> anyhow::Result<()>
{
    a_hundred_paid_jobs(None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_paid_jobs_with_the_coordinator_on_postgresql() -> anyhow::Result<()> {
    let db = tests::postgres::Database::create().await?;
    a_hundred_paid_jobs(Some(&db.url)).await
}

async fn a_hundred_paid_jobs(db: Option<&str>) -> anyhow::Result<()> {
    let server = stack_server_on(None, None, db).await?;
    let http = reqwest::Client::new();
    let client = Client::new(&http, &server, "client-1", 200 * LOCK).await?;
    let miner_a = miner(&http, &server, "miner-a", 1_000_000, 4).await?;
    let miner_b = miner(&http, &server, "miner-b", 2_000_000, 4).await?;
    let before = before(&http, &server, &server, &client).await?;

    let mut ids = Vec::new();
    for n in 0..100u64 {
        let id = format!("hundred-{n}");
        let payload = json!({ "n": n, "sleep_ms": 10 + (n * 7) % 40 });
        let body = client
            .job(&http, &server, &id, before.client.1 + n, payload)
            .await?;
        client.submit(&http, &server.url, &body).await?;
        ids.push(id);
    }
    let ran = check_settled(
        &http,
        &server,
        &server,
        &client,
        &ids,
        &before,
        &[("miner-a", &miner_a), ("miner-b", &miner_b)],
    )
    .await?;
    println!("100 paid jobs settled; jobs per miner: {ran:?}");
    assert!(
        ran.get("miner-a").copied().unwrap_or_default() > 0
            && ran.get("miner-b").copied().unwrap_or_default() > 0,
        "both miners ran jobs: {ran:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_miner_killed_mid_job_loses_it_and_only_the_one_that_finishes_is_paid()
-> anyhow::Result<()> {
    let server = stack_server(None, None).await?;
    let http = reqwest::Client::new();
    let client = Client::new(&http, &server, "client-1", 10 * LOCK).await?;
    let first = miner(&http, &server, "miner-a", 100_000, 1).await?;
    let before = before(&http, &server, &server, &client).await?;
    let body = client
        .job(
            &http,
            &server,
            "killed-mid-job",
            before.client.1,
            json!({ "sleep_ms": 3_000 }),
        )
        .await?;
    client.submit(&http, &server.url, &body).await?;
    eventually(
        Duration::from_secs(30),
        "the first miner runs the job",
        || async {
            let job = client
                .get(&http, &server, "/v1/jobs/killed-mid-job")
                .await?;
            Ok((job["state"] == "RUNNING").then_some(()))
        },
    )
    .await?;
    let first_payout = first.payout;
    first.kill().await?;
    let second = miner(&http, &server, "miner-b", 100_000, 1).await?;

    let ids = ["killed-mid-job".to_owned()];
    let ran = check_settled(
        &http,
        &server,
        &server,
        &client,
        &ids,
        &before,
        &[("miner-b", &second)],
    )
    .await?;
    assert_eq!(
        ran.get("miner-b"),
        Some(&1),
        "the second miner finished it: {ran:?}"
    );
    let job = client
        .get(&http, &server, "/v1/jobs/killed-mid-job")
        .await?;
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["assigned_miner_id"], "miner-b");
    let (unpaid, _) = account(&http, &server, &first_payout).await?;
    assert_eq!(unpaid, 0, "the killed miner is not paid");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_under_load_loses_no_acknowledged_job_and_pays_none_twice()
-> anyhow::Result<()> {
    killed_under_load(None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_under_load_with_the_coordinator_on_postgresql() -> anyhow::Result<()> {
    let db = tests::postgres::Database::create().await?;
    killed_under_load(Some(&db.url)).await
}

async fn killed_under_load(db: Option<&str>) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let bind = format!("127.0.0.1:{}", tests::free_port()?);
    let server = stack_server_on(Some(data.path().to_path_buf()), Some(bind.clone()), db).await?;
    let http = reqwest::Client::new();
    let client = Client::new(&http, &server, "client-1", 100 * LOCK).await?;
    let miner_a = miner(&http, &server, "miner-a", 1_000_000, 2).await?;
    let miner_b = miner(&http, &server, "miner-b", 1_500_000, 2).await?;
    let before = before(&http, &server, &server, &client).await?;

    // Every body is signed up front: a client retries the same lock under the same key.
    let mut bodies = Vec::new();
    for n in 0..60u64 {
        let payload = json!({ "n": n, "sleep_ms": 100 });
        bodies.push(
            client
                .job(
                    &http,
                    &server,
                    &format!("crash-{n}"),
                    before.client.1 + n,
                    payload,
                )
                .await?,
        );
    }
    let ids: Vec<String> = bodies
        .iter()
        .map(|b| b["job_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let submitter = {
        let (http, url, count) = (http.clone(), server.url.clone(), acknowledged.clone());
        let client = Client {
            api_key: client.api_key.clone(),
            key: SecretKey::from_seed(&client.key.seed()),
        };
        tokio::spawn(async move {
            for body in &bodies {
                client.submit(&http, &url, body).await?;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            anyhow::Ok(())
        })
    };
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    server.kill().await?;
    let at_kill = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..60).contains(&at_kill),
        "the kill came with {at_kill} of 60 jobs acknowledged, not under load"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = stack_server_on(Some(data.path().to_path_buf()), Some(bind), db).await?;
    submitter.await??;

    let ran = check_settled(
        &http,
        &server,
        &server,
        &client,
        &ids,
        &before,
        &[("miner-a", &miner_a), ("miner-b", &miner_b)],
    )
    .await?;
    println!(
        "60 paid jobs ({at_kill} acknowledged before the SIGKILL) settled once each; jobs per miner: {ran:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coordinator_on_its_own_settles_through_a_remote_nodes_rpc() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    // The split deployment: a node without a coordinator, a coordinator without a chain.
    let node = Server::start_with_options(
        Site::Default,
        Options {
            args: vec!["--no-coordinator".into()],
            ..Options::default()
        },
    )
    .await?;
    let coordinator = Server::start_with_options(
        Site::Default,
        Options {
            args: stack::args(&[
                stack::NO_RATE_LIMITS,
                &["--no-chain", "--api-only", "--chain-rpc", &node.url],
            ]),
            ..Options::default()
        },
    )
    .await?;
    // Its operator funds its account for the settlement fees.
    let treasury = stack::treasury(&node)?;
    let (_, nonce) = account(&http, &node, &Address::of(&treasury.public_key())).await?;
    let fund = stack::signed(
        &stack::chain_id(&http, &node).await?,
        &treasury,
        nonce,
        types::TxBody::Transfer {
            to: coordinator_address(&http, &coordinator).await?,
            amount: types::Amount(10 * LOCK),
        },
    );
    stack::included(&http, &node, &stack::send(&http, &node, &fund).await?).await?;
    let client = Client {
        api_key: issue(&http, &coordinator, "client", "client-1").await?,
        key: stack::funded_key(&http, &node, 10 * LOCK).await?,
    };
    let miner = miner(&http, &coordinator, "miner-a", 1_000_000, 1).await?;
    let before = before(&http, &coordinator, &node, &client).await?;
    let mut ids = Vec::new();
    for n in 0..3u64 {
        let id = format!("remote-{n}");
        let body = client
            .job(
                &http,
                &coordinator,
                &id,
                before.client.1 + n,
                json!({ "sleep_ms": 50 }),
            )
            .await?;
        client.submit(&http, &coordinator.url, &body).await?;
        ids.push(id);
    }
    let ran = check_settled(
        &http,
        &coordinator,
        &node,
        &client,
        &ids,
        &before,
        &[("miner-a", &miner)],
    )
    .await?;
    assert_eq!(ran.get("miner-a"), Some(&3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_miner_told_to_stop_finishes_its_job_first_and_is_paid() -> anyhow::Result<()> {
    let server = stack_server(None, None).await?;
    let http = reqwest::Client::new();
    let client = Client::new(&http, &server, "client-1", 10 * LOCK).await?;
    let draining = miner(&http, &server, "miner-a", 100_000, 1).await?;
    let payout = draining.payout;
    let before = before(&http, &server, &server, &client).await?;
    // Longer than the heartbeat timeout (2 s): the miner must keep its heartbeat while draining.
    let body = client
        .job(
            &http,
            &server,
            "drained",
            before.client.1,
            json!({ "sleep_ms": 3_500 }),
        )
        .await?;
    client.submit(&http, &server.url, &body).await?;
    eventually(
        Duration::from_secs(30),
        "the miner runs the job",
        || async {
            let job = client.get(&http, &server, "/v1/jobs/drained").await?;
            Ok((job["state"] == "RUNNING").then_some(()))
        },
    )
    .await?;
    assert!(
        draining.stop(Duration::from_secs(20)).await?,
        "the miner exits cleanly after SIGTERM"
    );
    // It deregistered on its way out: offline at once, not after the heartbeat timeout (its
    // last beat was under a second ago).
    let miners = http
        .get(server.at("/admin/miners"))
        .header("x-api-key", stack::admin_key(&server)?)
        .send()
        .await?
        .json::<Value>()
        .await?;
    let drained = miners["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["miner_id"] == "miner-a"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(drained["status"], "OFFLINE", "{miners}");
    let job = client.get(&http, &server, "/v1/jobs/drained").await?;
    assert_eq!(job["state"], "COMPLETED", "{job}");
    assert_eq!(
        job["attempts"], 1,
        "the job never left the draining miner: {job}"
    );
    eventually(Duration::from_secs(30), "the miner is paid", || async {
        let (balance, _) = account(&http, &server, &payout).await?;
        Ok((balance > 0).then_some(()))
    })
    .await?;
    Ok(())
}
