//! The coordinator's benchmark over HTTP: many simulated miners long-poll a running server while clients submit jobs; reports job lifecycles per second (submit → assign → signed result accepted) and submit→assign latency percentiles, with miners waiting and under saturation. `./x bench` runs it on SQLite and on PostgreSQL.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::Connection;
use types::{
    SecretKey,
    receipt::{JobReceipt, sign, value_hash},
};

struct Args {
    url: String,
    admin_key: String,
    miners: usize,
    clients: usize,
    seconds: u64,
    waiting_jobs: usize,
    in_flight: usize,
}

const USAGE: &str = "usage: jobbench --url URL --admin-key-file FILE [--miners N] [--clients N] [--seconds S] [--waiting-jobs N] [--in-flight N]\n       jobbench --create-database POSTGRES_URL | --drop-database POSTGRES_URL";

fn parse() -> anyhow::Result<Option<Args>> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        admin_key: String::new(),
        miners: 64,
        clients: 32,
        seconds: 10,
        waiting_jobs: 300,
        in_flight: 0,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => parsed.url = value()?,
            "--admin-key-file" => {
                parsed.admin_key = std::fs::read_to_string(value()?)?.trim().to_owned()
            }
            "--miners" => parsed.miners = value()?.parse()?,
            "--clients" => parsed.clients = value()?.parse()?,
            "--seconds" => parsed.seconds = value()?.parse()?,
            "--waiting-jobs" => parsed.waiting_jobs = value()?.parse()?,
            "--in-flight" => parsed.in_flight = value()?.parse()?,
            "--create-database" | "--drop-database" => {
                database(&arg, &value()?)?;
                return Ok(None);
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if parsed.in_flight == 0 {
        // Every miner busy, and as many jobs again waiting for them.
        parsed.in_flight = 2 * parsed.miners;
    }
    anyhow::ensure!(
        !parsed.url.is_empty() && !parsed.admin_key.is_empty(),
        "--url and --admin-key-file are required\n{USAGE}"
    );
    Ok(Some(parsed))
}

/// Creates or drops the database that `url` names, through the server's `postgres` database.
fn database(action: &str, url: &str) -> anyhow::Result<()> {
    let (server, name) = url.rsplit_once('/').context("the URL names no database")?;
    anyhow::ensure!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "database names here are letters, digits and _"
    );
    // Called while parsing, inside `main`'s runtime: a thread of its own runs this one.
    let (action, server, name) = (action.to_owned(), server.to_owned(), name.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()?.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            let sql = if action == "--create-database" {
                format!("CREATE DATABASE {name}")
            } else {
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            };
            sqlx::query(&sql).execute(&mut conn).await?;
            anyhow::Ok(())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the database thread panicked"))?
}

/// What miners and clients share.
struct Shared {
    /// When each not-yet-assigned job was submitted.
    submitted: Mutex<HashMap<String, Instant>>,
    latencies: Mutex<Vec<Duration>>,
    completed: AtomicU64,
    errors: AtomicU64,
    assigned: tokio::sync::Notify,
    stop: AtomicBool,
    /// Jobs submitted and not yet finished, at most: the load stays steady instead of piling
    /// up a queue faster than any miner could drain it.
    in_flight: tokio::sync::Semaphore,
}

