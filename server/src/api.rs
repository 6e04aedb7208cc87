//! The JSON API prefixes: the coordinator under `/v1/` and the same under `/api/` (the earlier `/api/x` = `/v1/x`), its admin part also under `/admin/`, and the chain's RPC under `/rpc/`.

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

/// Answers a request whose route exists for other methods only.
pub async fn method_not_allowed(OriginalUri(uri): OriginalUri, request: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: uri.path().to_owned(),
    }
}

/// The routers mounted under the API prefixes.
pub fn routers(state: &AppState) -> [(&'static str, Router<AppState>); 4] {
    // The coordinator's routes are limited per client address as well as per key.
    let limited = |router: Router<AppState>| {
        router.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::coordinator_api::per_ip,
        ))
    };
    [
        ("/api", limited(crate::coordinator_api::router())),
        ("/v1", limited(crate::coordinator_api::router())),
        ("/rpc", crate::rpc::router()),
        ("/admin", limited(crate::coordinator_api::admin_router())),
    ]
}
