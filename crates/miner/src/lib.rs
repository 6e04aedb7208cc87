//! The AITBC miner: a long-running client beside a GPU that registers with the coordinator, keeps its heartbeat, long-polls for jobs, runs them on a backend and reports each result with a receipt it signs.

pub mod backend;
pub mod client;
pub mod config;
pub mod doctor;
pub mod embed;
pub mod gpu;
mod http;
pub mod ollama;
pub mod openai;
pub mod task;
pub mod wordpiece;
pub mod worker;

pub use backend::{Backend, BackendError, Output, Progress, TestBackend, Usage};
pub use client::{ClientError, CoordinatorClient};
pub use worker::{Miner, MinerConfig};
