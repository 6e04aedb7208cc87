//! `./x extension`: the Firefox extension package. The wallet UI built for the popup (the same Leptos code as `/wallet/`, client-rendered), the background, content and provider scripts from `extension/`, the site's CSS; zipped into `target/extension/aitbc-wallet.xpi` and checked with Mozilla's `web-ext lint`.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

use crate::{
    build::{WASM_TARGET, bind, optimize},
    setup::Setup,
    sh::{self, run, step},
};

/// The folder the extension is built into, and the package beside it.
pub fn dir() -> PathBuf {
    sh::target_dir().join("extension")
}

pub fn extension(args: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(args.is_empty(), "extension takes no options");
    Setup::for_build()?.run()?;
    let package = build()?;
    lint(&dir().join("aitbc-wallet"))?;
    eprintln!("extension: {}", package.display());
    Ok(())
}

/// Builds the unpacked extension and its `.xpi`; returns the package's path.
pub fn build() -> anyhow::Result<PathBuf> {
    let root = sh::root();
    let out = dir().join("aitbc-wallet");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    step("Compiling");
    eprintln!("the wallet popup (WASM, client-rendered)");
    let target = sh::target_dir().join("front");
    run(Command::new("cargo")
        .args([
            "build",
            "-p",
            "wallet-ui",
            "--lib",
            "--no-default-features",
            "--features",
            "csr",
            "--target",
            WASM_TARGET,
            "--profile",
            "wasm-release",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(&root))?;
    let wasm = target
        .join(WASM_TARGET)
        .join("wasm-release")
        .join("wallet_ui.wasm");
    bind(&wasm, &out, "wallet_ui")?;
    optimize(&out.join("wallet_ui_bg.wasm"))?;
    step("Styling");
    run(Command::new(root.join("node_modules/.bin/tailwindcss"))
        .args(["--input", "style/tailwind.css", "--minify", "--output"])
        .arg(out.join("wallet.css"))
        .current_dir(&root))?;
    for entry in fs::read_dir(root.join("extension"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            fs::copy(&path, out.join(name))
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    fs::copy(root.join("public/favicon.svg"), out.join("icon.svg"))?;

    step("Packing");
    let package = dir().join("aitbc-wallet.xpi");
    zip_dir(&out, &package)?;
    Ok(package)
}

/// Zips the files of `dir` (flat) into `package`.
fn zip_dir(dir: &Path, package: &Path) -> anyhow::Result<()> {
    let file = fs::File::create(package)
        .with_context(|| format!("cannot create {}", package.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<_> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    for path in names {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("a file name that is not UTF-8")?;
        zip.start_file(name, options)?;
        zip.write_all(&fs::read(&path)?)?;
    }
    zip.finish()?;
    Ok(())
}

/// Mozilla's linter over the unpacked extension: errors fail the build. (It warns about the
/// `innerHTML` setter in the WASM glue, which Leptos's renderer binds; nothing of ours sets it.)
pub fn lint(dir: &Path) -> anyhow::Result<()> {
    step("Linting");
    let web_ext = sh::root().join("node_modules/.bin/web-ext");
    if !web_ext.exists() {
        bail!("web-ext is missing: run ./x setup");
    }
    run(Command::new(web_ext)
        .args(["lint", "--self-hosted", "--source-dir"])
        .arg(dir))
}
