//! The coordinator's miner routes over HTTP (`/v1/miners/*`), with the coordinator's structured errors read back and transient failures told apart from refusals.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// Why a call to the coordinator did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer (connection refused, reset, timed out) or a 5xx / 429: worth retrying.
    #[error("the coordinator is unreachable or busy: {0}")]
    Unavailable(String),
    /// The coordinator refused the call; retrying the same call will not help.
    #[error("the coordinator refused: {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl ClientError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ClientError::Unavailable(_))
    }
}

/// A job handed to this miner by a poll.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Assigned {
    pub job_id: String,
    pub payload: Value,
    /// The client's id, named in the receipt.
    pub client: String,
    /// Unix seconds when the coordinator handed the job out.
    pub started_at: u64,
    /// Base units per GPU second, as the coordinator recorded this miner's price.
    pub unit_price: u64,
    pub chain_id: String,
}

/// The miner routes of one coordinator, called with one miner API key.
#[derive(Clone, Debug)]
pub struct CoordinatorClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl CoordinatorClient {
    /// `base` is the coordinator's root URL (`http://127.0.0.1:8080`); the routes are under
    /// `/v1/`.
    pub fn new(base: &str, api_key: &str) -> Self {
        CoordinatorClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Option<Value>, ClientError> {
        let response = self
            .http
            .post(format!("{}/v1{path}", self.base))
            .header("x-api-key", &self.api_key)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Some(value));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ClientError::Unavailable(format!("{status}: {text}")));
        }
        let field = |name: &str| {
            value["error"][name]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(200).collect())
        };
        // What the coordinator found wrong, field by field, after its summary.
        let details: Vec<String> = value["error"]["details"]
            .as_array()
            .map(|details| {
                details
                    .iter()
                    .filter_map(|d| {
                        Some(format!(
                            "{}: {}",
                            d["field"].as_str()?,
                            d["message"].as_str()?
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut message = field("message");
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
        Err(ClientError::Refused {
            status: status.as_u16(),
            code: field("code"),
            message,
        })
    }

    /// Registers (or re-registers) this miner; returns the miner id the coordinator knows it
    /// by (its API key's identity).
    pub async fn register(&self, registration: &Value) -> Result<String, ClientError> {
        let answer = self
            .post("/miners/register", registration, Duration::from_secs(10))
            .await?
            .unwrap_or_default();
        answer["miner_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Unavailable(format!("no miner_id in {answer}")))
    }

    pub async fn heartbeat(&self, metadata: &Value) -> Result<(), ClientError> {
        self.post(
            "/miners/heartbeat",
            &json!({ "metadata": metadata }),
            Duration::from_secs(10),
        )
        .await
        .map(drop)
    }

    /// Tells the coordinator this miner is leaving: it is offered no more jobs.
    pub async fn deregister(&self) -> Result<(), ClientError> {
        self.post("/miners/deregister", &json!({}), Duration::from_secs(10))
            .await
            .map(drop)
    }

    /// Waits up to `wait` for a job this miner can run.
    pub async fn poll(&self, wait: Duration) -> Result<Option<Assigned>, ClientError> {
        let answer = self
            .post(
                "/miners/poll",
                &json!({ "max_wait_seconds": wait.as_secs_f64() }),
                wait + Duration::from_secs(10),
            )
            .await?;
        answer
            .map(|job| {
                Assigned::deserialize(&job)
                    .map_err(|e| ClientError::Unavailable(format!("unreadable job {job}: {e}")))
            })
            .transpose()
    }

    /// Reports a result with the receipt this miner signed; returns the attested receipt.
    pub async fn result(
        &self,
        job_id: &str,
        result: &Value,
        metrics: &Value,
        receipt: &Value,
    ) -> Result<Value, ClientError> {
        self.receipted(job_id, "result", result, metrics, receipt)
            .await
    }

    /// Reports the output and usage of a job its client canceled while it ran here, with the
    /// receipt for the GPU time so far, which the client pays; returns the attested receipt.
    pub async fn usage(
        &self,
        job_id: &str,
        output: &Value,
        metrics: &Value,
        receipt: &Value,
    ) -> Result<Value, ClientError> {
        self.receipted(job_id, "usage", output, metrics, receipt)
            .await
    }

    async fn receipted(
        &self,
        job_id: &str,
        route: &str,
        result: &Value,
        metrics: &Value,
        receipt: &Value,
    ) -> Result<Value, ClientError> {
        let answer = self
            .post(
                &format!("/miners/{job_id}/{route}"),
                &json!({ "result": result, "metrics": metrics, "receipt": receipt }),
                Duration::from_secs(30),
            )
            .await?
            .unwrap_or_default();
        Ok(answer["receipt"].clone())
    }

    /// Sends the output so far of a job that streams; refused once the job no longer runs on
    /// this miner (the client canceled it, it expired).
    pub async fn progress(&self, job_id: &str, partial: &Value) -> Result<(), ClientError> {
        self.post(
            &format!("/miners/{job_id}/progress"),
            &json!({ "partial": partial }),
            // Short: the job's stream waits while an update is sent.
            Duration::from_secs(2),
        )
        .await
        .map(drop)
    }

    pub async fn fail(
        &self,
        job_id: &str,
        code: &str,
        message: &str,
        metrics: &Value,
    ) -> Result<(), ClientError> {
        self.post(
            &format!("/miners/{job_id}/fail"),
            &json!({ "error_code": code, "error_message": message, "metrics": metrics }),
            Duration::from_secs(30),
        )
        .await
        .map(drop)
    }
}
