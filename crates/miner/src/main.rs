//! `aitbc-miner`: the miner an operator runs beside a GPU: `init` writes its config and key, `doctor` checks its setup, `run` works; settings come from flags, `AITBC_*` variables and the config file, in that order.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use miner::{
    Miner, MinerConfig,
    config::{Resolved, Settings},
    doctor::Level,
    gpu,
    worker::GpuInfo,
};
use types::{Address, SecretKey};

/// mimalloc, as in the server: every job allocates and frees the HTTP exchanges' and JSON's
/// small buffers, where glibc's allocator took about a tenth of this process's time per job.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Write a config file and a new receipt signing key beside it.
    Init(InitArgs),
    /// Check the signing key, GPUs, backend, models and coordinator, and say what is wrong.
    Doctor(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// A TOML config file (`aitbc-miner init` writes one); flags and environment override it.
    #[arg(long, env = "AITBC_MINER_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(clap::Args)]
struct InitArgs {
    /// Where to write the config file.
    #[arg(long, default_value = "miner.toml")]
    config: PathBuf,
    /// Replace an existing config file (an existing key file is kept).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    settings: Settings,
}

impl RunArgs {
    fn resolve(self) -> anyhow::Result<Resolved> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        Ok(self.settings.over(file).resolve()?)
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    let backend = settings.backend()?;
    let key = types::keyfile::read(&settings.key_file)?;
    let (gpus, cuda, nvidia_smi) = if settings.gpus.is_empty() {
        let program = settings.nvidia_smi.clone();
        let hardware = tokio::task::spawn_blocking(move || gpu::detect(&program)).await?;
        match hardware {
            Ok(hw) if !hw.cpu_only() => {
                for g in &hw.gpus {
                    tracing::info!("GPU {}: {} ({} MiB)", g.index, g.name, g.memory_mb);
                }
                let gpus = hw.gpus.iter().map(GpuInfo::from).collect();
                let cuda = settings.cuda.clone().or(hw.cuda);
                (gpus, cuda, Some(settings.nvidia_smi.clone()))
            }
            Ok(_) => {
                tracing::info!("nvidia-smi reports no GPU: running CPU-only");
                (Vec::new(), settings.cuda.clone(), None)
            }
            Err(e) => {
                tracing::info!("{e}");
                (Vec::new(), settings.cuda.clone(), None)
            }
        }
    } else {
        (settings.gpus.clone(), settings.cuda.clone(), None)
    };
    let models = if settings.models.is_empty() {
        match backend.models().await {
            Ok(models) => models,
            Err(e) => {
                tracing::warn!("cannot list the backend's models ({e}); advertising none");
                Vec::new()
            }
        }
    } else {
        settings.models.clone()
    };
    let config = MinerConfig {
        coordinator: settings.coordinator,
        api_key: settings.api_key,
        key,
        payout_address: settings.payout_address,
        gpus,
        cuda,
        models,
        price_per_unit: settings.price_per_unit,
        region: settings.region,
        concurrency: settings.concurrency,
        heartbeat_every: settings.heartbeat_every,
        poll_wait: settings.poll_wait,
        job_timeout: settings.job_timeout,
        default_model: settings.default_model,
        nvidia_smi,
    };
    Miner::new(config, backend).run(shutdown()).await
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.force || !args.config.exists(),
        "{} exists; pass --force to replace it",
        args.config.display()
    );
    let mut settings = args.settings;
    let key_file = settings
        .key_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("miner.key"));
    let folder = args.config.parent().unwrap_or(Path::new(".")).to_path_buf();
    let key_path = if key_file.is_relative() {
        folder.join(&key_file)
    } else {
        key_file.clone()
    };
    settings.key_file = Some(key_file);
    if let Some(address) = &settings.payout_address {
        address
            .parse::<Address>()
            .map_err(|e| anyhow::anyhow!("--payout-address {address}: {e}"))?;
    }
    let text = toml::to_string(&settings)?;
    // Settings given by AITBC_* variables are written too; say which, secrets included.
    let written: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name))
        .collect();
    if key_path.exists() {
        types::keyfile::read(&key_path)?;
        eprintln!("keeping the signing key in {}", key_path.display());
    } else {
        types::keyfile::write(&key_path, &SecretKey::from_seed(&rand::random()))?;
        eprintln!("wrote a new signing key to {}", key_path.display());
    }
    // It may hold the API key: readable by its owner only, also when it replaces a file.
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&args.config)
        .with_context(|| format!("cannot write {}", args.config.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(
        &mut file,
        format!("# aitbc-miner settings; flags and AITBC_* variables override them.\n{text}")
            .as_bytes(),
    )?;
    eprintln!("settings written: {}", written.join(", "));
    eprintln!(
        "wrote {}; check it with `aitbc-miner doctor --config {0}`, then `aitbc-miner run --config {0}`",
        args.config.display()
    );
    Ok(())
}

/// Prints each check; fails if any failed.
async fn doctor(args: RunArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    let backend = settings.backend().map_err(|e| e.to_string());
    let checks = miner::doctor::doctor(&settings, backend).await;
    for check in &checks {
        println!("{check}");
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
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

// One thread: the miner's work on its runtime is waiting on HTTP; models run on blocking
// threads (`spawn_blocking`) or in their own servers. A second worker only passed each wake-up
// between two threads (measured by `minerbench`: see the README).
#[tokio::main(flavor = "current_thread")]
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
        Command::Init(args) => init(args),
        Command::Doctor(args) => doctor(args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aitbc-miner: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
