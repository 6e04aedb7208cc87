//! `aitbc-miner`: the miner an operator runs beside a GPU; flags or environment say which coordinator, key and backend.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use miner::{Miner, MinerConfig, TestBackend, worker::GpuInfo};
use types::Address;

#[derive(Parser)]
#[command(
    name = "aitbc-miner",
    version,
    about = "Runs AITBC jobs on this machine and gets paid for them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register with the coordinator and run jobs until SIGTERM or Ctrl-C.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The coordinator's root URL.
    #[arg(
        long,
        env = "AITBC_COORDINATOR",
        default_value = "http://127.0.0.1:8080"
    )]
    coordinator: String,
    /// A miner API key issued by the coordinator's admin.
    #[arg(long, env = "AITBC_MINER_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The key file (a hex seed, mode 0600) that signs this miner's receipts.
    #[arg(long, env = "AITBC_MINER_KEY")]
    key_file: PathBuf,
    /// Where payments go (`ait1…`).
    #[arg(long, env = "AITBC_PAYOUT_ADDRESS")]
    payout_address: Option<String>,
    /// Which backend runs jobs. `test` echoes payloads without a model (for protocol tests).
    #[arg(long, env = "AITBC_BACKEND", default_value = "test")]
    backend: String,
    /// A GPU to advertise, as NAME:MEMORY_MB (repeatable).
    #[arg(long = "gpu")]
    gpus: Vec<String>,
    /// The CUDA version to advertise.
    #[arg(long)]
    cuda: Option<String>,
    /// A model to advertise (repeatable).
    #[arg(long = "model")]
    models: Vec<String>,
    /// AITBC base units (millionths) per GPU second.
    #[arg(long, env = "AITBC_PRICE_PER_UNIT", default_value_t = 1_000_000)]
    price_per_unit: u64,
    #[arg(long, env = "AITBC_REGION")]
    region: Option<String>,
    /// Jobs run at once.
    #[arg(long, env = "AITBC_CONCURRENCY", default_value_t = 1)]
    concurrency: usize,
    /// Seconds between heartbeats (the coordinator's timeout must be longer).
    #[arg(long, default_value_t = 10.0)]
    heartbeat_seconds: f64,
    /// The longest one long poll waits, in seconds (at most 60).
    #[arg(long, default_value_t = 15.0)]
    poll_seconds: f64,
}

fn gpu(text: &str) -> anyhow::Result<GpuInfo> {
    let (name, memory) = text
        .rsplit_once(':')
        .with_context(|| format!("--gpu {text}: expected NAME:MEMORY_MB"))?;
    Ok(GpuInfo {
        name: name.to_owned(),
        memory_mb: memory
            .parse()
            .with_context(|| format!("--gpu {text}: {memory} is not a number of MiB"))?,
    })
}

fn seconds(flag: &str, value: f64, max: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        value > 0.0 && value <= max,
        "--{flag} must be above 0 and at most {max}"
    );
    Ok(Duration::from_secs_f64(value))
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let backend = match args.backend.as_str() {
        "test" => Arc::new(TestBackend),
        other => anyhow::bail!("unknown backend `{other}` (known: test)"),
    };
    let key = types::keyfile::read(&args.key_file)?;
    let payout_address = args
        .payout_address
        .as_deref()
        .map(|a| {
            a.parse::<Address>()
                .map_err(|e| anyhow::anyhow!("--payout-address {a}: {e}"))
        })
        .transpose()?;
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    let config = MinerConfig {
        coordinator: args.coordinator,
        api_key: args.api_key,
        key,
        payout_address,
        gpus: args.gpus.iter().map(|g| gpu(g)).collect::<Result<_, _>>()?,
        cuda: args.cuda,
        models: args.models,
        price_per_unit: args.price_per_unit,
        region: args.region,
        concurrency: args.concurrency,
        heartbeat_every: seconds("heartbeat-seconds", args.heartbeat_seconds, 3_600.0)?,
        poll_wait: seconds("poll-seconds", args.poll_seconds, 60.0)?,
    };
    Miner::new(config, backend).run(shutdown()).await
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match Cli::parse().command {
        Command::Run(args) => run(args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aitbc-miner: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
