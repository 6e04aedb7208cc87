//! The miner's settings from three places, in this order of precedence: command-line flags, environment variables (`AITBC_…`), and a TOML file (`--config`); then defaults. One struct serves all three, so a setting has the same name everywhere (`--price-per-unit`, `AITBC_PRICE_PER_UNIT`, `price_per_unit`).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{Backend, TestBackend, embed::LocalEmbeddings, ollama::Ollama, openai::OpenAi};

/// Every setting, each optional until [`Settings::resolve`].
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The coordinator's root URL [default: http://127.0.0.1:8080].
    #[arg(long, env = "AITBC_COORDINATOR")]
    pub coordinator: Option<String>,
    /// A miner API key issued by the coordinator's admin.
    #[arg(long, env = "AITBC_MINER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The key file (a hex seed, mode 0600) that signs this miner's receipts; in the config
    /// file, relative to the file's folder.
    #[arg(long, env = "AITBC_MINER_KEY")]
    pub key_file: Option<PathBuf>,
    /// Where payments go (`ait1…`).
    #[arg(long, env = "AITBC_PAYOUT_ADDRESS")]
    pub payout_address: Option<String>,
    /// Which backend runs jobs: `ollama`, `openai` (any OpenAI-compatible server: vLLM,
    /// llama.cpp's server), `cpu` (embeddings by a model in process, no GPU needed) or `test`
    /// (echoes payloads without a model, for protocol tests) [default: ollama].
    #[arg(long, env = "AITBC_BACKEND")]
    pub backend: Option<String>,
    /// The model server's root URL (default: Ollama's http://127.0.0.1:11434, or
    /// http://127.0.0.1:8000 for an OpenAI-compatible server).
    #[arg(long, env = "AITBC_BACKEND_URL")]
    pub backend_url: Option<String>,
    /// The OpenAI-compatible server's API key, if it asks for one.
    #[arg(long, env = "AITBC_BACKEND_API_KEY", hide_env_values = true)]
    pub backend_api_key: Option<String>,
    /// The folder of the built-in backend's model (all-MiniLM-L6-v2's config.json, vocab.txt
    /// and model.safetensors) [default: ~/.cache/aitbc/models/all-MiniLM-L6-v2].
    #[arg(long, env = "AITBC_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// The model a job that names none runs on.
    #[arg(long, env = "AITBC_DEFAULT_MODEL")]
    pub default_model: Option<String>,
    /// A model to advertise (repeatable); without it, the backend's models are.
    #[arg(long = "model")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// A GPU to advertise, as NAME:MEMORY_MB (repeatable); without it the GPUs nvidia-smi
    /// reports are advertised.
    #[arg(long = "gpu")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    /// The CUDA version to advertise (default: the driver's).
    #[arg(long)]
    pub cuda: Option<String>,
    /// The nvidia-smi program that reports this machine's GPUs [default: nvidia-smi].
    #[arg(long, env = "AITBC_NVIDIA_SMI")]
    pub nvidia_smi: Option<String>,
    /// AITBC base units (millionths) per GPU second [default: 1000000].
    #[arg(long, env = "AITBC_PRICE_PER_UNIT")]
    pub price_per_unit: Option<u64>,
    #[arg(long, env = "AITBC_REGION")]
    pub region: Option<String>,
    /// Jobs run at once [default: 1].
    #[arg(long, env = "AITBC_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Seconds between heartbeats; the coordinator's timeout must be longer [default: 10].
    #[arg(long)]
    pub heartbeat_seconds: Option<f64>,
    /// The longest one long poll waits, in seconds, at most 60 [default: 15].
    #[arg(long)]
    pub poll_seconds: Option<f64>,
    /// The longest one job may run, in seconds [default: 600].
    #[arg(long)]
    pub job_timeout_seconds: Option<f64>,
}

/// Settings with every default applied and every value checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub coordinator: String,
    pub api_key: String,
    pub key_file: PathBuf,
    pub payout_address: Option<types::Address>,
    pub backend: String,
    pub backend_url: Option<String>,
    pub backend_api_key: Option<String>,
    pub model_dir: PathBuf,
    pub default_model: Option<String>,
    pub models: Vec<String>,
    pub gpus: Vec<crate::worker::GpuInfo>,
    pub cuda: Option<String>,
    pub nvidia_smi: String,
    pub price_per_unit: u64,
    pub region: Option<String>,
    pub concurrency: usize,
    pub heartbeat_every: Duration,
    pub poll_wait: Duration,
    pub job_timeout: Duration,
}

