//! `./x build`: the project's own build driver (in place of cargo-leptos): the hydrate WASM bundle and its JS glue, the CSS, the public files, then the server.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail};

use crate::{
    setup::{DEBIAN_RUSTC, WasmRoute},
    sh::{self, run, step},
};

const BUNDLE: &str = "aitbc";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The options of `./x build`.
#[derive(Clone, Debug)]
pub struct Build {
    pub release: bool,
    /// The wasm route to build with; `None` picks it as [`WasmRoute::detect`] does.
    pub route: Option<WasmRoute>,
    /// Where the site goes: `pkg/` and the public files.
    pub site: PathBuf,
}

impl Build {
    /// A dev or release build of the default site with the detected route.
    pub fn new(release: bool) -> Self {
        Build {
            release,
            route: None,
            site: sh::site_dir(),
        }
    }

    pub fn from_args(args: &[String]) -> anyhow::Result<Self> {
        let mut build = Build::new(false);
        for arg in args {
            match arg.as_str() {
                "--release" => build.release = true,
                other => bail!("build: unknown option `{other}`"),
            }
        }
        Ok(build)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        self.site()?;
        self.server()?;
        step("Built");
        eprintln!("site and server in {:.1?}", started.elapsed());
        Ok(())
    }

    /// Everything the browser loads: `pkg/` (JS, WASM, CSS) and the public files.
    pub fn site(&self) -> anyhow::Result<()> {
        let route = match self.route {
            Some(route) => route,
            None => WasmRoute::detect()?,
        };
        let site = &self.site;
        let pkg = site.join("pkg");
        fs::create_dir_all(&pkg).with_context(|| format!("cannot create {}", pkg.display()))?;
        let wasm = self.front(route)?;
        bind(&wasm, &pkg, BUNDLE)?;
        if self.release {
            optimize(&pkg.join(format!("{BUNDLE}_bg.wasm")))?;
        }
        self.css(&pkg)?;
        copy_dir(&sh::root().join("public"), site)?;
        if self.release {
            report_size(&pkg)?;
        }
        Ok(())
    }

    /// Builds the hydrate side of `site` for wasm32 and returns the `.wasm` file.
    fn front(&self, route: WasmRoute) -> anyhow::Result<PathBuf> {
        // One target folder per route: their compilers differ, and sharing one folder would
        // make each route rebuild everything the other built.
        let target = sh::target_dir().join(match route {
            WasmRoute::Rustup => "front",
            WasmRoute::Debian => "front-debian",
        });
        let profile = if self.release { "wasm-release" } else { "dev" };
        step("Compiling");
        eprintln!("WASM bundle ({profile}, {route:?} route)");
        let mut cargo = Command::new("cargo");
        cargo
            // `types` rides along: it must keep building for wasm32, where the explorer and the
            // wallet will verify proofs and sign.
            .args([
                "build",
                "-p",
                "site",
                "-p",
                "types",
                "--lib",
                "--no-default-features",
                "--features",
                "site/hydrate",
            ])
            .args([
                "--target",
                WASM_TARGET,
                "--profile",
                profile,
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(sh::root());
        if route == WasmRoute::Debian {
            // Debian's compiler builds std from its source; only this build sees these variables,
            // so the server and the tests keep the default toolchain.
            cargo
                .arg("-Zbuild-std=std,panic_abort")
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1");
        }
        run(&mut cargo)?;
        let dir = if self.release {
            "wasm-release"
        } else {
            "debug"
        };
        Ok(target.join(WASM_TARGET).join(dir).join("site.wasm"))
    }

    fn css(&self, pkg: &Path) -> anyhow::Result<()> {
        step("Styling");
        let mut tailwind = Command::new(sh::root().join("node_modules/.bin/tailwindcss"));
        tailwind
            .args(["--input", "style/tailwind.css", "--output"])
            .arg(pkg.join(format!("{BUNDLE}.css")))
            .current_dir(sh::root());
        if self.release {
            tailwind.arg("--minify");
        }
        run(&mut tailwind)
    }

    /// Builds `aitbc-server`.
    pub fn server(&self) -> anyhow::Result<()> {
        step("Compiling");
        eprintln!(
            "server, CLI and miner ({})",
            if self.release { "release" } else { "dev" }
        );
        let mut cargo = Command::new("cargo");
        cargo
            .args([
                "build",
                "-p",
                "server",
                "--bin",
                "aitbc-server",
                "-p",
                "cli",
                "--bin",
                "aitbc",
                "-p",
                "miner",
                "--bin",
                "aitbc-miner",
            ])
            .current_dir(sh::root());
        if self.release {
            cargo.arg("--release");
        }
        run(&mut cargo)
    }

    /// The built server binary.
    pub fn server_binary(&self) -> PathBuf {
        sh::target_dir()
            .join(if self.release { "release" } else { "debug" })
            .join("aitbc-server")
    }
}

/// WASM features that current rustc emits for wasm32 by default; wasm-opt must accept them.
/// Writes the JS glue and the bound `.wasm` of `wasm` into `out` as `name` (`--target web`).
pub fn bind(wasm: &Path, out: &Path, name: &str) -> anyhow::Result<()> {
    step("Binding");
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            name,
            "--out-dir",
        ])
        .arg(out)
        .arg(wasm))
}

/// Shrinks a bound `.wasm` in place with binaryen's `wasm-opt -Oz`.
pub fn optimize(bundle: &Path) -> anyhow::Result<()> {
    step("Optimizing");
    run(Command::new(sh::root().join("node_modules/.bin/wasm-opt"))
        .args(["-Oz", "--strip-debug", "--strip-producers"])
        .args(WASM_FEATURES)
        .arg(bundle)
        .arg("-o")
        .arg(bundle))
}

const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    dest.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Prints what the browser downloads: each file of `pkg/` raw and compressed with brotli at
/// the highest quality (as a CDN or a precompressing server sends it).
fn report_size(pkg: &Path) -> anyhow::Result<()> {
    let mut total = 0;
    for name in [
        format!("{BUNDLE}_bg.wasm"),
        format!("{BUNDLE}.js"),
        format!("{BUNDLE}.css"),
    ] {
        let bytes = fs::read(pkg.join(&name)).with_context(|| format!("cannot read {name}"))?;
        let mut compressed = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &params)?;
        total += compressed.len();
        eprintln!(
            "  {name}: {} KB, {} KB brotli",
            bytes.len() / 1024,
            compressed.len() / 1024
        );
    }
    eprintln!("  all UIs together: {} KB brotli", total / 1024);
    Ok(())
}
