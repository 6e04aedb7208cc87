//! Harness for the end-to-end tests: starts real `aitbc-server` processes on loopback and drives a real headless Chromium over the DevTools protocol.

mod browser;
mod server;

pub use browser::{Browser, ConsoleEntry, Tab, screenshot_dir};
pub use server::{Options, Server, Site, free_port};
