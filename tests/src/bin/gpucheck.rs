//! The miner on a machine with a real NVIDIA GPU, run there once by hand (no CI machine has one): what `nvidia-smi` prints and what the miner's detection reads of it, `aitbc-miner doctor`, then `aitbc-miner run` registered with a real server and running embedding jobs on a model server that computes on the GPU, their receipts verified. `tests/device/gpu-check.sh` runs it; it prints a record for the issue note and exits non-zero if any step fails.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use miner::{Backend, Progress, gpu, openai::OpenAi, task::Task};
use serde_json::{Value, json};
use tests::{
    Miner, Options, Server, Site,
    stack::{admin_key, eventually, issue, result_when_done, verify_receipt},
    stats::summary,
};

const USAGE: &str = "usage: gpucheck --backend-url URL --model NAME";

struct Args {
    backend_url: String,
    model: String,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let (mut backend_url, mut model) = (None, None);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--backend-url" => backend_url = Some(value),
            "--model" => model = Some(value),
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(Args {
        backend_url: backend_url.context(USAGE)?,
        model: model.context(USAGE)?,
    })
}

/// `nvidia-smi` with `args`, as printed.
fn nvidia_smi(args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args(args)
        .output()
        .context("cannot run nvidia-smi")?;
    ensure!(out.status.success(), "nvidia-smi {args:?}: {}", out.status);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submits an unpaid embeddings job of `texts` and waits for its result and receipt.
async fn embed(
    http: &reqwest::Client,
    server: &Server,
    client_key: &str,
    model: &str,
    texts: &[&str],
) -> anyhow::Result<(Vec<Vec<f32>>, Value, Duration)> {
    let started = Instant::now();
    let submitted: Value = http
        .post(server.at("/v1/jobs"))
        .header("x-api-key", client_key)
        .json(&json!({ "payload": { "type": "embeddings", "model": model, "input": texts } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = submitted["job_id"]
        .as_str()
        .context("no job_id")?
        .to_owned();
    let body = result_when_done(http, &server.url, client_key, &id, 60).await?;
    let took = started.elapsed();
    ensure!(body["state"] == "COMPLETED", "job {id}: {body}");
    let vectors = miner::backend::vectors(&body["result"]["embeddings"], texts.len())
        .with_context(|| format!("job {id}: no embeddings in {body}"))?;
    Ok((vectors, body["receipt"].clone(), took))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse()?;
    let http = reqwest::Client::new();

    println!("== nvidia-smi\n{}", nvidia_smi(&[])?);
    let query = format!("--query-gpu={}", gpu::QUERY);
    println!(
        "== nvidia-smi {query} --format=csv,noheader,nounits\n{}",
        nvidia_smi(&[&query, "--format=csv,noheader,nounits"])?
    );
    let hardware = gpu::detect("nvidia-smi")?;
    println!(
        "== the miner's detection\n{}\n",
        serde_json::to_string_pretty(&hardware)?
    );
    ensure!(!hardware.cpu_only(), "the miner found no GPU");

    let server = Server::start_with_options(
        Site::Default,
        Options {
            args: ["--api-only", "--allow-unpaid-jobs", "--no-wallet"]
                .map(String::from)
                .to_vec(),
            ..Options::default()
        },
    )
    .await?;
    let miner_key = issue(&http, &server, "miner", "gpu-miner").await?;
    let client_key = issue(&http, &server, "client", "gpu-client").await?;
    let backend = ["--backend", "openai", "--backend-url", &args.backend_url];

    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("miner.key");
    types::keyfile::write(&key_file, &types::SecretKey::from_seed(&rand::random()))?;
    let doctor = tokio::process::Command::new(tests::miner_binary()?)
        .args([
            "doctor",
            "--coordinator",
            &server.url,
            "--api-key",
            &miner_key,
        ])
        .arg("--key-file")
        .arg(&key_file)
        .args(backend)
        .output()
        .await?;
    println!(
        "== aitbc-miner doctor (exit {})\n{}{}",
        doctor.status,
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );

    let _miner = Miner::start(
        &server.url,
        &miner_key,
        &[&backend[..], &["--heartbeat-seconds", "1"]].concat(),
    )
    .await?;
    let admin = admin_key(&server)?;
    let registered: Value = eventually(Duration::from_secs(30), "the miner online", || async {
        let miners: Value = http
            .get(server.at("/admin/miners"))
            .header("x-api-key", &admin)
            .send()
            .await?
            .json()
            .await?;
        let list = miners["items"].as_array().cloned().unwrap_or_default();
        Ok(list.into_iter().find(|m| m["status"] == "ONLINE"))
    })
    .await?;
    println!(
        "== the miner as the coordinator lists it\n{}\n",
        serde_json::to_string_pretty(&registered)?
    );

    let texts = [
        "How do I reset my password?",
        "I forgot my password and cannot log in.",
        "The cat sleeps on the sofa.",
        "A kitten is napping on the couch.",
    ];
    let (vectors, receipt, took) = embed(&http, &server, &client_key, &args.model, &texts).await?;
    let verified = verify_receipt(&http, &server, &receipt).await?;
    println!(
        "== an embeddings job through the coordinator and aitbc-miner ({:.1} ms)\nreceipt: {receipt}\nverify: {verified}",
        took.as_secs_f64() * 1e3
    );
    let (passwords, cats) = (
        cosine(&vectors[0], &vectors[1]),
        cosine(&vectors[2], &vectors[3]),
    );
    let unrelated = cosine(&vectors[0], &vectors[2]).max(cosine(&vectors[1], &vectors[3]));
    println!(
        "cosine: passwords {passwords:.3}, cats {cats:.3}, unrelated at most {unrelated:.3}\n"
    );
    ensure!(verified["verified"] == true, "the receipt does not verify");
    ensure!(
        passwords > unrelated + 0.3 && cats > unrelated + 0.3,
        "the embeddings do not tell close sentences from unrelated ones"
    );

    // The same job called on the model server directly and through the stack, alternately.
    let direct_backend = OpenAi::new(&args.backend_url, None);
    let task = Task::Embeddings {
        model: args.model.clone(),
        input: texts.map(String::from).to_vec(),
    };
    let (mut direct, mut stacked) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let (progress, _text) = Progress::new();
        let started = Instant::now();
        direct_backend.run(&task, &progress).await?;
        direct.push(started.elapsed());
        stacked.push(
            embed(&http, &server, &client_key, &args.model, &texts)
                .await?
                .2,
        );
    }
    direct.sort();
    stacked.sort();
    println!(
        "== 30 embeddings jobs of 4 texts\nthe model server directly: {}\nthrough the coordinator and aitbc-miner: {}",
        summary(&direct),
        summary(&stacked)
    );
    Ok(())
}
