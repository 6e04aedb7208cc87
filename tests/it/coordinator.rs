//! The coordinator over HTTP in a real server process: keys issued by the admin, a miner and a client speaking the earlier routes (under `/v1` and `/api`), a receipt signed by the miner and attested by the coordinator, callers refused by key and role with structured errors, and acknowledged jobs surviving a SIGKILL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{
    Options, Server, Site,
    stack::{self, admin_key, issue},
};
use types::{
    SecretKey,
    receipt::{JobReceipt, sign, value_hash},
};

/// Signs the receipt of `job` as the miner with `key` would.
fn receipt_for(job: &Value, miner: &str, key: &SecretKey, result: &Value, units_ms: u64) -> Value {
    let claim = JobReceipt {
        receipt_id: hex::encode(rand::random::<[u8; 16]>()),
        job_id: job["job_id"].as_str().expect("id").into(),
        provider: miner.into(),
        client: job["client"].as_str().expect("client").into(),
        units_ms,
        unit_price: job["unit_price"].as_u64().expect("price"),
        started_at: job["started_at"].as_u64().expect("started"),
        completed_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
        result_hash: value_hash(result),
        chain_id: job["chain_id"].as_str().expect("chain").into(),
    };
    let mut receipt = claim.payload();
    receipt["signature"] = serde_json::to_value(sign(&receipt, key)).expect("json");
    receipt
}

