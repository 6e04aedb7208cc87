//! Creates a development chain on disk: a genesis with N authorities, a faucet and a funded treasury, and their keys as 0600 files beside it.

use std::path::{Path, PathBuf};

use types::Address;

use crate::{genesis::Genesis, keyfile};

/// Why a devnet could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("cannot write the devnet in {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    #[error("a devnet needs at least one authority")]
    NoAuthorities,
}

/// The files of a devnet.
#[derive(Debug)]
pub struct DevnetFiles {
    pub genesis: PathBuf,
    /// `authority-<i>.key`, in the genesis's authority order.
    pub authority_keys: Vec<PathBuf>,
    pub faucet_key: PathBuf,
    pub treasury_key: PathBuf,
}

/// Writes `genesis.json` and the keys into `dir` (created if needed). With one authority its
/// key is `authority.key`, as the one-process server expects.
pub fn create(
    dir: &Path,
    chain_id: &str,
    authorities: usize,
    timestamp_ms: u64,
) -> Result<DevnetFiles, DevnetError> {
    create_with(dir, chain_id, authorities, timestamp_ms, &[])
}

/// [`create`], with `extra` accounts funded in the genesis as well (a coordinator's fee account,
/// for example).
pub fn create_with(
    dir: &Path,
    chain_id: &str,
    authorities: usize,
    timestamp_ms: u64,
    extra: &[(Address, types::Amount)],
) -> Result<DevnetFiles, DevnetError> {
    if authorities == 0 {
        return Err(DevnetError::NoAuthorities);
    }
    let io = |source| DevnetError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut authority_keys = Vec::new();
    let mut public = Vec::new();
    for i in 0..authorities {
        let key = keyfile::generate();
        let name = if authorities == 1 {
            "authority.key".to_owned()
        } else {
            format!("authority-{i}.key")
        };
        let path = dir.join(name);
        keyfile::write(&path, &key)?;
        public.push(key.public_key());
        authority_keys.push(path);
    }
    let (faucet, treasury) = (keyfile::generate(), keyfile::generate());
    let (faucet_key, treasury_key) = (dir.join("faucet.key"), dir.join("treasury.key"));
    keyfile::write(&faucet_key, &faucet)?;
    keyfile::write(&treasury_key, &treasury)?;
    let mut genesis = Genesis::devnet(
        chain_id,
        timestamp_ms,
        public,
        faucet.public_key(),
        Address::of(&treasury.public_key()),
    );
    genesis.balances.extend(extra.iter().copied());
    let json = serde_json::to_string_pretty(&genesis).map_err(|e| io(std::io::Error::other(e)))?;
    let genesis_path = dir.join("genesis.json");
    // Written last: its presence means the devnet is complete.
    std::fs::write(&genesis_path, json).map_err(io)?;
    Ok(DevnetFiles {
        genesis: genesis_path,
        authority_keys,
        faucet_key,
        treasury_key,
    })
}
