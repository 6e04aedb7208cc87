//! The `aitbc` command; it has no subcommands yet and says so instead of pretending to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "aitbc {}: this command has no subcommands yet; the node, wallet and miner commands arrive with their issues",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
