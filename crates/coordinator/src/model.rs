//! The coordinator's records and their states: jobs (with the lifecycle QUEUED → RUNNING → COMPLETED / FAILED / CANCELED / EXPIRED), miners and API keys, as stored and as the API shows them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::matching::{Capabilities, Constraints};

/// Where a job is in its life. The string forms are the earlier API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Queued,
    Running,
    Completed,
    Failed,
    Canceled,
    Expired,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
        JobState::Canceled,
        JobState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Canceled => "CANCELED",
            JobState::Expired => "EXPIRED",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    pub client_id: String,
    pub state: JobState,
    pub payload: Value,
    pub constraints: Constraints,
    pub priority: i32,
    pub ttl_seconds: i64,
    pub requested_at: i64,
    pub expires_at: i64,
    pub assigned_miner_id: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// How many times a miner took it.
    pub attempts: i32,
    pub result: Option<Value>,
    pub metrics: Option<Value>,
    pub error: Option<String>,
    pub receipt_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the submitted body, to tell a retry from a different job under the same key.
    pub body_hash: String,
    pub partial: Option<Value>,
    pub progress: Option<i32>,
    /// The escrow of a paid job; `None` for an unpaid one.
    pub payment: Option<crate::payments::Payment>,
    pub payment_status: Option<crate::payments::PaymentStatus>,
}

#[cfg(test)]
impl Job {
    /// A job as unit tests start from: client `alice`'s, running on `miner` since 2 ms.
    pub(crate) fn running_for_tests(id: &str, miner: &str) -> Job {
        Job {
            id: id.into(),
            client_id: "alice".into(),
            state: JobState::Running,
            payload: serde_json::json!({}),
            constraints: Default::default(),
            priority: 0,
            ttl_seconds: 60,
            requested_at: 1,
            expires_at: 60_001,
            assigned_miner_id: Some(miner.into()),
            lease_expires_at: Some(30_002),
            started_at: Some(2),
            finished_at: None,
            attempts: 1,
            result: None,
            metrics: None,
            error: None,
            receipt_id: None,
            idempotency_key: None,
            body_hash: "00".into(),
            partial: None,
            progress: None,
            payment: None,
            payment_status: None,
        }
    }
}

/// A miner as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Miner {
    pub id: String,
    pub capabilities: Capabilities,
    pub concurrency: i32,
    pub region: Option<String>,
    /// Ed25519 public key (hex) that signs its receipts.
    pub public_key: Option<String>,
    pub payout_address: Option<String>,
    pub status: MinerStatus,
    /// Cleared by an admin to keep a miner from getting work.
    pub enabled: bool,
    pub last_heartbeat: i64,
    pub registered_at: i64,
    pub session_token: String,
    pub metadata: Value,
    pub jobs_completed: i64,
    pub jobs_failed: i64,
    pub total_job_duration_ms: i64,
    pub last_receipt_id: Option<String>,
}

/// Whether a miner is heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MinerStatus {
    Online,
    Offline,
}

impl MinerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MinerStatus::Online => "ONLINE",
            MinerStatus::Offline => "OFFLINE",
        }
    }

    pub fn parse(text: &str) -> MinerStatus {
        if text == "ONLINE" {
            MinerStatus::Online
        } else {
            MinerStatus::Offline
        }
    }
}

/// Who an API key speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Miner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Miner => "miner",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Client, Role::Miner, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// An API key as stored (its secret only as a hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    #[serde(skip)]
    pub key_hash: String,
    pub role: Role,
    pub identity: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}
