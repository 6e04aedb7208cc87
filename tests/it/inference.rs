//! `aitbc-miner` processes on real backends' protocols (the protocol test servers) against a real server: a streamed generate job paid on chain with its output visible while it streams, backends that cannot be reached or fail reported as failures and refunded, and a client's cancel stopping the model server's stream and billing the client for the run until then.

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::{Value, json};
use tests::{
    Miner, Server,
    model_servers::{MODEL, Script, ollama_server},
    stack::{eventually, issue},
};

use crate::miners::{Client, before, check_settled, stack_server, stack_server_on};

/// A miner process on the Ollama protocol at `url`, with `extra` flags.
async fn ollama_miner(
    http: &reqwest::Client,
    server: &Server,
    identity: &str,
    url: &str,
    extra: &[&str],
) -> anyhow::Result<Miner> {
    let mut args = vec![
        "--backend",
        "ollama",
        "--backend-url",
        url,
        "--price-per-unit",
        "100",
        "--heartbeat-seconds",
        "0.5",
        "--poll-seconds",
        "5",
    ];
    args.extend_from_slice(extra);
    Miner::start(
        &server.url,
        &issue(http, server, "miner", identity).await?,
        &args,
    )
    .await
}

/// The job `id` as its client sees it once `done` holds for it.
async fn job_when(
    http: &reqwest::Client,
    server: &Server,
    client: &Client,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(30), what, || async {
        let job = client.get(http, server, &format!("/v1/jobs/{id}")).await?;
        Ok(done(&job).then_some(job))
    })
    .await
}

#[tokio::test]
async fn a_streamed_generate_job_shows_its_output_as_it_comes_and_is_paid() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = stack_server(None, None).await?;
    let (url, _) = ollama_server(Script {
        pieces: vec!["The", " sky", " is", " blue", "."],
        delay: Duration::from_millis(400),
        ..Script::default()
    })
    .await;
    let miner = ollama_miner(&http, &server, "miner-ollama", &url, &[]).await?;
    let client = Client::new(&http, &server, "client-gen", 10_000_000).await?;
    let start = before(&http, &server, &server, &client).await?;
    // The earlier system's payload, run as a generate job.
    let payload =
        json!({ "type": "inference", "model": MODEL, "prompt": "What colour is the sky?" });
    let body = client.job(&http, &server, "gen-1", 0, payload).await?;
    client.submit(&http, &server.url, &body).await?;

    let streaming = job_when(&http, &server, &client, "gen-1", "partial output", |job| {
        job["state"] == "RUNNING"
            && job["partial"]["output"]
                .as_str()
                .is_some_and(|o| !o.is_empty())
    })
    .await?;
    let partial = streaming["partial"]["output"].as_str().unwrap_or_default();
    assert!(
        "The sky is blue.".starts_with(partial),
        "partial output {partial:?}"
    );

    check_settled(
        &http,
        &server,
        &server,
        &client,
        &["gen-1".to_owned()],
        &start,
        &[("miner-ollama", &miner)],
    )
    .await?;
    let result = client.get(&http, &server, "/v1/jobs/gen-1/result").await?;
    assert_eq!(result["result"]["output"], "The sky is blue.", "{result}");
    assert_eq!(result["result"]["model"], MODEL);
    assert_eq!(result["result"]["tokens_processed"], 7 + 5);
    Ok(())
}

