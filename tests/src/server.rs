//! A real `aitbc-server` process on a free loopback port with its own data folder; [`Server::stop`] sends SIGTERM, dropping it kills the process.

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A running server.
pub struct Server {
    child: Child,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    data_dir: PathBuf,
    _owned_data_dir: Option<tempfile::TempDir>,
}

/// How to start a server beyond the defaults.
#[derive(Debug, Default)]
pub struct Options {
    /// A data folder that outlives the process (to restart it); a fresh temporary one otherwise.
    pub data_dir: Option<PathBuf>,
    /// `HOST:PORT` to listen on; a free port otherwise.
    pub bind: Option<String>,
    /// More flags for `aitbc-server`.
    pub args: Vec<String>,
}

/// A loopback port that was free a moment ago, for processes that must keep their address
/// across restarts.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The server binary: `AITBC_SERVER_BIN` (set by `./x test`), else the one beside this test's
/// target folder.
pub(crate) fn server_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("AITBC_SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    // current_exe is target/debug/deps/it-<hash>; the binary is target/debug/aitbc-server.
    let exe = std::env::current_exe()?;
    let guess = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("aitbc-server"))
        .context("cannot locate the target folder")?;
    if guess.is_file() {
        Ok(guess)
    } else {
        bail!(
            "aitbc-server is not built; run the tests with `./x test`, which builds it and the site first"
        )
    }
}

/// Which build of the site a server serves.
#[derive(Clone, Copy, Debug)]
pub enum Site {
    /// The bundle built with the machine's default wasm route (`AITBC_SITE_ROOT`).
    Default,
    /// The bundle built with Debian's compiler and std source (`AITBC_SITE_ROOT_DEBIAN`).
    DebianRoute,
    /// The optimized bundle that `./x run` serves (`AITBC_SITE_ROOT_RELEASE`).
    Release,
}

impl Site {
    fn root(self) -> anyhow::Result<PathBuf> {
        let (var, folder) = match self {
            Site::Default => ("AITBC_SITE_ROOT", "site"),
            Site::DebianRoute => ("AITBC_SITE_ROOT_DEBIAN", "site-debian"),
            Site::Release => ("AITBC_SITE_ROOT_RELEASE", "site-release"),
        };
        if let Some(path) = std::env::var_os(var) {
            return Ok(PathBuf::from(path));
        }
        // current_exe is target/debug/deps/it-<hash>.
        let exe = std::env::current_exe()?;
        exe.ancestors()
            .nth(3)
            .map(|target| target.join(folder))
            .filter(|site| site.join("pkg").is_dir())
            .with_context(|| {
                format!("the site ({self:?}) is not built; run the tests with `./x test`")
            })
    }
}

impl Server {
    /// Starts the server with the default site on `127.0.0.1:0`.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Site::Default).await
    }

    /// Starts the server on `127.0.0.1:0` and waits until it says where it listens.
    pub async fn start_with(site: Site) -> anyhow::Result<Self> {
        Self::start_with_options(site, Options::default()).await
    }

    /// Starts the server with `options` and waits until it says where it listens.
    pub async fn start_with_options(site: Site, options: Options) -> anyhow::Result<Self> {
        let (data_dir, owned) = match options.data_dir {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let bind = options.bind.unwrap_or_else(|| "127.0.0.1:0".into());
        let binary = server_binary()?;
        let mut child = Command::new(&binary)
            .arg("--bind")
            .arg(&bind)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--site-root")
            .arg(site.root()?)
            .args(&options.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("AITBC is running at ") {
                    return Ok(url.trim_end_matches('/').to_owned());
                }
            }
            bail!("aitbc-server exited before it listened")
        })
        .await
        .context("aitbc-server did not listen within 30 s")??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            url,
            data_dir,
            _owned_data_dir: owned,
        })
    }

    /// The server's data folder (the devnet's keys are under `chain/`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The full URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it to be gone.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub async fn stop(self) -> anyhow::Result<bool> {
        self.stop_with("TERM").await
    }

    /// Sends `signal` (`"TERM"`, `"INT"`) and waits for the process to exit; returns whether it
    /// exited cleanly.
    pub async fn stop_with(mut self, signal: &str) -> anyhow::Result<bool> {
        let pid = self.child.id().context("server already gone")?;
        std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the server did not stop within 10 s of the signal")??;
        Ok(status.success())
    }
}
