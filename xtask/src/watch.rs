//! `./x watch`: the development loop. It builds in dev mode, runs the server, and on every saved change to a source, style or public file rebuilds what changed and restarts the server, printing how long that took.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant, SystemTime},
};

use anyhow::Context;

use crate::{build::Build, setup::Setup, sh};

/// Folders whose files feed the browser bundle; a change there rebuilds the WASM and the CSS.
const SITE_INPUTS: [&str; 7] = [
    "crates/site",
    "explorer-ui",
    "marketplace-ui",
    "exchange-ui",
    "wallet-ui",
    "style",
    "public",
];
/// Folders that only the server is built from.
const SERVER_INPUTS: [&str; 2] = ["server", "crates"];
const POLL: Duration = Duration::from_millis(250);

fn newest(paths: &[&str]) -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(modified);
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for path in paths {
        walk(&sh::root().join(path), &mut newest);
    }
    newest
}

fn start(binary: &PathBuf, args: &[String]) -> anyhow::Result<Child> {
    Command::new(binary)
        .arg("--site-root")
        .arg(sh::site_dir())
        .args(args)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

pub fn watch(args: &[String]) -> anyhow::Result<()> {
    let server_args = match args.split_first() {
        Some((dashes, rest)) if dashes == "--" => rest.to_vec(),
        Some((other, _)) => {
            anyhow::bail!("watch: unknown option `{other}` (server options go after `--`)")
        }
        None => Vec::new(),
    };
    Setup::for_build()?.run()?;
    let build = Build::new(false);
    build.run()?;
    let binary = build.server_binary();
    let mut server = start(&binary, &server_args)?;
    let (mut site_seen, mut server_seen) = (newest(&SITE_INPUTS), newest(&SERVER_INPUTS));
    eprintln!("watching for changes; Ctrl-C stops");
    loop {
        std::thread::sleep(POLL);
        let (site_now, server_now) = (newest(&SITE_INPUTS), newest(&SERVER_INPUTS));
        if site_now == site_seen && server_now == server_seen {
            continue;
        }
        let started = Instant::now();
        let result = if site_now != site_seen {
            build.site().and_then(|()| build.server())
        } else {
            build.server()
        };
        (site_seen, server_seen) = (site_now, server_now);
        match result {
            Ok(()) => {
                let _ = server.kill();
                let _ = server.wait();
                server = start(&binary, &server_args)?;
                eprintln!("rebuilt and restarted in {:.1?}", started.elapsed());
            }
            Err(error) => eprintln!("build failed, the old server keeps running: {error:#}"),
        }
    }
}
