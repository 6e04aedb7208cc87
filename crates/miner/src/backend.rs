//! What runs a job: one trait for every backend (a model server the miner forwards to, or a model in process), what a backend reports as it goes (text as it is generated, usage so far) and when it is done, and the test backend that the protocol's end-to-end tests drive (it runs no model).

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::task::Task;

/// A boxed future, so backends can be chosen at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Tokens a job used: counted by the backend where it tells, else one per streamed piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// What a backend produced for a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The job's result, as the client reads it.
    pub result: Value,
    pub usage: Usage,
}

impl Output {
    /// The result of a generate or chat job.
    pub fn text(task: &Task, text: String, finish_reason: String, usage: Usage) -> Self {
        let mut result = json!({
            "type": task.kind(),
            "model": task.model(),
            "output": text,
            "finish_reason": finish_reason,
            "tokens_processed": usage.prompt_tokens + usage.completion_tokens,
        });
        if let Task::Chat { .. } = task {
            result["message"] = json!({ "role": "assistant", "content": result["output"] });
        }
        Output { result, usage }
    }

    /// The result of an embeddings job.
    pub fn embeddings(model: &str, embeddings: Vec<Vec<f32>>, usage: Usage) -> Self {
        let dimensions = embeddings.first().map_or(0, Vec::len);
        Output {
            result: json!({
                "type": "embeddings",
                "model": model,
                "dimensions": dimensions,
                "embeddings": embeddings,
            }),
            usage,
        }
    }
}

/// `count` vectors of one length from a JSON list of number lists; `None` if it is not that.
pub fn vectors(value: &Value, count: usize) -> Option<Vec<Vec<f32>>> {
    let vectors: Vec<Vec<f32>> = value
        .as_array()?
        .iter()
        .map(|v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_f64().map(|x| x as f32))
                .collect()
        })
        .collect::<Option<_>>()?;
    let length = vectors.first().map(Vec::len)?;
    (vectors.len() == count && length > 0 && vectors.iter().all(|v| v.len() == length))
        .then_some(vectors)
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

/// What a running job tells as it goes: each piece of text as it is generated, and the tokens
/// streamed so far, which stay readable if the job is stopped midway (a finished job's
/// `Output` carries the backend's own count).
#[derive(Clone, Debug)]
pub struct Progress {
    pieces: mpsc::UnboundedSender<String>,
    usage: Arc<Mutex<Usage>>,
}

impl Progress {
    /// A progress reporter and the receiving end of its text.
    pub fn new() -> (Progress, mpsc::UnboundedReceiver<String>) {
        let (pieces, receive) = mpsc::unbounded_channel();
        (
            Progress {
                pieces,
                usage: Arc::default(),
            },
            receive,
        )
    }

    /// A piece of generated text (about one token).
    pub fn text(&self, piece: &str) {
        if let Ok(mut usage) = self.usage.lock() {
            usage.completion_tokens += 1;
        }
        let _ = self.pieces.send(piece.to_owned());
    }

    pub fn usage(&self) -> Usage {
        self.usage.lock().map(|u| *u).unwrap_or_default()
    }
}

/// A way to run jobs: a local model, or a model server the miner forwards to.
pub trait Backend: Send + Sync {
    /// The name operators and logs know it by.
    fn name(&self) -> &str;

    /// The models it can run now (advertised at registration, checked by `doctor`).
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;

    /// Runs one job, telling `progress` as it goes. Dropping the future stops the job (and
    /// aborts a request to a model server).
    fn run<'a>(
        &'a self,
        task: &'a Task,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>>;

    /// Runs one job's payload: a job of a type this backend reads, or a failure that says
    /// what is wrong with the payload.
    fn run_payload<'a>(
        &'a self,
        payload: &'a Value,
        default_model: Option<&'a str>,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async move {
            let task = Task::parse(payload, default_model)?;
            self.run(&task, progress).await
        })
    }
}

/// The longest a test job may ask to take.
const MAX_TEST_SLEEP_MS: u64 = 60_000;

/// A backend for testing the miner protocol around it, with no model behind it: it answers
/// `{"echo": payload}` after `payload.sleep_ms` milliseconds (at most a minute), and fails with
/// code `TEST_FAILURE` when the payload says `"fail": true`. It reads any payload.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestBackend;

impl Backend for TestBackend {
    fn name(&self) -> &str {
        "test"
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async { Ok(vec!["echo".to_owned()]) })
    }

    fn run<'a>(
        &'a self,
        _task: &'a Task,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async {
            Err(BackendError::new(
                "UNSUPPORTED_JOB_TYPE",
                "the test backend only echoes payloads",
            ))
        })
    }

    fn run_payload<'a>(
        &'a self,
        payload: &'a Value,
        _default_model: Option<&'a str>,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
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
                usage: Usage::default(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_test_backend_echoes_and_fails_on_request() {
        let (progress, _text) = Progress::new();
        let payload = json!({"prompt": "hi", "sleep_ms": 5});
        let output = TestBackend
            .run_payload(&payload, None, &progress)
            .await
            .expect("runs");
        assert_eq!(output.result, json!({"echo": payload}));
        let failing = json!({"fail": true});
        let error = TestBackend
            .run_payload(&failing, None, &progress)
            .await
            .expect_err("fails");
        assert_eq!(error.code, "TEST_FAILURE");
    }

    #[test]
    fn progress_counts_the_pieces_streamed_so_far() {
        let (progress, mut text) = Progress::new();
        progress.text("Hel");
        progress.text("lo");
        assert_eq!(progress.usage().completion_tokens, 2);
        assert_eq!(text.try_recv().ok().as_deref(), Some("Hel"));
    }

    #[test]
    fn vectors_must_be_as_many_as_asked_and_of_one_length() {
        assert_eq!(
            vectors(&json!([[1.0, 2.0], [3.0, 4.0]]), 2),
            Some(vec![vec![1.0, 2.0], vec![3.0, 4.0]])
        );
        assert_eq!(vectors(&json!([[1.0, 2.0], [3.0]]), 2), None);
        assert_eq!(vectors(&json!([[1.0]]), 2), None);
        assert_eq!(vectors(&json!("no"), 1), None);
    }
}
