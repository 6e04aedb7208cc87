//! The one AITBC server process as a library: [`app`] builds the whole router and [`run`] serves it until shutdown, so tests can start it on port 0.

mod api;
mod config;
mod error;
mod health;
mod request_id;
mod shutdown;
mod web;

use std::{future::Future, sync::Arc, time::Instant};

use anyhow::Context;
use axum::{
    Router,
    http::{HeaderValue, header},
    middleware,
    routing::get,
};
use tokio::net::TcpListener;
use tower_http::{
    catch_panic::CatchPanicLayer, compression::CompressionLayer,
    set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

pub use config::Config;
pub use error::{ApiError, ApiJson, FieldError};
pub use shutdown::shutdown_signal;

/// What every handler may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub started: Instant,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            started: Instant::now(),
        }
    }
}

/// A panic in a handler becomes a structured 500 instead of a dropped connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

/// The whole HTTP surface of the server.
pub fn app(state: AppState) -> Router {
    let options = web::leptos_options(&state.config);
    let mut router = Router::new().route("/health", get(health::health));
    for (prefix, api) in api::routers() {
        router = router.nest(prefix, api);
    }
    with_common_layers(router.with_state(state).merge(web::router(options)))
}

/// What every response goes through: request ids, panic capture, compression, security headers
/// (a restrictive Content-Security-Policy unless the page set its own) and request tracing.
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(web::NON_PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_id::assign))
        .layer(TraceLayer::new_for_http())
}

/// Serves [`app`] on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app(AppState::new(config));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    tracing::info!("server stopped");
    Ok(())
}