#[tokio::test]
async fn a_backend_that_is_unreachable_or_failing_is_reported_as_a_failure_and_refunded()
-> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = stack_server(None, None).await?;
    let client = Client::new(&http, &server, "client-fail", 10_000_000).await?;
    // Port 1 (tcpmux): nothing listens there, and no test server can be given it.
    let closed = "http://127.0.0.1:1".to_owned();
    let (failing, _) = ollama_server(Script {
        fail_with: Some("CUDA error: out of memory"),
        ..Script::default()
    })
    .await;
    for (n, (url, code)) in [
        (closed.as_str(), "BACKEND_UNAVAILABLE"),
        (failing.as_str(), "BACKEND_ERROR"),
    ]
    .into_iter()
    .enumerate()
    {
        let miner = ollama_miner(&http, &server, &format!("miner-broken-{n}"), url, &[]).await?;
        let id = format!("broken-{n}");
        let payload = json!({ "type": "generate", "model": MODEL, "prompt": "hello" });
        let body = client.job(&http, &server, &id, n as u64, payload).await?;
        client.submit(&http, &server.url, &body).await?;
        let job = job_when(&http, &server, &client, &id, "the refund", |job| {
            job["payment_status"] == "refunded"
        })
        .await?;
        assert_eq!(job["state"], "FAILED", "{job}");
        assert!(
            job["error"].as_str().is_some_and(|e| e.starts_with(code)),
            "{job}"
        );
        let receipts = client
            .get(&http, &server, &format!("/v1/jobs/{id}/receipts"))
            .await?;
        assert_eq!(receipts["items"], json!([]), "a failure has no receipt");
        miner.kill().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_client_cancel_stops_the_model_servers_stream_and_bills_the_run_so_far()
-> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = stack_server(None, None).await?;
    let (url, script) = ollama_server(Script {
        pieces: vec!["word "; 400],
        delay: Duration::from_millis(50),
        ..Script::default()
    })
    .await;
    let miner = ollama_miner(&http, &server, "miner-cancel", &url, &[]).await?;
    let client = Client::new(&http, &server, "client-cancel", 10_000_000).await?;
    let start = before(&http, &server, &server, &client).await?;
    let payload = json!({ "type": "generate", "model": MODEL, "prompt": "talk" });
    let body = client.job(&http, &server, "long-1", 0, payload).await?;
    let submitted = std::time::Instant::now();
    client.submit(&http, &server.url, &body).await?;
    job_when(&http, &server, &client, "long-1", "streaming", |job| {
        job["partial"]["output"].is_string()
    })
    .await?;
    let canceled = http
        .post(server.at("/v1/jobs/long-1/cancel"))
        .header("x-api-key", &client.api_key)
        .send()
        .await?;
    assert!(canceled.status().is_success(), "{}", canceled.status());
    let ran_at_most = submitted.elapsed().as_secs_f64();
    eventually(Duration::from_secs(5), "the stream's abort", || async {
        Ok(script.aborted.load(Ordering::SeqCst).then_some(()))
    })
    .await?;
    let sent = script.sent.load(Ordering::SeqCst);
    assert!(
        sent < 200,
        "the model server streamed on: {sent} of 400 pieces"
    );
    let job = client.get(&http, &server, "/v1/jobs/long-1").await?;
    assert_eq!(job["state"], "CANCELED", "{job}");

    // The miner reported the usage until the cancel: the client pays for that (the receipt
    // verifies, the miner got its price, the client the rest), not for the whole job.
    check_settled(
        &http,
        &server,
        &server,
        &client,
        &["long-1".to_owned()],
        &start,
        &[("miner-cancel", &miner)],
    )
    .await?;
    let result = client.get(&http, &server, "/v1/jobs/long-1/result").await?;
    assert_eq!(result["state"], "CANCELED", "{result}");
    let output = result["result"]["output"].as_str().unwrap_or_default();
    assert!(
        !output.is_empty() && output.len() < 200 * "word ".len() && output.starts_with("word "),
        "the output until the cancel: {output:?}"
    );
    let units = result["receipt"]["units"].as_f64().unwrap_or_default();
    assert!(
        units > 0.0 && units <= ran_at_most + 1.0,
        "billed for {units} GPU seconds; the job ran at most {ran_at_most:.2} s before its cancel"
    );
    Ok(())
}

