//! `./x bench`: every benchmark in one command: the chain's criterion benches (in process), then a load run against a release server that makes a block in every slot, measuring `/rpc/head` and the server-rendered explorer home beside `/health` as the baseline of the same run.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::Context;

use crate::{
    build::Build,
    setup::Setup,
    sh::{self, run, step},
};

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(args.is_empty(), "bench takes no options");
    Setup::for_build()?.run()?;
    step("Benchmarking");
    eprintln!("chain, in process (criterion)");
    run(Command::new("cargo")
        .args(["bench", "-p", "chain", "--bench", "chain"])
        .current_dir(sh::root()))?;

    let build = Build::new(true);
    build.site()?;
    build.server()?;
    run(Command::new("cargo")
        .args(["build", "--release", "-p", "tests", "--bin", "loadgen"])
        .current_dir(sh::root()))?;
    let data = std::env::temp_dir().join(format!("aitbc-bench-{}", std::process::id()));
    // A block in every slot: the explorer is measured while the chain moves, as people see it.
    let mut server = Command::new(build.server_binary())
        .args(["--bind", "127.0.0.1:0", "--empty-blocks", "--site-root"])
        .arg(&build.site)
        .arg("--data-dir")
        .arg(&data)
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
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}
