//! A small HTTP load generator: keeps N connections busy with GET requests to one URL for a fixed time and reports requests per second and latency percentiles. `./x bench` runs it against a release server.

use std::time::{Duration, Instant};

use anyhow::Context;

struct Args {
    url: String,
    concurrency: usize,
    seconds: u64,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        concurrency: 16,
        seconds: 10,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => parsed.url = value()?,
            "--concurrency" => parsed.concurrency = value()?.parse()?,
            "--seconds" => parsed.seconds = value()?.parse()?,
            other => anyhow::bail!(
                "unknown argument {other}; usage: loadgen --url URL [--concurrency N] [--seconds S]"
            ),
        }
    }
    anyhow::ensure!(!parsed.url.is_empty(), "--url is required");
    Ok(parsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, url) = (client.clone(), args.url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(started.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await?;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let rate = latencies.len() as f64 / args.seconds as f64;
    println!(
        "{url}: {rate:.0} req/s, {summary}, errors {errors} ({n} requests, {c} connections, {s} s)",
        url = args.url,
        summary = tests::stats::summary(&latencies),
        n = latencies.len(),
        c = args.concurrency,
        s = args.seconds,
    );
    Ok(())
}
