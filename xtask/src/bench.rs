//! `./x bench`: every benchmark in one command: the chain's criterion benches (in process); a load run against a release server that makes a block in every slot, measuring `/rpc/head` and the server-rendered explorer home beside `/health` as the baseline of the same run; the coordinator's job lifecycles with simulated miners long-polling, on SQLite and on PostgreSQL; and the miner's overhead per job against calling its model server directly.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use anyhow::Context;

use crate::{
    build::Build,
    setup::Setup,
    sh::{self, run, step},
};

/// The PostgreSQL server the coordinator's benchmark uses (`AITBC_BENCH_POSTGRES`).
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(args.is_empty(), "bench takes no options");
    Setup::for_build()?.run()?;
    step("Benchmarking");
    eprintln!("chain, in process (criterion)");
    run(Command::new("cargo")
        .args(["bench", "-p", "chain", "--bench", "chain"])
        .current_dir(sh::root()))?;
    eprintln!("wallet keystore, in process (criterion)");
    run(Command::new("cargo")
        .args(["bench", "-p", "wallet", "--bench", "keystore"])
        .current_dir(sh::root()))?;

    let build = Build::new(true);
    build.site()?;
    build.server()?;
    run(Command::new("cargo")
        .args([
            "build",
            "--release",
            "-p",
            "tests",
            "--bin",
            "loadgen",
            "--bin",
            "jobbench",
            "--bin",
            "minerbench",
        ])
        .current_dir(sh::root()))?;
    http_load(&build)?;
    coordinator_load(&build)?;
    miner_overhead(&build)
}

/// The miner's overhead per job: a direct call to a model server against the same job through
/// a coordinator (no chain, unpaid jobs) and a release `aitbc-miner`.
fn miner_overhead(build: &Build) -> anyhow::Result<()> {
    step("Loading");
    eprintln!("miner overhead per job");
    let data = std::env::temp_dir().join(format!("aitbc-bench-miner-{}", std::process::id()));
    let (server, url) = start_server(build, &data, COORDINATOR_ALONE)?;
    let result = run(Command::new(sh::target_dir().join("release/minerbench"))
        .args(["--url", &url, "--admin-key-file"])
        .arg(data.join("coordinator/admin.key"))
        .arg("--miner-bin")
        .arg(build.server_binary().with_file_name("aitbc-miner")));
    stop(server, &data);
    result
}

/// A coordinator with no chain taking unpaid jobs (the chain's throughput is measured apart),
/// without rate limits: the load is the point.
const COORDINATOR_ALONE: &[&str] = &[
    "--no-chain",
    "--api-only",
    "--allow-unpaid-jobs",
    "--key-rate-limit",
    "0",
    "--ip-rate-limit",
    "0",
];

/// A release server on a free port with its own data folder and `args`; returns it and its URL.
fn start_server(build: &Build, data: &Path, args: &[&str]) -> anyhow::Result<(Child, String)> {
    let mut server = Command::new(build.server_binary())
        .args(["--bind", "127.0.0.1:0", "--site-root"])
        .arg(&build.site)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the server")?;
    let stdout = server.stdout.take().context("no stdout")?;
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("AITBC is running at ")
                .map(|u| u.trim_end_matches('/').to_owned())
        })
        .context("the server did not start")?;
    Ok((server, url))
}

fn stop(mut server: Child, data: &Path) {
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(data);
}

fn http_load(build: &Build) -> anyhow::Result<()> {
    let data = std::env::temp_dir().join(format!("aitbc-bench-{}", std::process::id()));
    // A block in every slot: the explorer is measured while the chain moves, as people see it.
    let (server, url) = start_server(build, &data, &["--empty-blocks"])?;
    let loadgen = sh::target_dir().join("release/loadgen");
    // A few blocks to list on the explorer's home page.
    std::thread::sleep(std::time::Duration::from_secs(6));
    step("Loading");
    let result = ["/health", "/rpc/head", "/explorer/"]
        .iter()
        .try_for_each(|path| {
            run(Command::new(&loadgen).args([
                "--url",
                &format!("{url}{path}"),
                "--concurrency",
                "16",
                "--seconds",
                "10",
            ]))
        });
    stop(server, &data);
    result
}

/// Unpaid jobs (the chain's own throughput is measured above) through a coordinator alone, on
/// each database.
fn coordinator_load(build: &Build) -> anyhow::Result<()> {
    let jobbench = sh::target_dir().join("release/jobbench");
    let postgres =
        std::env::var("AITBC_BENCH_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
    let database = format!("{postgres}/aitbc_bench_{}", std::process::id());
    for (name, db) in [("SQLite", None), ("PostgreSQL", Some(&database))] {
        step("Loading");
        eprintln!("coordinator on {name}");
        let data = std::env::temp_dir().join(format!("aitbc-bench-coord-{}", std::process::id()));
        let mut args = COORDINATOR_ALONE.to_vec();
        if let Some(db) = db {
            run(Command::new(&jobbench).args(["--create-database", db]))?;
            args.extend(["--coordinator-db", db]);
        }
        let (server, url) = start_server(build, &data, &args)?;
        let admin_key = data.join("coordinator/admin.key");
        // The baseline of the same run: the same server answering its cheapest route.
        let loadgen = sh::target_dir().join("release/loadgen");
        let result = run(Command::new(&loadgen).args([
            "--url",
            &format!("{url}/health"),
            "--concurrency",
            "16",
            "--seconds",
            "5",
        ]))
        .and_then(|()| {
            run(Command::new(&jobbench)
                .args(["--url", &url, "--admin-key-file"])
                .arg(&admin_key)
                .args(["--miners", "64", "--clients", "32", "--seconds", "10"]))
        });
        stop(server, &data);
        if let Some(db) = db {
            run(Command::new(&jobbench).args(["--drop-database", db]))?;
        }
        result?;
    }
    Ok(())
}
