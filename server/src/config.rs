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
}

impl Config {
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
        if !self.site_root.join("pkg").is_dir() {
            tracing::warn!(
                site_root,
                "the site has not been built (no pkg/ folder): pages will render but not hydrate; run `./x build`"
            );
        }
        Ok(self)
    }
}