#[tokio::test]
async fn the_built_in_cpu_backend_runs_paid_embedding_jobs_with_real_embeddings()
-> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = stack_server(None, None).await?;
    let mut args = vec![
        "--backend",
        "cpu",
        "--price-per-unit",
        "100",
        "--heartbeat-seconds",
        "0.5",
    ];
    let model_dir = std::env::var("AITBC_EMBEDDING_MODEL").ok();
    if let Some(dir) = &model_dir {
        args.extend(["--model-dir", dir]);
    }
    let miner = Miner::start(
        &server.url,
        &issue(&http, &server, "miner", "miner-cpu").await?,
        &args,
    )
    .await?;
    let client = Client::new(&http, &server, "client-embed", 10_000_000).await?;
    let start = before(&http, &server, &server, &client).await?;
    let texts = [
        [
            "How do I reset my password?",
            "I forgot my password and cannot log in.",
        ],
        [
            "The cat sleeps on the sofa.",
            "A kitten is napping on the couch.",
        ],
    ];
    let mut ids = Vec::new();
    for (n, pair) in texts.iter().enumerate() {
        let id = format!("embed-{n}");
        let payload = json!({ "type": "embeddings", "model": "all-MiniLM-L6-v2", "input": pair });
        let body = client.job(&http, &server, &id, n as u64, payload).await?;
        client.submit(&http, &server.url, &body).await?;
        ids.push(id);
    }
    check_settled(
        &http,
        &server,
        &server,
        &client,
        &ids,
        &start,
        &[("miner-cpu", &miner)],
    )
    .await?;
    let mut vectors = Vec::new();
    for id in &ids {
        let result = client
            .get(&http, &server, &format!("/v1/jobs/{id}/result"))
            .await?;
        assert_eq!(result["result"]["dimensions"], 384, "{id}");
        let pair = miner::backend::vectors(&result["result"]["embeddings"], 2)
            .ok_or_else(|| anyhow::anyhow!("{id}: no embeddings in {result}"))?;
        vectors.extend(pair);
    }
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let (passwords, cats) = (
        cosine(&vectors[0], &vectors[1]),
        cosine(&vectors[2], &vectors[3]),
    );
    let unrelated = cosine(&vectors[0], &vectors[2]).max(cosine(&vectors[1], &vectors[3]));
    eprintln!("cosine: passwords {passwords:.3}, cats {cats:.3}, unrelated at most {unrelated:.3}");
    assert!(passwords > unrelated + 0.3 && cats > unrelated + 0.3);
    Ok(())
}

