//! `./x test`: sets up (Chromium included), builds the site and the server, then runs every test of the workspace, browser tests included.

use std::process::Command;

use crate::{
    build::Build,
    setup::Setup,
    sh::{self, run, step},
};

pub fn test(args: &[String]) -> anyhow::Result<()> {
    let extra = match args.split_first() {
        Some((dashes, rest)) if dashes == "--" => rest,
        Some((other, _)) => {
            anyhow::bail!("test: unknown option `{other}` (cargo test options go after `--`)")
        }
        None => &[],
    };
    Setup::for_build(true)?.run()?;
    let build = Build { release: false };
    build.site()?;
    build.server()?;
    step("Testing");
    run(Command::new("cargo")
        .args(["test", "--workspace"])
        .args(extra)
        .env("AITBC_SERVER_BIN", build.server_binary())
        .env("AITBC_SITE_ROOT", sh::site_dir())
        .current_dir(sh::root()))
}
