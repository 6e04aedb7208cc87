//! The JSON API prefixes (`/api/`, `/v1/`, `/rpc/`, `/admin/`): routers that the coordinator, chain and exchange issues fill; for now every route under them answers a structured 404.

use axum::{
    Router,
    extract::{OriginalUri, Request},
};

use crate::{AppState, error::ApiError};

/// Answers any request that no API route matched.
pub async fn route_not_found(OriginalUri(uri): OriginalUri, request: Request) -> ApiError {
    ApiError::RouteNotFound {
        method: request.method().to_string(),
        path: uri.path().to_owned(),
    }
}

/// The routers mounted under the API prefixes.
pub fn routers() -> [(&'static str, Router<AppState>); 4] {
    let empty = || Router::new().fallback(route_not_found);
    [
        ("/api", empty()),
        ("/v1", empty()),
        ("/rpc", empty()),
        ("/admin", empty()),
    ]
}