/// A server that also takes unpaid jobs, without rate limits.
async fn unpaid_server(
    data: Option<std::path::PathBuf>,
    bind: Option<String>,
) -> anyhow::Result<Server> {
    Server::start_with_options(
        Site::Default,
        Options {
            data_dir: data,
            bind,
            // Limits are tested on their own; these tests send as fast as they can.
            args: stack::args(&[stack::NO_RATE_LIMITS, &["--allow-unpaid-jobs"]]),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_runs_end_to_end_over_http_with_a_verified_receipt() -> anyhow::Result<()> {
    let server = unpaid_server(None, None).await?;
    let http = reqwest::Client::new();
    let client_key = issue(&http, &server, "client", "alice").await?;
    let miner_key = issue(&http, &server, "miner", "miner-1").await?;
    let signer = SecretKey::from_seed(&[5; 32]);

    // Who may call what.
    let anonymous = http
        .post(server.at("/v1/jobs"))
        .json(&json!({"payload": {}}))
        .send()
        .await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await?;
    assert_eq!(body["error"]["code"], "MISSING_API_KEY");
    assert!(body["request_id"].is_string());
    let wrong_role = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", &miner_key)
        .json(&json!({"payload": {}}))
        .send()
        .await?;
    assert_eq!(wrong_role.status(), StatusCode::FORBIDDEN);
    let bogus = http
        .get(server.at("/admin/stats"))
        .header("x-api-key", "aitbc_admin_guess")
        .send()
        .await?;
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);

    let registered: Value = http
        .post(server.at("/v1/miners/register"))
        .header("x-api-key", &miner_key)
        .json(&json!({
            "capabilities": {"gpus": [{"name": "RTX 4090", "memory_mb": 24564}], "models": ["llama3"], "price_per_unit": 10_000},
            "concurrency": 1,
            "public_key": signer.public_key().to_hex(),
        }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(registered["status"], "ok");

    // A long poll waiting before the job exists gets it as soon as it is submitted.
    let poll = {
        let http = http.clone();
        let url = server.at("/v1/miners/poll");
        let key = miner_key.clone();
        tokio::spawn(async move {
            http.post(url)
                .header("x-api-key", key)
                .json(&json!({"max_wait_seconds": 10}))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let submitted = http
        .post(server.at("/api/jobs"))
        .header("x-api-key", &client_key)
        .header("idempotency-key", "order-1")
        .json(&json!({"payload": {"type": "inference", "prompt": "hi", "model": "llama3"}, "constraints": {"models": ["llama3"]}}))
        .send()
        .await?;
    assert_eq!(submitted.status(), StatusCode::CREATED);
    let job: Value = submitted.json().await?;
    let job_id = job["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(job["state"], "QUEUED");
    let polled = poll.await??;
    assert_eq!(polled.status(), StatusCode::OK);
    let assigned: Value = polled.json().await?;
    assert_eq!(assigned["job_id"], job_id.as_str());

    let early = http
        .get(server.at(&format!("/v1/jobs/{job_id}/result")))
        .header("x-api-key", &client_key)
        .send()
        .await?;
    assert_eq!(early.status(), StatusCode::TOO_EARLY);
    let too_long = http
        .get(server.at(&format!("/v1/jobs/{job_id}/result?wait_seconds=61")))
        .header("x-api-key", &client_key)
        .send()
        .await?;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_long.json().await?;
    assert_eq!(
        body["error"]["details"][0]["field"], "wait_seconds",
        "{body}"
    );
    // A client waiting for the result (a long poll) gets it when the miner reports it.
    let waiting = {
        let request = http
            .get(server.at(&format!("/v1/jobs/{job_id}/result?wait_seconds=20")))
            .header("x-api-key", &client_key);
        tokio::spawn(async move { request.send().await })
    };

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        !waiting.is_finished(),
        "the long poll answered before the result"
    );
    let result = json!({"text": "hello"});
    let receipt = receipt_for(&assigned, "miner-1", &signer, &result, 1_000);
    let done = http
        .post(server.at(&format!("/v1/miners/{job_id}/result")))
        .header("x-api-key", &miner_key)
        .json(&json!({"result": result, "metrics": {"duration_ms": 1000}, "receipt": receipt}))
        .send()
        .await?;
    assert_eq!(done.status(), StatusCode::OK, "{}", done.text().await?);

    let finished: Value = http
        .get(server.at(&format!("/v1/jobs/{job_id}/result")))
        .header("x-api-key", &client_key)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(finished["state"], "COMPLETED");
    assert_eq!(finished["result"]["text"], "hello");
    let waited = waiting.await??;
    assert_eq!(waited.status(), StatusCode::OK);
    assert_eq!(waited.json::<Value>().await?, finished);
    assert_eq!(finished["receipt"]["price_base_units"], 10_000);
    let check: Value = http
        .post(server.at("/v1/receipts/verify"))
        .json(&finished["receipt"])
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(check["verified"], true, "{check}");
    assert_eq!(check["attestations"], json!([true]));
    let mut forged = finished["receipt"].clone();
    forged["price_base_units"] = json!(1_000_000);
    let check: Value = http
        .post(server.at("/v1/receipts/verify"))
        .json(&forged)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(check["verified"], false);

    // The same submission again is the same job; another client cannot see it.
    let again: Value = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", &client_key)
        .header("idempotency-key", "order-1")
        .json(&json!({"payload": {"type": "inference", "prompt": "hi", "model": "llama3"}, "constraints": {"models": ["llama3"]}}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(again["job_id"], job_id.as_str());
    let bob = issue(&http, &server, "client", "bob").await?;
    let hidden = http
        .get(server.at(&format!("/v1/jobs/{job_id}")))
        .header("x-api-key", &bob)
        .send()
        .await?;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    // Malformed input gets a structured 4xx naming the problem.
    let bad = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", &client_key)
        .json(&json!({"payload": {}, "constraints": {"gpus": "typo"}}))
        .send()
        .await?;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stats: Value = http
        .get(server.at("/admin/stats"))
        .header("x-api-key", admin_key(&server)?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(stats["total_jobs"], 1);
    assert_eq!(stats["online_miners"], 1);
    // The public feeds show the real job and its receipt, without the client's name.
    let feed: Value = http
        .get(server.at("/v1/explorer/jobs"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(feed["items"][0]["jobId"], job_id.as_str());
    assert_eq!(feed["items"][0]["state"], "COMPLETED");
    assert!(
        !feed.to_string().contains("alice"),
        "the feed names the client: {feed}"
    );
    let receipts: Value = http
        .get(server.at("/v1/explorer/receipts"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(receipts["items"][0]["jobId"], job_id.as_str());
    assert_eq!(receipts["items"][0]["priceBaseUnits"], 10_000);
    let page = http
        .get(server.at("/explorer/jobs"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains(&format!("data-job=\"{job_id}\"")),
        "the explorer's jobs page lacks the job"
    );
    assert!(page.contains("COMPLETED") && !page.contains("alice"));
    let too_many = http
        .get(server.at("/v1/explorer/jobs?limit=1000"))
        .send()
        .await?;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let metrics = http.get(server.at("/metrics")).send().await?.text().await?;
    for line in [
        "aitbc_coordinator_jobs{state=\"COMPLETED\"} 1",
        "aitbc_coordinator_queue_depth 0",
        "aitbc_coordinator_miners_online 1",
        "aitbc_coordinator_jobs_assigned_recent 1",
        "aitbc_chain_head_height",
    ] {
        assert!(metrics.contains(line), "/metrics lacks {line}:\n{metrics}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_jobs_survive_a_sigkill() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let port = tests::free_port()?;
    let start = || {
        unpaid_server(
            Some(data.path().to_path_buf()),
            Some(format!("127.0.0.1:{port}")),
        )
    };
    let server = start().await?;
    let http = reqwest::Client::new();
    let client_key = issue(&http, &server, "client", "alice").await?;
    // Submit as fast as possible while the process is killed; keep every acknowledged id.
    let submitter = {
        let http = http.clone();
        let url = server.at("/v1/jobs");
        let key = client_key.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let sent = http
                    .post(&url)
                    .header("x-api-key", &key)
                    .json(&json!({"payload": {"n": n}}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let body: Value = r.json().await.unwrap_or_default();
                        if let Some(id) = body["job_id"].as_str() {
                            acknowledged.push(id.to_owned());
                        }
                    }
                    _ => break,
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.stop_with("KILL").await?;
    let acknowledged = submitter.await?;
    assert!(
        acknowledged.len() > 10,
        "only {} jobs before the kill",
        acknowledged.len()
    );

    let server = start().await?;
    for id in &acknowledged {
        let job = http
            .get(server.at(&format!("/v1/jobs/{id}")))
            .header("x-api-key", &client_key)
            .send()
            .await?;
        assert_eq!(job.status(), StatusCode::OK, "acknowledged job {id} lost");
    }
    println!(
        "{} acknowledged jobs all found after SIGKILL",
        acknowledged.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paid_job_settles_on_chain_and_an_unpaid_one_is_refused() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let http = reqwest::Client::new();
    let client_key = issue(&http, &server, "client", "alice").await?;
    let miner_key = issue(&http, &server, "miner", "miner-1").await?;
    let signer = SecretKey::from_seed(&[6; 32]);
    let payout = types::Address::of(&SecretKey::from_seed(&[8; 32]).public_key());
    let treasury = chain::keyfile::read(&server.data_dir().join("chain/treasury.key"))?;

    let unpaid = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", &client_key)
        .json(&json!({"payload": {"prompt": "free?"}}))
        .send()
        .await?;
    assert_eq!(
        unpaid.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unpaid jobs are off by default"
    );

    let terms: Value = http
        .get(server.at("/v1/payments/terms"))
        .send()
        .await?
        .json()
        .await?;
    let escrow = types::tx::EscrowTerms {
        client: types::Address::of(&treasury.public_key()),
        job_id: "paid-http-1".into(),
        coordinator: types::PublicKey::from_hex(terms["coordinator_key"].as_str().expect("key"))?,
        expiry_height: terms["head_height"].as_u64().expect("head") + 100,
    };
    let nonce: Value = http
        .get(server.at(&format!("/rpc/getBalance/{}", escrow.client)))
        .send()
        .await?
        .json()
        .await?;
    let lock = types::Transaction {
        chain_id: terms["chain_id"].as_str().expect("chain").into(),
        sender: treasury.public_key(),
        nonce: nonce["nonce"].as_u64().expect("nonce"),
        fee: types::Amount(10_000),
        body: types::TxBody::EscrowLock {
            terms: escrow.clone(),
            amount: types::Amount(3_000_000),
        },
    }
    .sign(&treasury);
    let submitted = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", &client_key)
        .json(&json!({"payload": {"prompt": "paid"}, "payment": {"escrow_lock": lock}}))
        .send()
        .await?;
    assert_eq!(
        submitted.status(),
        StatusCode::CREATED,
        "{}",
        submitted.text().await?
    );

    http.post(server.at("/v1/miners/register"))
        .header("x-api-key", &miner_key)
        .json(&json!({
            "capabilities": {"gpus": [{"name": "A100", "memory_mb": 81920}], "price_per_unit": 1_000_000},
            "public_key": signer.public_key().to_hex(),
            "payout_address": payout.to_string(),
        }))
        .send()
        .await?
        .error_for_status()?;
    // The job is handed out once its lock is in a block.
    let assigned: Value = http
        .post(server.at("/v1/miners/poll"))
        .header("x-api-key", &miner_key)
        .json(&json!({"max_wait_seconds": 20}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(assigned["job_id"], "paid-http-1");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let result = json!({"text": "done"});
    let receipt = receipt_for(&assigned, "miner-1", &signer, &result, 1_000);
    http.post(server.at("/v1/miners/paid-http-1/result"))
        .header("x-api-key", &miner_key)
        .json(&json!({"result": result, "receipt": receipt}))
        .send()
        .await?
        .error_for_status()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let payment: Value = http
            .get(server.at("/v1/jobs/paid-http-1/payment"))
            .header("x-api-key", &client_key)
            .send()
            .await?
            .json()
            .await?;
        if payment["status"] == "released" {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "not released: {payment}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let paid: Value = http
        .get(server.at(&format!("/rpc/getBalance/{payout}")))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        paid["balance"], 1_000_000,
        "1 s at 1 AITBC/s reached the miner's payout address"
    );
    let escrow_balance: Value = http
        .get(server.at(&format!("/rpc/getBalance/{}", escrow.address())))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(escrow_balance["balance"], 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_past_their_rate_limit_are_told_to_slow_down() -> anyhow::Result<()> {
    let args = ["--key-rate-limit", "5", "--ip-rate-limit", "50"];
    let server = Server::start_with_options(
        Site::Default,
        Options {
            data_dir: None,
            bind: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        },
    )
    .await?;
    let http = reqwest::Client::new();
    let alice = issue(&http, &server, "client", "alice").await?;
    let bob = issue(&http, &server, "client", "bob").await?;
    let mut refused = None;
    for _ in 0..30 {
        let response = http
            .get(server.at("/v1/jobs/none"))
            .header("x-api-key", &alice)
            .send()
            .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let refused = refused.expect("30 quick requests under a limit of 5 a second all passed");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await?;
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    // Another key has its own allowance.
    let other = http
        .get(server.at("/v1/jobs/none"))
        .header("x-api-key", &bob)
        .send()
        .await?;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    // One address, even without a key, is limited too.
    let mut limited = false;
    for _ in 0..300 {
        let response = http
            .post(server.at("/v1/receipts/verify"))
            .json(&json!({}))
            .send()
            .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(
        limited,
        "300 quick requests from one address under a limit of 50 a second all passed"
    );
    Ok(())
}

/// What is wrong, the path, the key, the body, and the status and error code it must get.
type BadCase<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Value,
    StatusCode,
    &'a str,
);

/// Posts `body` to `path` with `key` and returns the status and the structured error's code.
async fn refused_with(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> anyhow::Result<(StatusCode, String)> {
    let mut request = http.post(server.at(path)).json(body);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    assert!(
        body["request_id"].is_string() && body["error"]["status"] == status.as_u16(),
        "not the structured error shape: {body}"
    );
    Ok((
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_signs_in_with_a_signed_challenge_and_its_session_acts_as_a_client()
-> anyhow::Result<()> {
    let server = unpaid_server(None, None).await?;
    let http = reqwest::Client::new();
    let wallet = SecretKey::from_seed(&[31; 32]);
    let address = types::Address::of(&wallet.public_key()).to_string();

    let challenge: Value = http
        .post(server.at("/v1/users/challenge"))
        .json(&json!({ "wallet_address": address }))
        .send()
        .await?
        .json()
        .await?;
    let message = challenge["message"].as_str().expect("message");
    let host = server.url.trim_start_matches("http://");
    assert!(
        message.starts_with(&format!("{host} wants you to sign in")),
        "the challenge names the site asking: {message}"
    );
    let login = |signature: String, nonce: Value| {
        json!({
            "wallet_address": address,
            "public_key": wallet.public_key().to_hex(),
            "nonce": nonce,
            "signature": signature,
        })
    };
    let signature = types::message::sign(&wallet, message).to_hex();
    let signed_in = http
        .post(server.at("/v1/users/login"))
        .json(&login(signature.clone(), challenge["nonce"].clone()))
        .send()
        .await?;
    assert_eq!(signed_in.status(), StatusCode::CREATED);
    let signed_in: Value = signed_in.json().await?;
    let token = signed_in["session_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(signed_in["wallet_address"], address.as_str());

    let me: Value = http
        .get(server.at("/v1/users/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["wallet_address"], address.as_str());
    // The session submits and reads jobs as a client whose identity is the address.
    let job = http
        .post(server.at("/v1/jobs"))
        .bearer_auth(&token)
        .json(&json!({ "payload": { "prompt": "signed in" } }))
        .send()
        .await?;
    assert_eq!(job.status(), StatusCode::CREATED);
    let job: Value = job.json().await?;
    let jobs: Value = http
        .get(server.at("/admin/jobs"))
        .header("x-api-key", admin_key(&server)?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(jobs["items"][0]["job_id"], job["job_id"]);
    assert_eq!(jobs["items"][0]["client_id"], address.as_str());
    // A session is no miner or admin.
    let as_admin = http
        .get(server.at("/admin/stats"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(as_admin.status(), StatusCode::FORBIDDEN);

    let logout = http
        .post(server.at("/v1/users/logout"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(logout.status(), StatusCode::OK);
    let gone = http
        .get(server.at(&format!(
            "/v1/jobs/{}",
            job["job_id"].as_str().unwrap_or_default()
        )))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_answers_4xx_with_a_structured_body_and_changes_nothing() -> anyhow::Result<()> {
    let server = unpaid_server(None, None).await?;
    let http = reqwest::Client::new();
    let client = issue(&http, &server, "client", "alice").await?;
    let miner_a = issue(&http, &server, "miner", "miner-a").await?;
    let miner_b = issue(&http, &server, "miner", "miner-b").await?;
    for (key, seed) in [(&miner_a, 41u8), (&miner_b, 42)] {
        http.post(server.at("/v1/miners/register"))
            .header("x-api-key", key)
            .json(&json!({ "public_key": SecretKey::from_seed(&[seed; 32]).public_key().to_hex() }))
            .send()
            .await?
            .error_for_status()?;
    }
    let submit = |body: Value| {
        let http = http.clone();
        let url = server.at("/v1/jobs");
        let client = client.clone();
        async move {
            let job: Value = http
                .post(url)
                .header("x-api-key", client)
                .json(&body)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(job["job_id"].as_str().unwrap_or_default().to_owned())
        }
    };
    let take = |key: String| {
        let http = http.clone();
        let url = server.at("/v1/miners/poll");
        async move {
            let job: Value = http
                .post(url)
                .header("x-api-key", key)
                .json(&json!({ "max_wait_seconds": 5 }))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(job)
        }
    };
    let running = submit(json!({ "payload": { "prompt": "long" } })).await?;
    let assigned = take(miner_a.clone()).await?;
    assert_eq!(assigned["job_id"], running.as_str());
    let short = submit(json!({ "payload": { "prompt": "short" }, "ttl_seconds": 1 })).await?;
    let expiring = take(miner_b.clone()).await?;
    assert_eq!(expiring["job_id"], short.as_str());
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let stats_before: Value = http
        .get(server.at("/admin/stats"))
        .header("x-api-key", admin_key(&server)?)
        .send()
        .await?
        .json()
        .await?;

    let result = json!({ "result": { "text": "x" }, "receipt": {} });
    let wallet = SecretKey::from_seed(&[43; 32]);
    let address = types::Address::of(&wallet.public_key()).to_string();
    let mut challenges = Vec::new();
    for _ in 0..2 {
        let challenge: Value = http
            .post(server.at("/v1/users/challenge"))
            .json(&json!({ "wallet_address": address }))
            .send()
            .await?
            .json()
            .await?;
        challenges.push(challenge);
    }
    let login = |key: &SecretKey, challenge: &Value| {
        json!({
            "wallet_address": address,
            "public_key": wallet.public_key().to_hex(),
            "nonce": challenge["nonce"],
            "signature": types::message::sign(key, challenge["message"].as_str().unwrap_or_default()).to_hex(),
        })
    };
    // A login that worked once, to be replayed.
    let replayed = login(&wallet, &challenges[1]);
    let first = http
        .post(server.at("/v1/users/login"))
        .json(&replayed)
        .send()
        .await?;
    assert_eq!(first.status(), StatusCode::CREATED);
    let thief = SecretKey::from_seed(&[44; 32]);
    let running_result = format!("/v1/miners/{running}/result");
    let short_result = format!("/v1/miners/{short}/result");
    let cases: Vec<BadCase> = vec![
        (
            "invalid constraints",
            "/v1/jobs",
            Some(&client),
            json!({ "payload": {}, "constraints": { "min_vram_gb": "lots" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
        ),
        (
            "unknown job",
            "/v1/jobs/no-such-job/cancel",
            Some(&client),
            json!({}),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            "a key of the wrong role",
            "/v1/miners/poll",
            Some(&client),
            json!({ "max_wait_seconds": 0 }),
            StatusCode::FORBIDDEN,
            "WRONG_ROLE",
        ),
        (
            "a result from a miner not assigned",
            &running_result,
            Some(&miner_b),
            result.clone(),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
        (
            "a result after expiry",
            &short_result,
            Some(&miner_b),
            result.clone(),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
        (
            "a forged login signature",
            "/v1/users/login",
            None,
            login(&thief, &challenges[0]),
            StatusCode::UNAUTHORIZED,
            "SIGN_IN_REFUSED",
        ),
        (
            "a replayed login signature",
            "/v1/users/login",
            None,
            replayed.clone(),
            StatusCode::UNAUTHORIZED,
            "SIGN_IN_REFUSED",
        ),
        (
            "an oversized payload",
            "/v1/jobs",
            Some(&client),
            json!({ "payload": { "blob": "x".repeat(2 * 1024 * 1024) } }),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (what, path, key, body, status, code) in cases {
        let got = refused_with(&http, &server, path, key, &body).await?;
        assert_eq!(got, (status, code.to_owned()), "{what}");
    }

    // A fresh client: the server closes the connection it refused the oversized body on, and a
    // pooled client could pick that connection up again as it closes.
    let http = reqwest::Client::new();
    let stats_after: Value = http
        .get(server.at("/admin/stats"))
        .header("x-api-key", admin_key(&server)?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        stats_before, stats_after,
        "bad requests changed the coordinator"
    );
    let job = |id: String| {
        let http = http.clone();
        let url = server.at(&format!("/v1/jobs/{id}"));
        let client = client.clone();
        async move {
            let job: Value = http
                .get(url)
                .header("x-api-key", client)
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(job)
        }
    };
    let still = job(running).await?;
    assert_eq!(
        (still["state"].as_str(), still["assigned_miner_id"].as_str()),
        (Some("RUNNING"), Some("miner-a"))
    );
    let expired = job(short).await?;
    assert_eq!(expired["state"], "EXPIRED");
    assert!(expired["receipt_id"].is_null());
    Ok(())
}

/// Signs in `wallet` over HTTP; returns the session token.
async fn sign_in(
    http: &reqwest::Client,
    server: &Server,
    wallet: &SecretKey,
) -> anyhow::Result<String> {
    let address = types::Address::of(&wallet.public_key()).to_string();
    let challenge: Value = http
        .post(server.at("/v1/users/challenge"))
        .json(&json!({ "wallet_address": address }))
        .send()
        .await?
        .json()
        .await?;
    let signature = types::message::sign(wallet, challenge["message"].as_str().unwrap_or_default());
    let signed_in: Value = http
        .post(server.at("/v1/users/login"))
        .json(&json!({
            "wallet_address": address,
            "public_key": wallet.public_key().to_hex(),
            "nonce": challenge["nonce"],
            "signature": signature.to_hex(),
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(signed_in["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_marketplace_lists_a_live_miners_gpu_and_books_it_for_a_signed_in_wallet()
-> anyhow::Result<()> {
    let server = unpaid_server(None, None).await?;
    let http = reqwest::Client::new();
    let miner = issue(&http, &server, "miner", "miner-1").await?;
    let other_client = issue(&http, &server, "client", "bob").await?;
    http.post(server.at("/v1/miners/register"))
        .header("x-api-key", &miner)
        .json(&json!({ "capabilities": { "gpus": [{ "name": "RTX 4090", "memory_mb": 24576 }], "models": ["llama3"], "price_per_unit": 100 } }))
        .send()
        .await?
        .error_for_status()?;
    let gpu_body = json!({ "gpu": { "name": "RTX 4090", "memory": 24, "price_per_hour": 0.5, "region": "eu-west", "capabilities": ["llama3"] } });
    let as_client = http
        .post(server.at("/v1/marketplace/gpu/register"))
        .header("x-api-key", &other_client)
        .json(&gpu_body)
        .send()
        .await?;
    assert_eq!(
        as_client.status(),
        StatusCode::FORBIDDEN,
        "only miners list GPUs"
    );
    let listed = http
        .post(server.at("/v1/marketplace/gpu/register"))
        .header("x-api-key", &miner)
        .json(&gpu_body)
        .send()
        .await?;
    assert_eq!(listed.status(), StatusCode::CREATED);
    let gpu_id = listed.json::<Value>().await?["gpu_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let available: Value = http
        .get(server.at("/api/marketplace/gpu/list?available=true&model=4090"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(available[0]["id"], gpu_id.as_str(), "{available}");
    let offers: Value = http
        .get(server.at("/v1/marketplace/offers"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        offers[0]["provider"], "miner-1",
        "the online miner is on offer: {offers}"
    );

    let token = sign_in(&http, &server, &SecretKey::from_seed(&[51; 32])).await?;
    let booked = http
        .post(server.at(&format!("/v1/marketplace/gpu/{gpu_id}/book")))
        .bearer_auth(&token)
        .json(&json!({ "duration_hours": 2 }))
        .send()
        .await?;
    assert_eq!(booked.status(), StatusCode::CREATED);
    let booked: Value = booked.json().await?;
    assert_eq!(booked["total_cost"], 1.0, "2 h at 0.5 AITBC/h: {booked}");
    let taken = http
        .post(server.at(&format!("/v1/marketplace/gpu/{gpu_id}/book")))
        .header("x-api-key", &other_client)
        .json(&json!({ "duration_hours": 1 }))
        .send()
        .await?;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let detail: Value = http
        .get(server.at(&format!("/v1/marketplace/gpu/{gpu_id}")))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(detail["status"], "booked");
    assert_eq!(
        detail["current_booking"]["booking_id"],
        booked["booking_id"]
    );
    let anonymous = http.get(server.at("/v1/marketplace/orders")).send().await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let orders: Value = http
        .get(server.at("/v1/marketplace/orders"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(orders.as_array().map(Vec::len), Some(1));
    let released: Value = http
        .post(server.at(&format!("/v1/marketplace/gpu/{gpu_id}/release")))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(released["status"], "released");
    let review = http
        .post(server.at(&format!("/v1/marketplace/gpu/{gpu_id}/reviews")))
        .bearer_auth(&token)
        .json(&json!({ "rating": 5, "comment": "quick" }))
        .send()
        .await?;
    assert_eq!(review.status(), StatusCode::CREATED);
    let pricing: Value = http
        .get(server.at("/v1/marketplace/pricing/llama3"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(pricing["recommended_gpu"], gpu_id.as_str());
    assert_eq!(pricing["available_gpus"], 1);
    Ok(())
}
