//! The JSON API prefixes (`/api/`, `/v1/`, `/rpc/`, `/admin/`): the chain's RPC under `/rpc/`; the coordinator and exchange issues fill the others, which for now answer every route with a structured 404.

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
pub fn routers() -> [(&'static str, Router<AppState>); 4] {
    let empty = || Router::new().fallback(route_not_found);
    [
        ("/api", empty()),
        ("/v1", empty()),
        ("/rpc", crate::rpc::router()),
        ("/admin", empty()),
    ]
}
