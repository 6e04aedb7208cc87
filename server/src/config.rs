//! The server's configuration, parsed once in `main` from flags and environment variables.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::Parser;

/// Settings of one server process. Every flag can also come from the named environment variable.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "aitbc-server",
    version,
    about = "The AITBC server: explorer, marketplace, exchange, wallet and APIs on one port"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "AITBC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Folder for the server's databases and keys; created if missing.
    #[arg(long, env = "AITBC_DATA_DIR", default_value = "aitbc-data")]
    pub data_dir: PathBuf,

    /// Folder holding the built site: `pkg/` (WASM, JS, CSS) and the files of `public/`.
    #[arg(long, env = "AITBC_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Genesis JSON of the chain to run. Without it the server runs a one-authority devnet whose
    /// genesis and keys it creates under `<data-dir>/chain/` on first start.
    #[arg(long, env = "AITBC_GENESIS")]
    pub genesis: Option<PathBuf>,

    /// File with this node's authority key (hex seed, mode 0600). Without it a node given
    /// `--genesis` only follows; the devnet uses the key it created.
    #[arg(long, env = "AITBC_NODE_KEY")]
    pub node_key: Option<PathBuf>,

    /// File with the genesis faucet key, so `/rpc/faucet` can fund addresses (devnets only).
    /// The embedded devnet uses the key it created.
    #[arg(long, env = "AITBC_FAUCET_KEY")]
    pub faucet_key: Option<PathBuf>,

    /// Base URL of a peer node (repeatable, or comma-separated in the variable).
    #[arg(long = "peer", env = "AITBC_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,

    /// Produce a block in every slot, not only when transactions wait (plus the heartbeat).
    #[arg(long, env = "AITBC_EMPTY_BLOCKS")]
    pub empty_blocks: bool,

    /// Run no chain node (the RPC then answers 503).
    #[arg(long, env = "AITBC_NO_CHAIN")]
    pub no_chain: bool,

    /// Database of the coordinator: `postgres://…` for several instances sharing one, or
    /// `sqlite://…`. Default: a SQLite file under `<data-dir>/coordinator/`.
    #[arg(long, env = "AITBC_COORDINATOR_DB")]
    pub coordinator_db: Option<String>,

    /// Take jobs that come without an escrow lock (nobody pays for them).
    #[arg(long, env = "AITBC_ALLOW_UNPAID_JOBS")]
    pub allow_unpaid_jobs: bool,

    /// Requests a second each API key may make of the coordinator (twice that at once; 0: no
    /// limit).
    #[arg(long, env = "AITBC_KEY_RATE_LIMIT", default_value_t = 100)]
    pub key_rate_limit: u32,

    /// Requests a second each client address may make of the coordinator (twice that at once;
    /// 0: no limit).
    #[arg(long, env = "AITBC_IP_RATE_LIMIT", default_value_t = 200)]
    pub ip_rate_limit: u32,

    /// Seconds a miner may stay silent before it is offline and its jobs go to others.
    #[arg(long, env = "AITBC_HEARTBEAT_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub heartbeat_timeout: u32,

    /// Pay for jobs through the chain node at this URL (`http://127.0.0.1:9080`) instead of one in
    /// this process; needs `--no-chain`. How the coordinator runs on its own (`aitbc coordinator
    /// run`).
    #[arg(long, env = "AITBC_CHAIN_RPC")]
    pub chain_rpc: Option<String>,

    /// A host name (with its port, if not the default) that browser users sign in from; the
    /// sign-in challenge names it. Repeatable. Without any, only loopback hosts (`localhost`,
    /// `127.0.0.1`, `[::1]`) may ask, so a page elsewhere cannot have this server sign users in
    /// under its own name.
    #[arg(
        long = "sign-in-domain",
        env = "AITBC_SIGN_IN_DOMAINS",
        value_delimiter = ','
    )]
    pub sign_in_domains: Vec<String>,

    /// Run no coordinator (its API then answers 503).
    #[arg(long, env = "AITBC_NO_COORDINATOR")]
    pub no_coordinator: bool,

    /// Serve the APIs only, no pages: how `aitbc node run` runs a node on its own.
    #[arg(long, env = "AITBC_API_ONLY")]
    pub api_only: bool,

    /// Run no wallet daemon (its API under `/wallet/v1/` then answers 503).
    #[arg(long, env = "AITBC_NO_WALLET")]
    pub no_wallet: bool,

    /// Let other machines use the wallet daemon; by default it serves loopback callers only.
    #[arg(long, env = "AITBC_WALLET_ALLOW_REMOTE")]
    pub wallet_allow_remote: bool,
}

impl Config {
    /// A server at `bind` on `data_dir` that runs no part yet and serves no pages: what the
    /// commands that run one part on its own (`aitbc node run`, `aitbc coordinator run`, `aitbc
    /// wallet daemon`) start from, switching on the part they run.
    pub fn nothing(bind: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
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
            chain_rpc: None,
            sign_in_domains: Vec::new(),
            no_coordinator: true,
            api_only: true,
            no_wallet: true,
            wallet_allow_remote: false,
        }
    }

    /// Checks what can be checked before serving and creates the data folder.
    pub fn validated(self) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!("cannot create the data folder {}", self.data_dir.display())
        })?;
        let site_root = self.site_root.to_str().with_context(|| {
            format!(
                "the site root {} is not valid UTF-8",
                self.site_root.display()
            )
        })?;
        if self.chain_rpc.is_some() && !self.no_chain {
            anyhow::bail!(
                "--chain-rpc pays through a node elsewhere; add --no-chain to run none here"
            );
        }
        if !self.api_only && !self.site_root.join("pkg").is_dir() {
            tracing::warn!(
                site_root,
                "the site has not been built (no pkg/ folder): pages will render but not hydrate; run `./x build`"
            );
        }
        Ok(self)
    }
}
