//! `aitbc-miner`: the miner an operator runs beside a GPU; flags or environment say which coordinator, key and backend.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use miner::{
    Backend, Miner, MinerConfig, TestBackend, embed, gpu, ollama::Ollama, openai::OpenAi,
    worker::GpuInfo,
};
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
    /// Which backend runs jobs: `ollama`, `openai` (any OpenAI-compatible server: vLLM,
    /// llama.cpp's server), `cpu` (embeddings by a model in process, no GPU needed) or `test`
    /// (echoes payloads without a model, for protocol tests).
    #[arg(long, env = "AITBC_BACKEND", default_value = "ollama")]
    backend: String,
    /// The folder of the built-in backend's model (all-MiniLM-L6-v2's config.json, vocab.txt
    /// and model.safetensors); default ~/.cache/aitbc/models/all-MiniLM-L6-v2.
    #[arg(long, env = "AITBC_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// The model server's root URL (default: Ollama's http://127.0.0.1:11434, or
    /// http://127.0.0.1:8000 for an OpenAI-compatible server).
    #[arg(long, env = "AITBC_BACKEND_URL")]
    backend_url: Option<String>,
    /// The OpenAI-compatible server's API key, if it asks for one.
    #[arg(long, env = "AITBC_BACKEND_API_KEY", hide_env_values = true)]
    backend_api_key: Option<String>,
    /// The model a job that names none runs on.
    #[arg(long, env = "AITBC_DEFAULT_MODEL")]
    default_model: Option<String>,
    /// The longest one job may run, in seconds.
    #[arg(long, default_value_t = 600.0)]
    job_timeout_seconds: f64,
    /// The nvidia-smi program that reports this machine's GPUs.
    #[arg(long, env = "AITBC_NVIDIA_SMI", default_value = "nvidia-smi")]
    nvidia_smi: String,
    /// A GPU to advertise, as NAME:MEMORY_MB (repeatable); without it the GPUs nvidia-smi
    /// reports are advertised.
    #[arg(long = "gpu")]
    gpus: Vec<String>,
    /// The CUDA version to advertise.
    #[arg(long)]
    cuda: Option<String>,
    /// A model to advertise (repeatable); without it, the backend's models are.
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

/// The backend `args` name.
fn backend(args: &RunArgs) -> anyhow::Result<Arc<dyn Backend>> {
    let url = args.backend_url.as_deref();
    Ok(match args.backend.as_str() {
        "test" => Arc::new(TestBackend),
        "cpu" => {
            let dir = args.model_dir.clone().unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/aitbc/models")
                    .join(embed::MODEL_NAME)
            });
            Arc::new(
                embed::LocalEmbeddings::load(&dir).map_err(|e| anyhow::anyhow!("{}", e.message))?,
            )
        }
        "ollama" => Arc::new(Ollama::new(url.unwrap_or("http://127.0.0.1:11434"))),
        "openai" => Arc::new(OpenAi::new(
            url.unwrap_or("http://127.0.0.1:8000"),
            args.backend_api_key.clone(),
        )),
        other => anyhow::bail!("unknown backend `{other}` (known: ollama, openai, cpu, test)"),
    })
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let backend = backend(&args)?;
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
    let (gpus, cuda, nvidia_smi) = if args.gpus.is_empty() {
        let program = args.nvidia_smi.clone();
        let hardware = tokio::task::spawn_blocking(move || gpu::detect(&program)).await?;
        match hardware {
            Ok(hw) if !hw.cpu_only() => {
                for g in &hw.gpus {
                    tracing::info!("GPU {}: {} ({} MiB)", g.index, g.name, g.memory_mb);
                }
                let gpus = hw.gpus.iter().map(GpuInfo::from).collect();
                (
                    gpus,
                    args.cuda.clone().or(hw.cuda),
                    Some(args.nvidia_smi.clone()),
                )
            }
            Ok(_) => {
                tracing::info!("nvidia-smi reports no GPU: running CPU-only");
                (Vec::new(), args.cuda.clone(), None)
            }
            Err(e) => {
                tracing::info!("{e}");
                (Vec::new(), args.cuda.clone(), None)
            }
        }
    } else {
        let gpus = args.gpus.iter().map(|g| gpu(g)).collect::<Result<_, _>>()?;
        (gpus, args.cuda.clone(), None)
    };
    let models = if args.models.is_empty() {
        match backend.models().await {
            Ok(models) => models,
            Err(e) => {
                tracing::warn!("cannot list the backend's models ({e}); advertising none");
                Vec::new()
            }
        }
    } else {
        args.models.clone()
    };
    let config = MinerConfig {
        coordinator: args.coordinator,
        api_key: args.api_key,
        key,
        payout_address,
        gpus,
        cuda,
        models,
        price_per_unit: args.price_per_unit,
        region: args.region,
        concurrency: args.concurrency,
        heartbeat_every: seconds("heartbeat-seconds", args.heartbeat_seconds, 3_600.0)?,
        poll_wait: seconds("poll-seconds", args.poll_seconds, 60.0)?,
        job_timeout: seconds("job-timeout-seconds", args.job_timeout_seconds, 86_400.0)?,
        default_model: args.default_model,
        nvidia_smi,
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