/// Runs `aitbc-miner` with `args` to its end; returns whether it succeeded and what it printed.
async fn miner_command(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(bool, String)> {
    let out = tokio::process::Command::new(tests::miner_binary()?)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

#[tokio::test]
async fn init_writes_a_config_doctor_checks_it_and_run_works_from_it() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = stack_server(None, None).await?;
    let (url, _) = ollama_server(Script {
        pieces: vec!["fine"],
        ..Script::default()
    })
    .await;
    let api_key = issue(&http, &server, "miner", "miner-configured").await?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("miner.toml");
    let config = config.to_str().unwrap_or_default();
    let payout = types::Address::of(&types::SecretKey::from_seed(&rand::random()).public_key());
    let (ok, said) = miner_command(
        &[
            "init",
            "--config",
            config,
            "--coordinator",
            &server.url,
            "--api-key",
            &api_key,
            "--backend",
            "ollama",
            "--backend-url",
            &url,
            "--default-model",
            MODEL,
            "--payout-address",
            &payout.to_string(),
            "--price-per-unit",
            "100",
            "--heartbeat-seconds",
            "0.5",
        ],
        &[],
    )
    .await?;
    assert!(ok, "{said}");
    assert!(dir.path().join("miner.key").is_file(), "{said}");
    let (ok, said) = miner_command(&["init", "--config", config], &[]).await?;
    assert!(
        !ok && said.contains("--force"),
        "init replaced a config: {said}"
    );

    let (ok, said) = miner_command(&["doctor", "--config", config], &[]).await?;
    assert!(ok, "{said}");
    for line in [
        "ok   signing key",
        &format!("ok   payout address: {payout}"),
        &format!("ok   backend: ollama: {MODEL}"),
        "ok   API key: accepted as a miner key",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }
    // The environment overrides the file; each mistake is named with its fix.
    let (ok, said) = miner_command(
        &["doctor", "--config", config, "--default-model", "llama-404"],
        &[("AITBC_MINER_API_KEY", "aitbc_miner_wrong")],
    )
    .await?;
    assert!(!ok, "{said}");
    assert!(
        said.contains("FAIL model: llama-404 is configured but ollama does not serve it"),
        "{said}"
    );
    assert!(
        said.contains("FAIL API key: the coordinator does not know it"),
        "{said}"
    );

    // A miner started with the config file alone runs a paid job.
    let _miner = tokio::process::Command::new(tests::miner_binary()?)
        .args(["run", "--config", config])
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()?;
    let client = Client::new(&http, &server, "client-config", 10_000_000).await?;
    let payload = json!({ "type": "generate", "prompt": "how are you?" });
    let body = client
        .job(&http, &server, "configured-1", 0, payload)
        .await?;
    client.submit(&http, &server.url, &body).await?;
    let job = job_when(&http, &server, &client, "configured-1", "release", |job| {
        job["payment_status"] == "released"
    })
    .await?;
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let result = client
        .get(&http, &server, "/v1/jobs/configured-1/result")
        .await?;
    assert_eq!(result["result"]["output"], "fine");
    assert_eq!(
        result["result"]["model"], MODEL,
        "the default model ran the job"
    );
    Ok(())
}

#[tokio::test]
async fn a_miner_rides_out_a_coordinator_killed_mid_job_and_runs_each_job_as_often_as_it_is_handed_out()
-> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let bind = format!("127.0.0.1:{}", tests::free_port()?);
    let server = stack_server_on(Some(data.path().to_path_buf()), Some(bind.clone()), None).await?;
    let http = reqwest::Client::new();
    let (url, script) = ollama_server(Script {
        pieces: vec!["step "; 8],
        delay: Duration::from_millis(150),
        ..Script::default()
    })
    .await;
    let miner = ollama_miner(
        &http,
        &server,
        "miner-outage",
        &url,
        &["--concurrency", "2"],
    )
    .await?;
    let client = Client::new(&http, &server, "client-outage", 10_000_000).await?;
    let start = before(&http, &server, &server, &client).await?;
    let mut ids = Vec::new();
    for n in 0..6u64 {
        let id = format!("outage-{n}");
        let payload = json!({ "type": "generate", "model": MODEL, "prompt": format!("job {n}") });
        let body = client.job(&http, &server, &id, n, payload).await?;
        client.submit(&http, &server.url, &body).await?;
        ids.push(id);
    }
    eventually(Duration::from_secs(20), "a job streaming", || async {
        Ok((!script.requests.lock().map(|r| r.is_empty()).unwrap_or(true)).then_some(()))
    })
    .await?;
    server.kill().await?;
    let asked_at_kill = script.requests.lock().map(|r| r.len()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let server = stack_server_on(Some(data.path().to_path_buf()), Some(bind), None).await?;

    check_settled(
        &http,
        &server,
        &server,
        &client,
        &ids,
        &start,
        &[("miner-outage", &miner)],
    )
    .await?;
    // The model server ran each job as often as the coordinator handed it out: a job the miner
    // finished through the outage was not run again; one whose lease lapsed meanwhile was.
    let requests = script
        .requests
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    for (n, id) in ids.iter().enumerate() {
        let job = client
            .get(&http, &server, &format!("/v1/jobs/{id}"))
            .await?;
        let runs = requests
            .iter()
            .filter(|r| r["prompt"] == format!("job {n}"))
            .count();
        assert_eq!(Some(runs as u64), job["attempts"].as_u64(), "{id}: {job}");
    }
    println!(
        "{asked_at_kill} of 6 jobs begun at the kill; model server asked {} times in all",
        requests.len()
    );
    Ok(())
}
