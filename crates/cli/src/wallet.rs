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
        chain_rpc: Some(chain_rpc),
        no_wallet: false,
        wallet_allow_remote: allow_remote,
        ..server::Config::nothing(bind, data_dir)
    }
    .validated()?;
    crate::serve(config)
}