/// Why settings cannot be used; the message says which setting and how to give it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The shortest interval a miner may be set to: anything shorter floods the coordinator.
const MIN_SECONDS: f64 = 0.1;

fn seconds(
    name: &str,
    value: Option<f64>,
    default: f64,
    max: f64,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if !(MIN_SECONDS..=max).contains(&value) {
        return Err(ConfigError(format!(
            "{name} must be from {MIN_SECONDS} to {max} seconds"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

fn gpu(text: &str) -> Result<crate::worker::GpuInfo, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "gpu {text:?}: expected NAME:MEMORY_MB, e.g. \"RTX 4090:24564\""
        ))
    };
    let (name, memory) = text.rsplit_once(':').ok_or_else(bad)?;
    Ok(crate::worker::GpuInfo {
        name: name.trim().to_owned(),
        memory_mb: memory.trim().parse().map_err(|_| bad())?,
    })
}

/// `~/.cache/aitbc/models/all-MiniLM-L6-v2`.
pub fn default_model_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/aitbc/models")
        .join(crate::embed::MODEL_NAME)
}

impl Resolved {
    /// The backend these settings name.
    pub fn backend(&self) -> Result<Arc<dyn Backend>, ConfigError> {
        let url = self.backend_url.as_deref();
        Ok(match self.backend.as_str() {
            "test" => Arc::new(TestBackend),
            "cpu" => Arc::new(
                LocalEmbeddings::load(&self.model_dir).map_err(|e| ConfigError(e.message))?,
            ),
            "ollama" => Arc::new(Ollama::new(url.unwrap_or("http://127.0.0.1:11434"))),
            "openai" => Arc::new(OpenAi::new(
                url.unwrap_or("http://127.0.0.1:8000"),
                self.backend_api_key.clone(),
            )),
            other => {
                return Err(ConfigError(format!(
                    "unknown backend `{other}` (known: ollama, openai, cpu, test)"
                )));
            }
        })
    }
}

