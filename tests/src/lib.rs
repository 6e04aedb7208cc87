//! Harness for the end-to-end tests: starts real `aitbc-server` and `aitbc-miner` processes on loopback, talks to the stack as its users do, and drives a real headless Chromium over the DevTools protocol.

mod browser;
mod miner;
pub mod model_servers;
pub mod postgres;
mod server;
pub mod stack;
pub mod stats;

pub use browser::{Browser, ConsoleEntry, Tab, screenshot_dir};
pub use miner::{Miner, miner_binary};
pub use server::{Options, Server, Site, free_port};
