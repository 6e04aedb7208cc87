//! The miner's overhead per job: the same generate job timed as a direct call to a model server (the Ollama protocol test server, answering at once) and as a job through a running coordinator and a real `aitbc-miner` process on that model server; the difference is what the coordinator round trips and the miner's proxying add. `./x bench` runs it against a release server.

use std::time::{Duration, Instant};

use anyhow::Context;
use miner::{Backend, Progress, ollama::Ollama, task::Task};
use serde_json::json;
use tests::{
    model_servers::{MODEL, Script, ollama_server},
    stack::{issue_at, result_when_done},
    stats::{percentile, summary},
};

struct Args {
    url: String,
    admin_key: String,
    miner_bin: String,
    jobs: usize,
}

const USAGE: &str = "usage: minerbench --url URL --admin-key-file FILE --miner-bin PATH [--jobs N]";

fn parse() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        admin_key: String::new(),
        miner_bin: String::new(),
        jobs: 300,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => parsed.url = value()?,
            "--admin-key-file" => {
                parsed.admin_key = std::fs::read_to_string(value()?)?.trim().to_owned()
            }
            "--miner-bin" => parsed.miner_bin = value()?,
            "--jobs" => parsed.jobs = value()?.parse()?,
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    anyhow::ensure!(
        !parsed.url.is_empty() && !parsed.admin_key.is_empty() && !parsed.miner_bin.is_empty(),
        "--url, --admin-key-file and --miner-bin are required\n{USAGE}"
    );
    Ok(parsed)
}

fn generate(n: usize) -> Task {
    Task::Generate {
        model: MODEL.into(),
        prompt: format!("job {n}"),
        system: None,
        sampling: Default::default(),
    }
}

/// One job through the coordinator and the miner: submitted, then its result read with a long
/// poll that answers as soon as it is there.
async fn through_the_stack(
    http: &reqwest::Client,
    url: &str,
    client_key: &str,
    n: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let submitted = http
        .post(format!("{url}/v1/jobs"))
        .header("x-api-key", client_key)
        .json(&json!({ "payload": { "type": "generate", "model": MODEL, "prompt": format!("job {n}") } }))
        .send()
        .await?
        .error_for_status()?
        .json::<serde_json::Value>()
        .await?;
    let id = submitted["job_id"]
        .as_str()
        .context("no job_id")?
        .to_owned();
    let answered = started.elapsed();
    let body = result_when_done(http, url, client_key, &id, 10).await?;
    anyhow::ensure!(body["state"] == "COMPLETED", "job {id}: {body}");
    Ok((answered, started.elapsed()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse()?;
    let url = args.url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let (model_url, _) = ollama_server(Script {
        pieces: vec!["ok"],
        ..Script::default()
    })
    .await;

    // The miner, on the model server, registered with a key of its own.
    let run = hex::encode(rand::random::<[u8; 4]>());
    let miner_key = issue_at(
        &http,
        &url,
        &args.admin_key,
        "miner",
        &format!("bench-miner-{run}"),
    )
    .await?;
    let client_key = issue_at(
        &http,
        &url,
        &args.admin_key,
        "client",
        &format!("bench-client-{run}"),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("miner.key");
    types::keyfile::write(&key_file, &types::SecretKey::from_seed(&rand::random()))?;
    let _miner = tokio::process::Command::new(&args.miner_bin)
        .args([
            "run",
            "--coordinator",
            &url,
            "--api-key",
            &miner_key,
            "--backend",
            "ollama",
        ])
        .args(["--backend-url", &model_url, "--poll-seconds", "30"])
        .arg("--key-file")
        .arg(&key_file)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.miner_bin))?;

    // Warm up both paths (connections, the miner's registration, caches).
    let backend = Ollama::new(&model_url);
    for n in 0..20 {
        let (progress, _text) = Progress::new();
        backend.run(&generate(n), &progress).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut warm = 0;
    while warm < 20 {
        match through_the_stack(&http, &url, &client_key, warm).await {
            Ok(_) => warm += 1,
            // Not registered yet.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.context("the miner never ran a job")),
        }
    }

    // Alternating, so that both paths see the same machine.
    let (mut direct, mut stacked, mut submits) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..args.jobs {
        let (progress, _text) = Progress::new();
        let started = Instant::now();
        backend.run(&generate(n), &progress).await?;
        direct.push(started.elapsed());
        let (submitted, done) = through_the_stack(&http, &url, &client_key, n).await?;
        submits.push(submitted);
        stacked.push(done);
    }
    direct.sort();
    stacked.sort();
    submits.sort();
    let median = |d: &[Duration]| percentile(d, 50.0).as_secs_f64() * 1e3;
    println!(
        "generate job called on the model server directly: {} ({} jobs)",
        summary(&direct),
        direct.len()
    );
    println!(
        "the same job through the coordinator and aitbc-miner (submit until the result is read): {}",
        summary(&stacked)
    );
    println!(
        "of which the submit, until the coordinator answered (a waiting miner has the job by then): {}",
        summary(&submits)
    );
    println!(
        "added per job: median {:.2} ms (goal < 1 ms); {:.1} times the direct call",
        median(&stacked) - median(&direct),
        median(&stacked) / median(&direct).max(1e-9)
    );
    Ok(())
}
