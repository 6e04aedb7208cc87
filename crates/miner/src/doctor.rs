//! `aitbc-miner doctor`: checks what a miner needs (its signing key, payout address, GPUs, backend and models, the coordinator and its API key) and says in plain words what is wrong and how to fix it.

use std::{fmt, sync::Arc, time::Duration};

use crate::{Backend, config::Resolved, gpu};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Works, but maybe not as meant.
    Warn,
    /// The miner cannot work this way.
    Fail,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub level: Level,
    pub what: &'static str,
    pub said: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag} {}: {}", self.what, self.said)
    }
}

fn check(level: Level, what: &'static str, said: impl Into<String>) -> Check {
    Check {
        level,
        what,
        said: said.into(),
    }
}

/// Runs every check; `backend` is the configured backend, or why it could not be made.
pub async fn doctor(settings: &Resolved, backend: Result<Arc<dyn Backend>, String>) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match types::keyfile::read(&settings.key_file) {
        Ok(key) => check(
            Level::Ok,
            "signing key",
            format!(
                "{} (public key {})",
                settings.key_file.display(),
                key.public_key().to_hex()
            ),
        ),
        Err(e) => check(
            Level::Fail,
            "signing key",
            format!("{e}; `aitbc-miner init` writes a new one (and the file must be mode 0600)"),
        ),
    });
    checks.push(match &settings.payout_address {
        Some(address) => check(Level::Ok, "payout address", address.to_string()),
        None => check(
            Level::Warn,
            "payout address",
            "none set: paid jobs go only to miners the escrow can pay, so this one gets unpaid jobs only",
        ),
    });
    checks.push(gpus(settings).await);
    checks.extend(backend_checks(settings, backend).await);
    checks.extend(coordinator_checks(settings).await);
    checks
}

async fn gpus(settings: &Resolved) -> Check {
    if !settings.gpus.is_empty() {
        let names: Vec<String> = settings.gpus.iter().map(|g| g.name.clone()).collect();
        return check(
            Level::Ok,
            "GPUs",
            format!("as configured: {}", names.join(", ")),
        );
    }
    let program = settings.nvidia_smi.clone();
    match tokio::task::spawn_blocking(move || gpu::detect(&program)).await {
        Ok(Ok(hw)) if !hw.cpu_only() => {
            let list: Vec<String> = hw
                .gpus
                .iter()
                .map(|g| format!("{}: {} ({} MiB)", g.index, g.name, g.memory_mb))
                .collect();
            let cuda = hw.cuda.map(|c| format!(", CUDA {c}")).unwrap_or_default();
            check(Level::Ok, "GPUs", format!("{}{cuda}", list.join("; ")))
        }
        Ok(Ok(_)) => check(
            Level::Warn,
            "GPUs",
            "nvidia-smi reports none: running CPU-only",
        ),
        Ok(Err(e @ gpu::DetectError::NoDriver)) => {
            let level = if settings.backend == "cpu" || settings.backend == "test" {
                Level::Ok
            } else {
                Level::Warn
            };
            check(level, "GPUs", e.to_string())
        }
        Ok(Err(e)) => check(
            Level::Fail,
            "GPUs",
            format!("{e}; is the NVIDIA driver loaded (`nvidia-smi` by hand says more)?"),
        ),
        Err(e) => check(Level::Fail, "GPUs", e.to_string()),
    }
}

async fn backend_checks(
    settings: &Resolved,
    backend: Result<Arc<dyn Backend>, String>,
) -> Vec<Check> {
    let backend = match backend {
        Ok(b) => b,
        Err(e) => return vec![check(Level::Fail, "backend", e)],
    };
    let models = match tokio::time::timeout(Duration::from_secs(10), backend.models()).await {
        Ok(Ok(models)) => models,
        Ok(Err(e)) => {
            let hint = match backend.name() {
                "ollama" => "; is Ollama running (`ollama serve`) at that address?",
                "openai" => "; is the server running, and is --backend-url its root URL?",
                _ => "",
            };
            return vec![check(
                Level::Fail,
                "backend",
                format!("{}{hint}", e.message),
            )];
        }
        Err(_) => {
            return vec![check(
                Level::Fail,
                "backend",
                format!("{} did not answer within 10 s", backend.name()),
            )];
        }
    };
    let mut checks = vec![if models.is_empty() {
        check(
            Level::Fail,
            "backend",
            format!(
                "{} serves no model: install one first (for Ollama, `ollama pull llama3.2`)",
                backend.name()
            ),
        )
    } else {
        check(
            Level::Ok,
            "backend",
            format!("{}: {}", backend.name(), models.join(", ")),
        )
    }];
    // Ollama names a model without a tag as its `:latest`.
    let served = |wanted: &str| {
        models
            .iter()
            .any(|m| m == wanted || (!wanted.contains(':') && *m == format!("{wanted}:latest")))
    };
    for wanted in settings.default_model.iter().chain(&settings.models) {
        if !served(wanted) {
            checks.push(check(
                Level::Fail,
                "model",
                format!(
                    "{wanted} is configured but {} does not serve it",
                    backend.name()
                ),
            ));
        }
    }
    checks
}

async fn coordinator_checks(settings: &Resolved) -> Vec<Check> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let base = settings.coordinator.trim_end_matches('/');
    match http.get(format!("{base}/health")).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            return vec![check(
                Level::Fail,
                "coordinator",
                format!(
                    "{base}/health answered {}: is this the coordinator's root URL?",
                    r.status()
                ),
            )];
        }
        Err(e) => {
            return vec![check(
                Level::Fail,
                "coordinator",
                format!("cannot reach {base}: {}", crate::http::root_cause(&e)),
            )];
        }
    }
    let mut checks = vec![check(Level::Ok, "coordinator", format!("{base} answers"))];
    // A progress report for a job no miner runs: the key is checked, nothing changes (a
    // heartbeat would mark the miner online, a poll could take a job).
    let answer = http
        .post(format!("{base}/v1/miners/aitbc-doctor-check/progress"))
        .header("x-api-key", &settings.api_key)
        .json(&serde_json::json!({ "progress": 0 }))
        .send()
        .await;
    checks.push(match answer.map(|r| r.status().as_u16()) {
        Ok(404 | 409) => check(Level::Ok, "API key", "accepted as a miner key"),
        Ok(401) => check(
            Level::Fail,
            "API key",
            "the coordinator does not know it (mistyped, or revoked): ask its admin for a miner key",
        ),
        Ok(403) => check(
            Level::Fail,
            "API key",
            "it is not a miner key (a client or admin key?): ask for one with role miner",
        ),
        Ok(status) => check(Level::Warn, "API key", format!("the coordinator answered {status}")),
        Err(e) => check(Level::Fail, "API key", format!("cannot ask the coordinator: {e}")),
    });
    checks
}
