//! The `aitbc` command: `aitbc devnet` writes a development chain, `aitbc node run` runs a chain node on its own, `aitbc coordinator run` the coordinator on its own and `aitbc wallet daemon` the wallet daemon on its own.

mod coordinator;
mod node;
mod wallet;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "aitbc", version, about = "AITBC command-line tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a development chain: genesis.json and its keys (0600 files) into a folder.
    Devnet {
        /// Folder to write into; it must not hold a genesis already.
        #[arg(long)]
        out: PathBuf,
        /// How many authorities take turns producing blocks.
        #[arg(long, default_value_t = 1)]
        authorities: usize,
        /// The chain id.
        #[arg(long, default_value = "aitbc-devnet")]
        chain_id: String,
    },
    /// Chain node commands.
    Node {
        #[command(subcommand)]
        command: node::NodeCommand,
    },
    /// Coordinator commands.
    Coordinator {
        #[command(subcommand)]
        command: coordinator::CoordinatorCommand,
    },
    /// Wallet commands.
    Wallet {
        #[command(subcommand)]
        command: wallet::WalletCommand,
    },
}

/// Runs the server of `config` (a node, or a coordinator, on its own) until Ctrl-C or SIGTERM,
/// logging to stderr (`RUST_LOG`, default `info`).
fn serve(config: server::Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        server::run(config, listener, server::shutdown_signal()).await
    })
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Devnet {
            out,
            authorities,
            chain_id,
        } => {
            anyhow::ensure!(
                !out.join("genesis.json").exists(),
                "{} already holds a genesis",
                out.display()
            );
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64;
            let files = chain::devnet::create(&out, &chain_id, authorities, now_ms)
                .context("cannot write the devnet")?;
            println!("genesis: {}", files.genesis.display());
            for key in &files.authority_keys {
                println!("authority key: {}", key.display());
            }
            println!("faucet key: {}", files.faucet_key.display());
            println!("treasury key: {}", files.treasury_key.display());
            Ok(())
        }
        Command::Node { command } => node::run(command),
        Command::Coordinator { command } => coordinator::run(command),
        Command::Wallet { command } => wallet::run(command),
    }
}
