//! The `aitbc-server` binary: parses the configuration, binds the listener and hands both to [`server::run`].

use anyhow::Context;
use clap::Parser;
use server::{Config, shutdown_signal};
use tracing_subscriber::EnvFilter;

/// mimalloc, not glibc's allocator: a request allocates and frees many small buffers, often on
/// different worker threads, where glibc's arenas spent a seventh of the server's time under the
/// job benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .init();
    let config = Config::parse().validated()?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    server::run(config, listener, shutdown_signal()).await
}
