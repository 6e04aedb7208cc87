//! `GET /health`: the server's status and that of each component, for load balancers and people.
//!
//! `"ok"` (200) when every component is up; `"degraded"` (200) when only a component the APIs do
//! not need is down (the browser bundle); `"down"` (503) when a component every request may need
//! is down (storage).

use std::{collections::BTreeMap, path::Path};

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::AppState;

/// The health of one component.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ComponentHealth {
    /// `"ok"` or `"down"`.
    pub status: &'static str,
    /// Why it is down, in words for an operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    /// Whether the server is down when this component is.
    #[serde(skip)]
    pub critical: bool,
}

impl ComponentHealth {
    fn ok(critical: bool) -> Self {
        Self {
            status: "ok",
            detail: None,
            critical,
        }
    }

    fn down(critical: bool, detail: &'static str) -> Self {
        Self {
            status: "down",
            detail: Some(detail),
            critical,
        }
    }
}

/// The body of `/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `"ok"`, `"degraded"` or `"down"`.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_s: u64,
    /// Each component by name.
    pub components: BTreeMap<&'static str, ComponentHealth>,
}

fn site_health(site_root: &Path) -> ComponentHealth {
    let pkg = site_root.join("pkg");
    let bundle = site::BUNDLE_NAME;
    let built = [
        format!("{bundle}.js"),
        format!("{bundle}_bg.wasm"),
        format!("{bundle}.css"),
    ]
    .iter()
    .all(|file| pkg.join(file).is_file());
    if built {
        ComponentHealth::ok(false)
    } else {
        ComponentHealth::down(
            false,
            "the site bundle (JS, WASM, CSS) is missing: pages render but do not hydrate",
        )
    }
}

/// How long a storage probe's result stands, so frequent health checks do not each write a file.
const PROBE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The last storage probe: when, and whether it succeeded.
pub type ProbeCache = std::sync::Mutex<Option<(std::time::Instant, bool)>>;

async fn cached_storage_health(data_dir: &Path, cache: &ProbeCache) -> ComponentHealth {
    let fresh = cache
        .lock()
        .ok()
        .and_then(|c| *c)
        .filter(|(at, _)| at.elapsed() < PROBE_TTL);
    let ok = match fresh {
        Some((_, ok)) => ok,
        None => {
            let ok = storage_health(data_dir).await.status == "ok";
            if let Ok(mut cache) = cache.lock() {
                *cache = Some((std::time::Instant::now(), ok));
            }
            ok
        }
    };
    if ok {
        ComponentHealth::ok(true)
    } else {
        ComponentHealth::down(true, "the data folder cannot be written")
    }
}

/// Writes and removes a probe file: permission bits alone do not show a full or read-only disk.
async fn storage_health(data_dir: &Path) -> ComponentHealth {
    let probe = data_dir.join(".health-probe");
    match tokio::fs::write(&probe, b"ok").await {
        Ok(()) => {
            let _ = tokio::fs::remove_file(&probe).await;
            ComponentHealth::ok(true)
        }
        Err(error) => {
            tracing::warn!(%error, "the data folder is not writable");
            ComponentHealth::down(true, "the data folder cannot be written")
        }
    }
}

/// Handler for `GET /health`.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let storage = cached_storage_health(&state.config.data_dir, &state.storage_probe).await;
    let mut components = BTreeMap::from([("storage", storage)]);
    if !state.config.api_only {
        components.insert("site", site_health(&state.config.site_root));
    }
    if state.node.is_some() {
        // The node runs in this process: if the server answers, so does the node.
        components.insert("chain", ComponentHealth::ok(true));
    }
    let down = |critical: bool| {
        components
            .values()
            .any(|c| c.status != "ok" && c.critical == critical)
    };
    let (code, status) = if down(true) {
        (StatusCode::SERVICE_UNAVAILABLE, "down")
    } else if down(false) {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    let health = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        components,
    };
    (code, Json(health))
}
