//! `./x test`: sets up (Chromium and both wasm routes included), builds the site and the server, then runs every test of the workspace, browser tests included.

use std::process::Command;

use crate::{
    build::Build,
    setup::{Setup, WasmRoute},
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
    let route = Setup::for_tests()?.run()?;
    let build = Build::new(false);
    build.site()?;
    // The fallback route (Debian's compiler, std built from source) must keep producing a
    // bundle that hydrates; a browser test loads this second site to prove it.
    let debian = Build {
        route: Some(WasmRoute::Debian),
        site: sh::target_dir().join("site-debian"),
        ..build.clone()
    };
    if route == WasmRoute::Rustup {
        debian.site()?;
    }
    let debian_site = if route == WasmRoute::Debian {
        &build.site
    } else {
        &debian.site
    };
    // `./x run` serves the release bundle (wasm-opt'd); a broken optimizer fails silently at
    // build time and only shows in the browser, so a test loads this one too.
    let release = Build {
        release: true,
        site: sh::target_dir().join("site-release"),
        ..build.clone()
    };
    release.site()?;
    // The Firefox extension: built, linted by Mozilla's web-ext, and its protocol tested below.
    crate::extension::build()?;
    let extension = crate::extension::dir().join("aitbc-wallet");
    crate::extension::lint(&extension)?;
    build.server()?;
    step("Checking");
    eprintln!("formatting and lints");
    run(Command::new("cargo")
        .args(["fmt", "--all", "--check"])
        .current_dir(sh::root()))?;
    run(Command::new("cargo")
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(sh::root()))?;
    step("Testing");
    let mut cargo = Command::new("cargo");
    cargo.arg("test");
    // With arguments of their own (`-p server`, a filter) the caller chooses what runs.
    if extra.is_empty() {
        cargo.arg("--workspace");
    }
    let screenshots = sh::target_dir().join("screenshots");
    run(cargo
        .args(extra)
        .env("AITBC_SERVER_BIN", build.server_binary())
        .env("AITBC_SITE_ROOT", &build.site)
        .env("AITBC_SITE_ROOT_DEBIAN", debian_site)
        .env("AITBC_SITE_ROOT_RELEASE", &release.site)
        .env("AITBC_EMBEDDING_MODEL", crate::setup::embedding_model_dir())
        .env("AITBC_EXTENSION_DIR", &extension)
        .env("AITBC_SCREENSHOTS", &screenshots)
        .current_dir(sh::root()))?;
    if screenshots.is_dir() {
        eprintln!(
            "screenshots of the pages (desktop and phone widths): {}",
            screenshots.display()
        );
    }
    Ok(())
}
