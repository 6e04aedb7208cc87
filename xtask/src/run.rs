//! `./x run`: sets up, builds (release unless `--dev`) and runs the whole stack on its embedded defaults.

use std::{os::unix::process::CommandExt, process::Command};

use anyhow::Context;

use crate::{build::Build, setup::Setup, sh};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let (ours, server_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut build = Build::new(true);
    for arg in ours {
        match arg.as_str() {
            "--dev" => build.release = false,
            "--release" => build.release = true,
            other => anyhow::bail!("run: unknown option `{other}` (server options go after `--`)"),
        }
    }
    Setup::for_build()?.run()?;
    build.run()?;
    let binary = build.server_binary();
    let mut server = Command::new(&binary);
    if !server_args.iter().any(|a| a.starts_with("--site-root")) {
        server.arg("--site-root").arg(sh::site_dir());
    }
    server.args(server_args);
    // Become the server, so SIGTERM and Ctrl-C reach it directly and its exit status is ours.
    let error = server.exec();
    Err(error).with_context(|| format!("cannot start {}", binary.display()))
}
