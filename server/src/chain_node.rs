//! Starts the chain node this server runs: the genesis and key from the config, or a devnet created under the data folder on first start.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use chain::{Genesis, MempoolLimits, Node, NodeConfig, SystemClock, keyfile};

use crate::Config;

/// The chain id of the embedded devnet.
pub const DEVNET_CHAIN_ID: &str = "aitbc-devnet";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a devnet gives the coordinator's account in its genesis, to pay settlement fees with.
const COORDINATOR_FUNDS: types::Amount = types::Amount(1_000_000_000);

/// Creates the devnet's genesis and keys in `dir` unless they exist (funding `coordinator`'s
/// account); returns the genesis path.
fn ensure_devnet(
    dir: &Path,
    coordinator: Option<types::Address>,
) -> anyhow::Result<std::path::PathBuf> {
    let genesis_path = dir.join("genesis.json");
    if genesis_path.exists() {
        return Ok(genesis_path);
    }
    let extra: Vec<_> = coordinator
        .into_iter()
        .map(|a| (a, COORDINATOR_FUNDS))
        .collect();
    let files = chain::devnet::create_with(dir, DEVNET_CHAIN_ID, 1, now_ms(), &extra)?;
    tracing::info!(path = %files.genesis.display(), "created a devnet genesis and its keys");
    Ok(files.genesis)
}

/// Opens the node described by `config` with the faucet key it may sign with, or `None` when
/// the config asks for no chain. A devnet created now funds `coordinator`.
pub async fn open(
    config: &Config,
    coordinator: Option<types::Address>,
) -> anyhow::Result<Option<(Node, Option<types::SecretKey>)>> {
    if config.no_chain {
        return Ok(None);
    }
    let chain_dir = config.data_dir.join("chain");
    let (genesis_path, key_path) = match &config.genesis {
        Some(path) => (path.clone(), config.node_key.clone()),
        None => (
            ensure_devnet(&chain_dir, coordinator)?,
            Some(
                config
                    .node_key
                    .clone()
                    .unwrap_or_else(|| chain_dir.join("authority.key")),
            ),
        ),
    };
    let text = std::fs::read_to_string(&genesis_path)
        .with_context(|| format!("cannot read {}", genesis_path.display()))?;
    let genesis: Genesis = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid genesis", genesis_path.display()))?;
    genesis
        .validate()
        .with_context(|| format!("{} is not a valid genesis", genesis_path.display()))?;
    let key = key_path.map(|p| keyfile::read(&p)).transpose()?;
    if let Some(key) = &key
        && !genesis.authorities.contains(&key.public_key())
    {
        anyhow::bail!(
            "the node key {} is not an authority of chain {}",
            key.public_key(),
            genesis.chain_id
        );
    }
    std::fs::create_dir_all(&chain_dir)
        .with_context(|| format!("cannot create {}", chain_dir.display()))?;
    let node_config = NodeConfig {
        genesis,
        db_path: chain_dir.join("chain.db"),
        key,
        peers: config
            .peers
            .iter()
            .map(|p| p.trim_end_matches('/').to_owned())
            .collect(),
        empty_blocks: config.empty_blocks,
        mempool: MempoolLimits::default(),
    };
    let faucet_path = config.faucet_key.clone().or_else(|| {
        config
            .genesis
            .is_none()
            .then(|| chain_dir.join("faucet.key"))
    });
    let faucet_key = faucet_path.map(|p| keyfile::read(&p)).transpose()?;
    if let Some(key) = &faucet_key
        && node_config
            .genesis
            .faucet
            .as_ref()
            .is_none_or(|f| f.key != key.public_key())
    {
        anyhow::bail!(
            "the faucet key is not the genesis faucet key of chain {}",
            node_config.genesis.chain_id
        );
    }
    let node = Node::open(node_config, Arc::new(SystemClock))
        .await
        .context("cannot open the chain database")?;
    Ok(Some((node, faucet_key)))
}
