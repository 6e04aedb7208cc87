//! `GET /health`: the server's status and that of each component, for load balancers and people.

use std::{collections::BTreeMap, path::Path};

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::AppState;

/// The health of one component.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ComponentHealth {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

impl ComponentHealth {
    const OK: Self = Self {
        status: "ok",
        detail: None,
    };

    fn down(detail: &'static str) -> Self {
        Self {
            status: "down",
            detail: Some(detail),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_s: u64,
    pub components: BTreeMap<&'static str, ComponentHealth>,
}

fn site_health(site_root: &Path) -> ComponentHealth {
    let pkg = site_root.join("pkg");
    let bundle = aitbc_site::BUNDLE_NAME;
    let built = [
        format!("{bundle}.js"),
        format!("{bundle}_bg.wasm"),
        format!("{bundle}.css"),
    ]
    .iter()
    .all(|file| pkg.join(file).is_file());
    if built {
        ComponentHealth::OK
    } else {
        ComponentHealth::down(
            "the site bundle (JS, WASM, CSS) is missing: pages render but do not hydrate",
        )
    }
}

fn storage_health(data_dir: &Path) -> ComponentHealth {
    match std::fs::metadata(data_dir) {
        Ok(meta) if meta.is_dir() && !meta.permissions().readonly() => ComponentHealth::OK,
        Ok(_) => ComponentHealth::down("the data folder is not a writable folder"),
        Err(_) => ComponentHealth::down("the data folder is missing"),
    }
}

/// Handler: 200 when every component that this build runs is up, 503 otherwise.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let components = BTreeMap::from([
        ("site", site_health(&state.config.site_root)),
        ("storage", storage_health(&state.config.data_dir)),
    ]);
    let healthy = components.values().all(|c| c.status == "ok");
    let health = Health {
        status: if healthy { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        components,
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}
