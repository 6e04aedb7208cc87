//! A real `aitbc-miner` process (with the test backend unless told otherwise), registered with a server under its own key file; dropping it kills the process.

use std::{path::PathBuf, process::Stdio};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use types::{Address, SecretKey};

/// A running miner.
pub struct Miner {
    child: Child,
    /// Signs its receipts.
    pub key: SecretKey,
    /// Where its payments go.
    pub payout: Address,
    _dir: tempfile::TempDir,
}

/// The miner binary: `AITBC_MINER_BIN`, else the one beside the server binary (`./x test` builds
/// both).
pub fn miner_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("AITBC_MINER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let server = crate::server::server_binary()?;
    let guess = server.with_file_name("aitbc-miner");
    if guess.is_file() {
        Ok(guess)
    } else {
        bail!("aitbc-miner is not built; run the tests with `./x test`, which builds it")
    }
}

impl Miner {
    /// Starts `aitbc-miner run` against `coordinator` with the miner API key `api_key`, a fresh
    /// signing key and payout address, and `args` (price, concurrency, …).
    pub async fn start(coordinator: &str, api_key: &str, args: &[&str]) -> anyhow::Result<Miner> {
        let dir = tempfile::tempdir()?;
        let key = SecretKey::from_seed(&rand::random());
        let key_file = dir.path().join("miner.key");
        types::keyfile::write(&key_file, &key)?;
        let payout = Address::of(&SecretKey::from_seed(&rand::random()).public_key());
        let binary = miner_binary()?;
        let child = Command::new(&binary)
            .arg("run")
            .args(["--coordinator", coordinator, "--api-key", api_key])
            .arg("--key-file")
            .arg(&key_file)
            .args(["--payout-address", &payout.to_string()])
            .args(if args.contains(&"--backend") {
                &[][..]
            } else {
                &["--backend", "test"][..]
            })
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Miner {
            child,
            key,
            payout,
            _dir: dir,
        })
    }

    /// Sends SIGTERM and waits (at most `limit`) for the process to exit; returns whether it
    /// exited cleanly.
    pub async fn stop(mut self, limit: std::time::Duration) -> anyhow::Result<bool> {
        let pid = self.child.id().context("the miner already exited")?;
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .context("the miner did not stop in time")??;
        Ok(status.success())
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