impl Settings {
    /// Reads a TOML config file; a path in it is taken relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        let mut settings: Settings =
            toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        #[cfg(unix)]
        if settings.api_key.is_some() || settings.backend_api_key.is_some() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(ConfigError(format!(
                    "{} holds an API key but others may read it: `chmod 600 {0}`",
                    path.display()
                )));
            }
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        for file in [&mut settings.key_file, &mut settings.model_dir]
            .into_iter()
            .flatten()
        {
            if file.is_relative() {
                *file = folder.join(&*file);
            }
        }
        Ok(settings)
    }

    /// These settings where given, `lower`'s elsewhere.
    pub fn over(self, lower: Settings) -> Settings {
        fn list(high: Vec<String>, low: Vec<String>) -> Vec<String> {
            if high.is_empty() { low } else { high }
        }
        Settings {
            coordinator: self.coordinator.or(lower.coordinator),
            api_key: self.api_key.or(lower.api_key),
            key_file: self.key_file.or(lower.key_file),
            payout_address: self.payout_address.or(lower.payout_address),
            backend: self.backend.or(lower.backend),
            backend_url: self.backend_url.or(lower.backend_url),
            backend_api_key: self.backend_api_key.or(lower.backend_api_key),
            model_dir: self.model_dir.or(lower.model_dir),
            default_model: self.default_model.or(lower.default_model),
            models: list(self.models, lower.models),
            gpus: list(self.gpus, lower.gpus),
            cuda: self.cuda.or(lower.cuda),
            nvidia_smi: self.nvidia_smi.or(lower.nvidia_smi),
            price_per_unit: self.price_per_unit.or(lower.price_per_unit),
            region: self.region.or(lower.region),
            concurrency: self.concurrency.or(lower.concurrency),
            heartbeat_seconds: self.heartbeat_seconds.or(lower.heartbeat_seconds),
            poll_seconds: self.poll_seconds.or(lower.poll_seconds),
            job_timeout_seconds: self.job_timeout_seconds.or(lower.job_timeout_seconds),
        }
    }

    /// Applies the defaults and checks every value.
    pub fn resolve(self) -> Result<Resolved, ConfigError> {
        let missing = |setting: &str, env: &str, flag: &str| {
            ConfigError(format!(
                "no {setting}: set `{}` in the config file, {env}, or --{flag}",
                flag.replace('-', "_")
            ))
        };
        let api_key = self
            .api_key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| missing("miner API key", "AITBC_MINER_API_KEY", "api-key"))?;
        let key_file = self
            .key_file
            .ok_or_else(|| missing("receipt signing key file", "AITBC_MINER_KEY", "key-file"))?;
        let payout_address = self
            .payout_address
            .map(|a| {
                a.parse::<types::Address>()
                    .map_err(|e| ConfigError(format!("payout_address {a}: {e}")))
            })
            .transpose()?;
        let backend = self.backend.unwrap_or_else(|| "ollama".to_owned());
        if !["ollama", "openai", "cpu", "test"].contains(&backend.as_str()) {
            return Err(ConfigError(format!(
                "unknown backend `{backend}` (known: ollama, openai, cpu, test)"
            )));
        }
        let concurrency = self.concurrency.unwrap_or(1);
        if concurrency == 0 || concurrency > 256 {
            return Err(ConfigError("concurrency must be from 1 to 256".into()));
        }
        Ok(Resolved {
            coordinator: self
                .coordinator
                .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
            api_key,
            key_file,
            payout_address,
            backend,
            backend_url: self.backend_url,
            backend_api_key: self.backend_api_key,
            model_dir: self.model_dir.unwrap_or_else(default_model_dir),
            default_model: self.default_model,
            models: self.models,
            gpus: self.gpus.iter().map(|g| gpu(g)).collect::<Result<_, _>>()?,
            cuda: self.cuda,
            nvidia_smi: self.nvidia_smi.unwrap_or_else(|| "nvidia-smi".to_owned()),
            price_per_unit: self.price_per_unit.unwrap_or(1_000_000),
            region: self.region,
            concurrency,
            heartbeat_every: seconds("heartbeat_seconds", self.heartbeat_seconds, 10.0, 3_600.0)?,
            poll_wait: seconds("poll_seconds", self.poll_seconds, 15.0, 60.0)?,
            job_timeout: seconds(
                "job_timeout_seconds",
                self.job_timeout_seconds,
                600.0,
                86_400.0,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_the_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("miner.toml");
        std::fs::write(
            &path,
            "coordinator = \"http://coord:8080\"\napi_key = \"from-file\"\nkey_file = \"miner.key\"\n\
             backend = \"openai\"\nprice_per_unit = 42\ngpus = [\"RTX 4090:24564\"]\n",
        )
        .expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let error = Settings::from_file(&path).expect_err("readable by others");
            assert!(error.0.contains("chmod 600"), "{error}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let file = Settings::from_file(&path).expect("reads");
        let flags = Settings {
            api_key: Some("from-flag".into()),
            concurrency: Some(3),
            ..Settings::default()
        };
        let resolved = flags.over(file).resolve().expect("resolves");
        assert_eq!(resolved.api_key, "from-flag");
        assert_eq!(resolved.coordinator, "http://coord:8080");
        assert_eq!(resolved.key_file, dir.path().join("miner.key"));
        assert_eq!(
            (resolved.backend.as_str(), resolved.price_per_unit),
            ("openai", 42)
        );
        assert_eq!(
            (resolved.concurrency, resolved.poll_wait),
            (3, Duration::from_secs(15))
        );
        assert_eq!(resolved.gpus[0].memory_mb, 24564);
    }

    #[test]
    fn mistakes_are_named_with_where_to_fix_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("miner.toml");
        std::fs::write(&path, "api_kee = \"typo\"\n").expect("write");
        let error = Settings::from_file(&path).expect_err("unknown field");
        assert!(error.0.contains("api_kee"), "{error}");

        let error = Settings::default().resolve().expect_err("no key");
        assert!(
            error.0.contains("AITBC_MINER_API_KEY") && error.0.contains("--api-key"),
            "{error}"
        );
        let base = Settings {
            api_key: Some("k".into()),
            key_file: Some("k.key".into()),
            ..Settings::default()
        };
        for (settings, says) in [
            (
                Settings {
                    backend: Some("gpu".into()),
                    ..base.clone()
                },
                "unknown backend",
            ),
            (
                Settings {
                    concurrency: Some(0),
                    ..base.clone()
                },
                "concurrency",
            ),
            (
                Settings {
                    poll_seconds: Some(90.0),
                    ..base.clone()
                },
                "poll_seconds",
            ),
            (
                Settings {
                    gpus: vec!["RTX".into()],
                    ..base.clone()
                },
                "NAME:MEMORY_MB",
            ),
            (
                Settings {
                    payout_address: Some("ait1nope".into()),
                    ..base.clone()
                },
                "payout_address",
            ),
        ] {
            let error = settings.resolve().expect_err(says);
            assert!(error.0.contains(says), "{error}");
        }
    }
}
