//! What the HTTP backends share: one client, errors of a model server turned into failure codes a client can act on, and a reader of streamed responses line by line (Ollama streams JSON lines, OpenAI-compatible servers stream server-sent events).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend::BackendError;

/// The longest a model server may go without sending a byte before it counts as stuck: long
/// enough for a cold start loading a large model before the first byte (the job's own timeout
/// bounds the whole run).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest line a stream may send: a server that never ends its line is not streaming.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// A client for a model server at `base` (its root URL).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(IDLE_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// A request that got no answer.
pub fn unreachable(backend: &str, base: &str, error: &reqwest::Error) -> BackendError {
    if error.is_timeout() {
        BackendError::new(
            "BACKEND_TIMEOUT",
            format!("{backend} at {base} did not answer in time"),
        )
    } else {
        BackendError::new(
            "BACKEND_UNAVAILABLE",
            format!("cannot reach {backend} at {base}: {}", root_cause(error)),
        )
    }
}

/// The innermost cause of an error: "Connection refused" rather than "error sending request".
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Sends `request` to the model server `backend` at `base`; an answer that is not a success is
/// a failure with the server's own message.
pub async fn send(
    backend: &str,
    base: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, BackendError> {
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(backend, base, &e))?;
    if !response.status().is_success() {
        return Err(refused(backend, response).await);
    }
    Ok(response)
}

/// A whole JSON answer.
pub async fn json(backend: &str, response: reqwest::Response) -> Result<Value, BackendError> {
    response
        .json()
        .await
        .map_err(|e| garbled(backend, &e.to_string()))
}

/// The model names in a model list: each item's first string field among `fields`.
pub fn model_names(list: &Value, fields: &[&str]) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| fields.iter().find_map(|f| m[*f].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An answer that is not a success: its status and the server's own message, as a failure.
pub async fn refused(backend: &str, response: reqwest::Response) -> BackendError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let said = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| text.chars().take(300).collect());
    let code = match status {
        StatusCode::NOT_FOUND if said.contains("model") => "MODEL_NOT_FOUND",
        StatusCode::NOT_FOUND => "BACKEND_ROUTE_MISSING",
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "BACKEND_UNAUTHORIZED",
        s if s.is_client_error() => "BACKEND_REJECTED",
        _ => "BACKEND_ERROR",
    };
    BackendError::new(code, format!("{backend} answered {status}: {said}"))
}

/// The message in an error body: Ollama's `{"error": "…"}` or OpenAI's
/// `{"error": {"message": "…"}}`.
pub fn message_of(body: &Value) -> Option<String> {
    match body.get("error")? {
        Value::String(s) => Some(s.clone()),
        e => e.get("message").and_then(Value::as_str).map(str::to_owned),
    }
}

/// A streamed response, read one line at a time.
pub struct Lines {
    response: reqwest::Response,
    buffer: Vec<u8>,
    backend: &'static str,
    ended: bool,
}

impl Lines {
    pub fn new(backend: &'static str, response: reqwest::Response) -> Self {
        Lines {
            response,
            buffer: Vec::new(),
            backend,
            ended: false,
        }
    }

    /// The next non-empty line, without its line ending; `None` at the end of the response.
    pub async fn next(&mut self) -> Result<Option<String>, BackendError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                if line.is_empty() {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.ended {
                let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buffer))
                    .trim()
                    .to_owned();
                return Ok((!rest.is_empty()).then_some(rest));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => {
                    self.buffer.extend_from_slice(&bytes);
                    if self.buffer.len() > MAX_LINE {
                        return Err(BackendError::new(
                            "BACKEND_PROTOCOL",
                            format!("{} sent a line of over {MAX_LINE} bytes", self.backend),
                        ));
                    }
                }
                Ok(None) => self.ended = true,
                Err(e) => {
                    return Err(BackendError::new(
                        "BACKEND_STREAM_BROKEN",
                        format!("{}'s stream broke off: {}", self.backend, root_cause(&e)),
                    ));
                }
            }
        }
    }
}

/// A line of a stream that should be JSON and is not.
pub fn garbled(backend: &str, line: &str) -> BackendError {
    BackendError::new(
        "BACKEND_PROTOCOL",
        format!(
            "{backend} sent something that is not its protocol: {}",
            line.chars().take(200).collect::<String>()
        ),
    )
}
