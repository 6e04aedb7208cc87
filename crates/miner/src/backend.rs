//! What runs a job: one trait for every inference backend, and the test backend that the protocol's end-to-end tests drive (it runs no model).

use std::{future::Future, pin::Pin, time::Duration};

use serde_json::{Value, json};

/// A boxed future, so backends can be chosen at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a backend produced for a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The job's result, as the client reads it.
    pub result: Value,
    /// What the run used (tokens, duration); reported with the result.
    pub usage: Value,
}

/// Why a backend could not run a job; reported to the coordinator as a failure with this code
/// and message, never as a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BackendError {
    pub code: String,
    pub message: String,
}

impl BackendError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        BackendError {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A way to run jobs: a local model, or a model server the miner forwards to.
pub trait Backend: Send + Sync {
    /// The name operators and logs know it by.
    fn name(&self) -> &str;

    /// Runs one job's payload.
    fn run<'a>(&'a self, payload: &'a Value) -> BoxFuture<'a, Result<Output, BackendError>>;
}

/// The longest a test job may ask to take.
const MAX_TEST_SLEEP_MS: u64 = 60_000;

/// A backend for testing the miner protocol around it, with no model behind it: it answers
/// `{"echo": payload}` after `payload.sleep_ms` milliseconds (at most a minute), and fails with
/// code `TEST_FAILURE` when the payload says `"fail": true`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestBackend;

impl Backend for TestBackend {
    fn name(&self) -> &str {
        "test"
    }

    fn run<'a>(&'a self, payload: &'a Value) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async move {
            let sleep_ms = payload
                .get("sleep_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(MAX_TEST_SLEEP_MS);
            tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
            if payload.get("fail").and_then(Value::as_bool) == Some(true) {
                return Err(BackendError::new(
                    "TEST_FAILURE",
                    "the job asked the test backend to fail",
                ));
            }
            Ok(Output {
                result: json!({ "echo": payload }),
                usage: json!({ "duration_ms": sleep_ms }),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_test_backend_echoes_and_fails_on_request() {
        let payload = json!({"prompt": "hi", "sleep_ms": 5});
        let output = TestBackend.run(&payload).await.expect("runs");
        assert_eq!(output.result, json!({"echo": payload}));
        let failing = json!({"fail": true});
        let error = TestBackend.run(&failing).await.expect_err("fails");
        assert_eq!(error.code, "TEST_FAILURE");
    }
}