async fn issue(
    http: &reqwest::Client,
    args: &Args,
    role: &str,
    identity: &str,
) -> anyhow::Result<String> {
    tests::stack::issue_at(http, &args.url, &args.admin_key, role, identity).await
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn unix_now() -> u64 {
    unix_ms() / 1_000
}

/// A simulated miner: long-polls, and answers each job at once with a signed receipt.
async fn miner(
    http: reqwest::Client,
    url: String,
    api_key: String,
    identity: String,
    shared: Arc<Shared>,
) {
    let key = SecretKey::from_seed(&rand::random());
    let registered = http
        .post(format!("{url}/v1/miners/register"))
        .header("x-api-key", &api_key)
        .json(&json!({ "public_key": key.public_key().to_hex(), "capabilities": { "price_per_unit": 1_000 } }))
        .send()
        .await;
    if !registered.is_ok_and(|r| r.status().is_success()) {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    while !shared.stop.load(Ordering::Relaxed) {
        let polled = http
            .post(format!("{url}/v1/miners/poll"))
            .header("x-api-key", &api_key)
            .json(&json!({ "max_wait_seconds": 2 }))
            .send()
            .await;
        let job: Value = match polled {
            Ok(r) if r.status() == reqwest::StatusCode::OK => match r.json().await {
                Ok(job) => job,
                Err(_) => continue,
            },
            Ok(r) if r.status() == reqwest::StatusCode::NO_CONTENT => continue,
            _ => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let now = Instant::now();
        let id = job["job_id"].as_str().unwrap_or_default().to_owned();
        if let Some(at) = shared
            .submitted
            .lock()
            .map(|mut m| m.remove(&id))
            .ok()
            .flatten()
            && let Ok(mut l) = shared.latencies.lock()
        {
            l.push(now - at);
        }
        shared.assigned.notify_waiters();
        let result = json!({ "text": "ok" });
        let claim = JobReceipt {
            // Made as `aitbc-miner` makes them, in time order.
            receipt_id: types::id::uuid_v7_hex(unix_ms(), rand::random()),
            job_id: id.clone(),
            provider: identity.clone(),
            client: job["client"].as_str().unwrap_or_default().into(),
            units_ms: 1,
            unit_price: job["unit_price"].as_u64().unwrap_or_default(),
            started_at: job["started_at"].as_u64().unwrap_or_default(),
            completed_at: unix_now().max(job["started_at"].as_u64().unwrap_or_default()),
            result_hash: value_hash(&result),
            chain_id: job["chain_id"].as_str().unwrap_or_default().into(),
        };
        let mut receipt = claim.payload();
        receipt["signature"] = serde_json::to_value(sign(&receipt, &key)).unwrap_or_default();
        let done = http
            .post(format!("{url}/v1/miners/{id}/result"))
            .header("x-api-key", &api_key)
            .json(&json!({ "result": result, "receipt": receipt }))
            .send()
            .await;
        match done {
            Ok(r) if r.status().is_success() => {
                shared.completed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        shared.in_flight.add_permits(1);
    }
}

/// Submits job `id` and notes when.
async fn submit(
    http: &reqwest::Client,
    url: &str,
    api_key: &str,
    id: String,
    shared: &Shared,
) -> bool {
    if let Ok(mut m) = shared.submitted.lock() {
        m.insert(id.clone(), Instant::now());
    }
    let sent = http
        .post(format!("{url}/v1/jobs"))
        .header("x-api-key", api_key)
        .json(&json!({ "job_id": id, "payload": { "prompt": "bench" } }))
        .send()
        .await;
    let ok = matches!(sent, Ok(r) if r.status() == reqwest::StatusCode::CREATED);
    if !ok {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        shared.in_flight.add_permits(1);
    }
    ok
}

fn take_latencies(shared: &Shared) -> Vec<Duration> {
    let mut latencies = shared
        .latencies
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    latencies.sort();
    latencies
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(args) = parse()? else {
        return Ok(());
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.miners + args.clients)
        .build()?;
    let run = hex::encode(rand::random::<[u8; 4]>());
    let client_key = issue(&http, &args, "client", &format!("bench-client-{run}")).await?;
    let shared = Arc::new(Shared {
        submitted: Mutex::default(),
        latencies: Mutex::default(),
        completed: AtomicU64::default(),
        errors: AtomicU64::default(),
        assigned: tokio::sync::Notify::new(),
        stop: AtomicBool::default(),
        in_flight: tokio::sync::Semaphore::new(args.in_flight),
    });
    let mut miners = Vec::new();
    for n in 0..args.miners {
        let identity = format!("bench-miner-{run}-{n}");
        let key = issue(&http, &args, "miner", &identity).await?;
        miners.push(tokio::spawn(miner(
            http.clone(),
            args.url.clone(),
            key,
            identity,
            shared.clone(),
        )));
    }
    // Let every miner register and start waiting.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Miners waiting: one job at a time, the next once the last was handed out.
    for n in 0..args.waiting_jobs {
        let id = format!("w{run}-{n}");
        if let Ok(permit) = shared.in_flight.acquire().await {
            permit.forget();
        }
        if !submit(&http, &args.url, &client_key, id.clone(), &shared).await {
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared
            .submitted
            .lock()
            .map(|m| m.contains_key(&id))
            .unwrap_or(false)
            && Instant::now() < deadline
        {
            let _ =
                tokio::time::timeout(Duration::from_millis(5), shared.assigned.notified()).await;
        }
    }
    let waiting = take_latencies(&shared);
    println!(
        "submit→assign with {} miners waiting: {} ({} jobs)",
        args.miners,
        tests::stats::summary(&waiting),
        waiting.len()
    );

    // Load: every client submits as fast as the bound on jobs in flight lets it.
    let completed_before = shared.completed.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let (http, url, key, shared, run) = (
            http.clone(),
            args.url.clone(),
            client_key.clone(),
            shared.clone(),
            run.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let Ok(Ok(permit)) =
                    tokio::time::timeout_at(deadline.into(), shared.in_flight.acquire()).await
                else {
                    break;
                };
                permit.forget();
                submit(&http, &url, &key, format!("s{run}-{c}-{n}"), &shared).await;
                n += 1;
            }
        }));
    }
    for client in clients {
        client.await?;
    }
    let completed = shared.completed.load(Ordering::Relaxed) - completed_before;
    let elapsed = started.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    let saturated = take_latencies(&shared);
    println!(
        "job lifecycles (submit, assign, signed result accepted): {:.0}/s ({completed} in {elapsed:.1} s, {} clients, {} miners, at most {} jobs in flight); submit→assign meanwhile: {}; errors {}",
        completed as f64 / elapsed,
        args.clients,
        args.miners,
        args.in_flight,
        tests::stats::summary(&saturated),
        shared.errors.load(Ordering::Relaxed),
    );
    for miner in miners {
        let _ = tokio::time::timeout(Duration::from_secs(5), miner).await;
    }
    Ok(())
}
