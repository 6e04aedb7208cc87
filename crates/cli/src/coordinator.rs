//! `aitbc coordinator run`: the coordinator on its own, on the split deployment's port (:8000), paying through a chain node's RPC elsewhere.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CoordinatorCommand {
    /// Run the coordinator until Ctrl-C or SIGTERM.
    Run {
        /// Address and port of its API.
        #[arg(long, env = "AITBC_BIND", default_value = "127.0.0.1:8000")]
        bind: std::net::SocketAddr,
        /// Folder for its keys and (by default) its SQLite database.
        #[arg(long, env = "AITBC_DATA_DIR", default_value = "aitbc-coordinator")]
        data_dir: PathBuf,
        /// The chain node whose RPC settles payments; without it only unpaid jobs can run.
        #[arg(long, env = "AITBC_CHAIN_RPC")]
        chain_rpc: Option<String>,
        /// `postgres://…` for several instances sharing one database.
        #[arg(long, env = "AITBC_COORDINATOR_DB")]
        coordinator_db: Option<String>,
        /// Take jobs that come without an escrow lock.
        #[arg(long, env = "AITBC_ALLOW_UNPAID_JOBS")]
        allow_unpaid_jobs: bool,
    },
}

pub fn run(command: CoordinatorCommand) -> anyhow::Result<()> {
    let CoordinatorCommand::Run {
        bind,
        data_dir,
        chain_rpc,
        coordinator_db,
        allow_unpaid_jobs,
    } = command;
    anyhow::ensure!(
        chain_rpc.is_some() || allow_unpaid_jobs,
        "give --chain-rpc (the node that settles payments) or --allow-unpaid-jobs"
    );
    let config = server::Config {
        coordinator_db,
        allow_unpaid_jobs,
        chain_rpc,
        no_coordinator: false,
        ..server::Config::nothing(bind, data_dir)
    }
    .validated()?;
    crate::serve(config)
}
