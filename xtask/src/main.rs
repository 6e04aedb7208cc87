//! Project automation in Rust (set-up, build, run, watch, test) so every machine runs the same steps; `./x <command>` calls it.

mod bench;
mod build;
mod extension;
mod gpu_check;
mod run;
mod setup;
mod sh;
mod test;
#[cfg(test)]
mod tidy;
mod watch;

use std::process::ExitCode;

const USAGE: &str = "\
usage: ./x <command> [options]

commands:
  setup [--wasm-route auto|rustup|debian] [--browser]
                 install what the build needs (idempotent; a second run takes seconds)
  build [--release]
                 build the WASM bundle, the CSS and the server into target/site and target/*/
  run [--dev] [-- <aitbc-server args>]
                 set up, build (release unless --dev) and run the whole stack on its embedded defaults
  watch [-- <aitbc-server args>]
                 rebuild and restart the server whenever a source file changes
  bench          run every benchmark: the chain in process, HTTP load on a release server, and the coordinator's job lifecycles on SQLite and PostgreSQL
  test [-- <cargo test args>]
                 set up, build, and run every test (unit, integration, browser)
  extension      build the Firefox extension into target/extension/aitbc-wallet.xpi and lint it
  gpu-check      pack what checking the miner on an NVIDIA GPU machine needs into .gpu-check/
                 (tests/device/gpu-check.sh runs it there)

environment:
  AITBC_WASM_ROUTE=auto|rustup|debian   how the wasm32 standard library is obtained (default auto)
  CARGO_TARGET_DIR                      where cargo builds (default ./target)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "setup" => setup::Setup::from_args(rest).and_then(|s| s.run().map(drop)),
        "build" => build::Build::from_args(rest).and_then(|b| b.run()),
        "run" => run::run(rest),
        "watch" => watch::watch(rest),
        "test" => test::test(rest),
        "bench" => bench::bench(rest),
        "extension" => extension::extension(rest),
        "gpu-check" => gpu_check::gpu_check(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}
