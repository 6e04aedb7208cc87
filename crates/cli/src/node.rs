//! `aitbc node run`: one chain node and its RPC, without pages, on the split deployment's port (:9080 by default).

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Run a node until Ctrl-C or SIGTERM.
    Run {
        /// Address and port of the RPC.
        #[arg(long, env = "AITBC_BIND", default_value = "127.0.0.1:9080")]
        bind: std::net::SocketAddr,
        /// Folder for the node's database (and the devnet, when no genesis is given).
        #[arg(long, env = "AITBC_DATA_DIR", default_value = "aitbc-node")]
        data_dir: PathBuf,
        /// Genesis JSON; without it a one-authority devnet is created in the data folder.
        #[arg(long, env = "AITBC_GENESIS")]
        genesis: Option<PathBuf>,
        /// This node's authority key file; without it a node given a genesis only follows.
        #[arg(long, env = "AITBC_NODE_KEY")]
        node_key: Option<PathBuf>,
        /// The genesis faucet key file, to serve `/rpc/faucet` (devnets only).
        #[arg(long, env = "AITBC_FAUCET_KEY")]
        faucet_key: Option<PathBuf>,
        /// Base URL of a peer node (repeatable).
        #[arg(long = "peer", env = "AITBC_PEERS", value_delimiter = ',')]
        peers: Vec<String>,
        /// Produce a block in every slot.
        #[arg(long, env = "AITBC_EMPTY_BLOCKS")]
        empty_blocks: bool,
    },
}

pub fn run(command: NodeCommand) -> anyhow::Result<()> {
    let NodeCommand::Run {
        bind,
        data_dir,
        genesis,
        node_key,
        faucet_key,
        peers,
        empty_blocks,
    } = command;
    let config = server::Config {
        genesis,
        node_key,
        faucet_key,
        peers,
        empty_blocks,
        no_chain: false,
        ..server::Config::nothing(bind, data_dir)
    }
    .validated()?;
    crate::serve(config)
}
