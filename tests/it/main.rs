//! End-to-end tests: real server processes on loopback, real HTTP, a real headless Chromium.

mod backends;
mod chain;
mod coordinator;
mod crash;
mod explorer;
mod explorer_pages;
mod extension;
mod http;
mod hydration;
mod inference;
mod miners;
mod network;
mod wallet_browser;
mod wallet_daemon;
