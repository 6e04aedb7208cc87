//! `./x run`: sets up, builds (release unless `--dev`) and runs the whole stack on its embedded defaults.

use std::process::Command;

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
    let status = Command::new(&binary)
        .arg("--site-root")
        .arg(sh::site_dir())
        .args(server_args)
        .status()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    anyhow::ensure!(status.success(), "aitbc-server exited with {status}");
    Ok(())
}
