//! `aitbc wallet daemon`: the wallet daemon on its own, on the split deployment's port (:8002), reading and sending through a chain node's RPC elsewhere.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Run the wallet daemon until Ctrl-C or SIGTERM.
    Daemon {
        /// Address and port of its API (`/wallet/v1/…`, `/wallet/rpc`).
        #[arg(long, env = "AITBC_BIND", default_value = "127.0.0.1:8002")]
        bind: std::net::SocketAddr,
        /// Folder for its database of encrypted wallets.
        #[arg(long, env = "AITBC_DATA_DIR", default_value = "aitbc-wallet")]
        data_dir: PathBuf,
        /// The chain node whose RPC gives balances and takes transfers.
        #[arg(long, env = "AITBC_CHAIN_RPC", default_value = "http://127.0.0.1:9080")]
        chain_rpc: String,
        /// Serve other machines too (by default only callers on this machine).
        #[arg(long, env = "AITBC_WALLET_ALLOW_REMOTE")]
        allow_remote: bool,
    },
}

pub fn run(command: WalletCommand) -> anyhow::Result<()> {
    let WalletCommand::Daemon {
        bind,
        data_dir,
        chain_rpc,
        allow_remote,
    } = command;
    let config = server::Config {
        bind,
        data_dir,
        site_root: PathBuf::from("."),
        genesis: None,
        node_key: None,
        faucet_key: None,
        peers: Vec::new(),
        empty_blocks: false,
        no_chain: true,
        coordinator_db: None,
        allow_unpaid_jobs: false,
        key_rate_limit: 100,
        ip_rate_limit: 200,
        heartbeat_timeout: 30,
        chain_rpc: Some(chain_rpc),
        sign_in_domains: Vec::new(),
        no_coordinator: true,
        api_only: true,
        no_wallet: false,
        wallet_allow_remote: allow_remote,
    }
    .validated()?;
    crate::serve(config)
}
