//! The job coordinator: clients submit AI jobs, miners register, heartbeat and long-poll for work that matches their capabilities, and return results with receipts they sign, which the coordinator checks and attests. Jobs move through an enforced state machine; a background sweeper expires jobs and re-queues the work of miners that went silent. Storage is SQLite or PostgreSQL (sqlx).

mod dispatch;
mod finished;
pub mod group_commit;
pub mod keys;
mod known;
pub mod ledger;
pub mod market;
pub mod matching;
pub mod model;
mod node_ledger;
pub mod payments;
pub mod rpc_ledger;
mod running;
pub mod sessions;
pub mod store;

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use types::{
    PublicKey, SecretKey, TxBody,
    receipt::{self, JobReceipt},
};

use dispatch::Stored;
pub use ledger::{Ledger, LedgerError, TxState};
pub use matching::{Capabilities, Constraints, matches};
pub use model::{ApiKey, Job, JobState, Miner, MinerStatus, Role};
pub use payments::{Payment, PaymentRequest, PaymentStatus};
pub use store::{Store, StoreError};

/// How the coordinator runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// A job's time to live when the client gives none, in seconds.
    pub default_ttl_seconds: i64,
    pub max_ttl_seconds: i64,
    /// A miner silent for this long is offline and its jobs' leases lapse.
    pub heartbeat_timeout_ms: i64,
    /// How many miners may take a job before it fails for good.
    pub max_attempts: i32,
    /// The longest a poll waits for work.
    pub max_poll_wait: Duration,
    /// How often the sweeper runs.
    pub sweep_every: Duration,
    /// The chain whose token pays for jobs (named in receipts).
    pub chain_id: String,
    /// The coordinator's fee, in hundredths of a percent of a job's price.
    pub fee_bps: u64,
    /// Whether jobs without an escrow are taken (the operator's choice; off by default).
    pub allow_unpaid: bool,
    /// How many blocks past the head an escrow's expiry must at least lie.
    pub min_escrow_blocks: u64,
    /// How long a sign-in challenge may wait for its signature.
    pub challenge_ttl_ms: i64,
    /// How long a browser session lasts.
    pub session_ttl_ms: i64,
    /// How long after a client cancels a running paid job its miner may still report the usage
    /// so far (which the client then pays); the escrow waits that long before a full refund.
    pub usage_grace_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_ttl_seconds: 900,
            max_ttl_seconds: 7 * 86_400,
            heartbeat_timeout_ms: 30_000,
            max_attempts: 3,
            max_poll_wait: Duration::from_secs(30),
            sweep_every: Duration::from_secs(1),
            chain_id: "aitbc-devnet".into(),
            fee_bps: 500,
            allow_unpaid: false,
            min_escrow_blocks: 10,
            challenge_ttl_ms: 5 * 60_000,
            session_ttl_ms: 60 * 60_000,
            usage_grace_ms: 30_000,
        }
    }
}

/// Why a request was refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the job's state or an earlier request.
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The job has not finished yet.
    #[error("the job has not finished")]
    TooEarly,
    /// The caller may not do this (another client's booking, another provider's bid).
    #[error("{0}")]
    Forbidden(String),
    /// A sign-in that did not prove the caller holds the key.
    #[error("{0}")]
    Unauthorized(String),
    /// Something the coordinator depends on (the chain) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// `POST /v1/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    pub payload: Value,
    #[serde(default)]
    pub constraints: Constraints,
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// Higher runs first; FIFO within a priority.
    #[serde(default)]
    pub priority: i32,
    /// The job's id, chosen by the client (a paid job's id is its escrow's job id).
    #[serde(default)]
    pub job_id: Option<String>,
    /// The client's signed escrow lock; required unless the operator takes unpaid jobs.
    #[serde(default)]
    pub payment: Option<PaymentRequest>,
}

/// `POST /v1/miners/register`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterMiner {
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default = "one")]
    pub concurrency: i32,
    #[serde(default)]
    pub region: Option<String>,
    /// Hex Ed25519 public key that signs this miner's receipts.
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub payout_address: Option<String>,
}

fn one() -> i32 {
    1
}

/// A job handed to a miner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assigned {
    pub job_id: String,
    pub payload: Value,
    pub constraints: Constraints,
    /// Who submitted it (named in the receipt).
    pub client: String,
    /// Unix seconds: when the miner took it (the receipt's `started_at`).
    pub started_at: i64,
    /// AITBC base units per GPU second this miner charges (the receipt's `unit_price`).
    pub unit_price: u64,
    pub chain_id: String,
}

/// `POST /v1/miners/{job_id}/result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub result: Value,
    #[serde(default)]
    pub metrics: Value,
    /// The receipt payload the miner signed, with its `signature`.
    pub receipt: Value,
}

/// `POST /v1/miners/{job_id}/fail`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobFailure {
    pub error_code: String,
    pub error_message: String,
    #[serde(default)]
    pub metrics: Value,
}

/// The coordinator; cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    store: Store,
    config: Config,
    /// Miners waiting in long polls, handed each job that becomes ready.
    waiters: Arc<dispatch::Waiters>,
    /// Queued jobs as polls know them, so that a poll only claims.
    queue: Arc<known::KnownQueue>,
    /// Miners as polls read them a moment ago.
    miners: Arc<known::KnownMiners>,
    /// Attests receipts and settles escrows.
    key: Arc<SecretKey>,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// The chain that holds escrows; without one only unpaid jobs run.
    ledger: Option<Arc<dyn Ledger>>,
    /// Held while settling, so settlements take consecutive nonces.
    settling: Arc<tokio::sync::Mutex<()>>,
    /// API keys recently presented.
    keys: Arc<keys::KeyCache>,
    /// Clients waiting for their jobs to finish.
    finished: Arc<finished::Finished>,
    /// Jobs handed to miners here, which their reports are checked against.
    running: Arc<running::RunningHere>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch.
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

impl Coordinator {
    pub fn new(store: Store, config: Config, key: SecretKey) -> Self {
        Coordinator {
            store,
            config,
            waiters: Arc::default(),
            queue: Arc::default(),
            miners: Arc::default(),
            key: Arc::new(key),
            clock: Arc::new(system_now),
            ledger: None,
            settling: Arc::default(),
            keys: Arc::default(),
            finished: Arc::default(),
            running: Arc::default(),
        }
    }

    /// The same coordinator taking payments on `ledger`.
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The same coordinator reading time from `clock` (milliseconds), for tests.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// API keys: looked up, revoked and rotated through a cache of recently presented keys.
    pub fn keys(&self) -> &keys::KeyCache {
        &self.keys
    }

    /// The height of the chain's head, when the coordinator has a chain and it answers.
    pub async fn head_height(&self) -> Option<u64> {
        self.ledger.as_ref()?.head_height().await.ok()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The key that attests receipts.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    // --- clients --------------------------------------------------------------------------

    /// Queues a job. With an idempotency key, the same body again returns the first job and a
    /// different body is a conflict.
    pub async fn submit(
        &self,
        client_id: &str,
        request: SubmitJob,
        idempotency_key: Option<String>,
    ) -> Result<Job, Error> {
        if !request.payload.is_object() {
            return Err(invalid("payload", "must be a JSON object"));
        }
        let ttl = request
            .ttl_seconds
            .unwrap_or(self.config.default_ttl_seconds);
        if !(1..=self.config.max_ttl_seconds).contains(&ttl) {
            return Err(invalid(
                "ttl_seconds",
                format!("must be from 1 to {}", self.config.max_ttl_seconds),
            ));
        }
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 128)
        {
            return Err(invalid("Idempotency-Key", "must be 1 to 128 characters"));
        }
        let body_hash = receipt::value_hash(
            &serde_json::to_value(&request).map_err(|e| invalid("body", e.to_string()))?,
        );
        if let Some(key) = &idempotency_key
            && let Some(existing) = self.store.job_by_key(client_id, key).await?
        {
            let job = same_body(existing, &body_hash)?;
            self.resend_unseen_lock(&job).await;
            return Ok(job);
        }
        let id = match (&request.payment, &request.job_id) {
            (Some(payment), chosen) => {
                let TxBody::EscrowLock { terms, .. } = &payment.escrow_lock.tx.body else {
                    return Err(invalid(
                        "payment.escrow_lock",
                        "must be an escrow_lock transaction",
                    ));
                };
                if chosen.as_ref().is_some_and(|c| *c != terms.job_id) {
                    return Err(invalid("job_id", "differs from the escrow's job id"));
                }
                terms.job_id.clone()
            }
            (None, Some(chosen)) => chosen.clone(),
            // In time order, so that jobs' ids fill their index from its end.
            (None, None) => types::id::uuid_v7_hex(system_now() as u64, rand::random()),
        };
        if id.is_empty()
            || id.len() > types::tx::MAX_JOB_ID_LEN
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("job_id", "1 to 128 letters, digits, '-' or '_'"));
        }
        if request.payment.is_none() && !self.config.allow_unpaid {
            return Err(invalid(
                "payment",
                "this coordinator takes paid jobs only: send a signed escrow lock",
            ));
        }
        // Before the lock is checked on chain; otherwise the insert tells.
        if request.payment.is_some() && self.store.job(&id).await?.is_some() {
            return Err(Error::Conflict(format!("job {id} exists")));
        }
        let payment = match &request.payment {
            Some(request) => Some(self.check_payment(&id, request).await?),
            None => None,
        };
        let now = self.now();
        let job = Job {
            id,
            client_id: client_id.to_owned(),
            state: JobState::Queued,
            payload: request.payload,
            constraints: request.constraints,
            priority: request.priority,
            ttl_seconds: ttl,
            requested_at: now,
            expires_at: now + ttl * 1_000,
            assigned_miner_id: None,
            lease_expires_at: None,
            started_at: None,
            finished_at: None,
            attempts: 0,
            result: None,
            metrics: None,
            error: None,
            receipt_id: None,
            idempotency_key: idempotency_key.clone(),
            body_hash: body_hash.clone(),
            partial: None,
            progress: None,
            payment_status: payment.as_ref().map(|_| PaymentStatus::Locking),
            payment,
        };
        let stored = self.store_new(&job).await?;
        if matches!(stored, Stored::Exists) {
            // Another request with the same key got there first, or the id is taken.
            let existing = match &idempotency_key {
                Some(key) => self.store.job_by_key(client_id, key).await?,
                None => None,
            };
            return match existing {
                Some(existing) => same_body(existing, &body_hash),
                None => Err(Error::Conflict(format!("job {} exists", job.id))),
            };
        }
        // Stored first, then sent: after a crash in between, the stored lock is sent again.
        self.send_lock(&job).await?;
        if matches!(stored, Stored::Taken) {
            // The waiting miner's answer goes out before this one: the job's result waits for
            // the miner, not for the submitter hearing back.
            tokio::task::yield_now().await;
        }
        if matches!(stored, Stored::Queued)
            && let Err(error) = self.offer(job.clone()).await
        {
            // Stored and acknowledged; the next sweep offers it again.
            tracing::warn!(job = %job.id, %error, "could not offer a new job to waiting miners");
        }
        Ok(job)
    }

    /// The client's job `id` (another client's job does not exist for it).
    pub async fn client_job(&self, client_id: &str, id: &str) -> Result<Job, Error> {
        match self.store.job(id).await? {
            Some(job) if job.client_id == client_id => Ok(job),
            _ => Err(Error::NotFound(format!("job {id}"))),
        }
    }

    pub async fn cancel(&self, client_id: &str, id: &str) -> Result<Job, Error> {
        let job = self.client_job(client_id, id).await?;
        if !self.store.cancel(id, client_id, self.now()).await? {
            return Err(Error::Conflict(format!(
                "the job is {} and can no longer be canceled",
                job.state.as_str()
            )));
        }
        self.ended_here(id);
        self.client_job(client_id, id).await
    }

    /// The result and latest receipt of a finished job.
    pub async fn result(&self, client_id: &str, id: &str) -> Result<(Job, Option<Value>), Error> {
        let (job, receipt) = match self.store.job_with_receipt(id).await? {
            Some((job, receipt)) if job.client_id == client_id => (job, receipt),
            _ => return Err(Error::NotFound(format!("job {id}"))),
        };
        if !job.state.is_terminal() {
            return Err(Error::TooEarly);
        }
        Ok((job, receipt))
    }

    /// The same once the job has finished, waiting up to `wait` (at most
    /// [`Config::max_poll_wait`]) for it: answered the moment the job finishes on this instance,
    /// within a second when another instance finishes it; [`Error::TooEarly`] if it runs on.
    pub async fn wait_result(
        &self,
        client_id: &str,
        id: &str,
        wait: Duration,
    ) -> Result<(Job, Option<Value>), Error> {
        if wait.is_zero() {
            return self.result(client_id, id).await;
        }
        let deadline = tokio::time::Instant::now() + wait.min(self.config.max_poll_wait);
        let watch = self.finished.watch(id);
        let mut first = true;
        loop {
            let finished = watch.signal().notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            // At first, a job handed to a miner here and not yet back needs no read: it has not
            // finished, or it finished elsewhere (found by the read a second later). Asked only
            // now that the signal is armed: every end here forgets the job there before it
            // fires, so an end after this answer still wakes this wait.
            let running_here = first && self.running.runs_for(id, client_id);
            first = false;
            if !running_here {
                match self.result(client_id, id).await {
                    Err(Error::TooEarly) if tokio::time::Instant::now() < deadline => {}
                    outcome => return outcome,
                }
            }
            let again = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
            tokio::select! {
                () = finished => {}
                () = tokio::time::sleep_until(again) => {}
            }
            // Finished here: the signal carries the job, no need to read it back.
            if let Some(outcome) = watch.outcome()
                && outcome.0.client_id == client_id
            {
                return Ok(outcome.as_ref().clone());
            }
        }
    }

    pub async fn receipts(&self, client_id: &str, id: &str) -> Result<Vec<Value>, Error> {
        self.client_job(client_id, id).await?;
        Ok(self.store.receipts_of(id).await?)
    }

    // --- miners ---------------------------------------------------------------------------

    /// Registers the miner `miner_id` (the identity of its key); returns its session token.
    pub async fn register(&self, miner_id: &str, request: RegisterMiner) -> Result<String, Error> {
        if !(1..=256).contains(&request.concurrency) {
            return Err(invalid("concurrency", "must be from 1 to 256"));
        }
        if let Some(key) = &request.public_key
            && PublicKey::from_hex(key).is_err()
        {
            return Err(invalid(
                "public_key",
                "must be a 32-byte Ed25519 key in hex",
            ));
        }
        if let Some(address) = &request.payout_address
            && types::Address::parse(address).is_err()
        {
            return Err(invalid("payout_address", "must be an ait1… address"));
        }
        let now = self.now();
        let token = random_hex(16);
        let capabilities = request.capabilities.normalized();
        let region = request.region.or_else(|| capabilities.region.clone());
        self.store
            .upsert_miner(&Miner {
                id: miner_id.to_owned(),
                capabilities: Capabilities {
                    region: region.clone(),
                    ..capabilities
                },
                concurrency: request.concurrency,
                region,
                public_key: request.public_key,
                payout_address: request.payout_address,
                status: MinerStatus::Online,
                enabled: true,
                last_heartbeat: now,
                registered_at: now,
                session_token: token.clone(),
                metadata: Value::Object(Default::default()),
                jobs_completed: 0,
                jobs_failed: 0,
                total_job_duration_ms: 0,
                last_receipt_id: None,
            })
            .await?;
        // Its polls here match jobs against what it registered now.
        self.miners.forget(miner_id);
        Ok(token)
    }

    /// A miner leaving: it is offline (no jobs are offered to it) until it registers or beats
    /// again, and any job it still holds goes back to the queue at the next sweep.
    pub async fn deregister(&self, miner_id: &str) -> Result<(), Error> {
        if !self.store.go_offline(miner_id).await? {
            return Err(Error::NotFound(format!("miner {miner_id}")));
        }
        self.store.drop_leases_of_offline(self.now()).await?;
        Ok(())
    }

    pub async fn heartbeat(&self, miner_id: &str, metadata: Value) -> Result<(), Error> {
        let now = self.now();
        if !self
            .store
            .heartbeat(
                miner_id,
                &metadata,
                now,
                now + self.config.heartbeat_timeout_ms,
            )
            .await?
        {
            return Err(Error::NotFound(format!(
                "miner {miner_id} (register first)"
            )));
        }
        Ok(())
    }

    /// Offers the queue to the waiting miners, after something freed one of them; a failure
    /// only delays that until the next sweep.
    pub(crate) async fn redispatch(&self) {
        if let Err(error) = self.dispatch().await {
            tracing::warn!(%error, "could not offer queued jobs to waiting miners");
        }
    }

    /// The job `job_id` and the receipt terms of `miner_id`, read together: what a miner's
    /// report is checked against.
    async fn reported_job(
        &self,
        miner_id: &str,
        job_id: &str,
    ) -> Result<(Job, Option<store::ReceiptTerms>), Error> {
        self.store
            .job_and_terms(job_id, miner_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("job {job_id}")))
    }

    /// The job `job_id` as running on `miner_id` (with the miner's receipt terms), or why not.
    async fn running_job(
        &self,
        miner_id: &str,
        job_id: &str,
    ) -> Result<(Job, Option<store::ReceiptTerms>), Error> {
        let (job, terms) = self.reported_job(miner_id, job_id).await?;
        if job.state != JobState::Running || job.assigned_miner_id.as_deref() != Some(miner_id) {
            return Err(Error::Conflict(format!(
                "job {job_id} is {} and not running on this miner",
                job.state.as_str()
            )));
        }
        Ok((job, terms))
    }

    /// Accepts a result from the miner running the job: its receipt must be the one the job's
    /// facts determine, signed with the key the miner registered. The coordinator then attests
    /// it. Returns the receipt.
    pub async fn complete(
        &self,
        miner_id: &str,
        job_id: &str,
        mut result: JobResult,
    ) -> Result<Value, Error> {
        let now = self.now();
        // The job as handed out here, else as stored; a receipt that does not fit the job as
        // handed out (the miner took the job again elsewhere) is checked against the stored
        // one, and so is the job when the finish finds it not running as handed out or the
        // miner holding another key now (given back and taken again, or registered anew).
        let remembered = self
            .running
            .take(job_id, miner_id)
            .and_then(|(job, terms)| {
                let signer = terms.public_key.clone();
                let attested = self
                    .attest(&job, miner_id, Some(terms), &result, now)
                    .ok()?;
                Some((job, signer, attested))
            });
        let from_memory = remembered.is_some();
        let (mut job, signer, attested) = match remembered {
            Some(known) => known,
            None => self.attest_stored(miner_id, job_id, &result, now).await?,
        };
        // The finish lands only while the key that signed is the one the miner registered.
        let finish_of = |job: &Job, signer, attested, result: &mut JobResult| store::Finish {
            job_id: job_id.to_owned(),
            miner_id: miner_id.to_owned(),
            state: JobState::Completed,
            result: Some(std::mem::take(&mut result.result)),
            metrics: Some(std::mem::take(&mut result.metrics)),
            error: None,
            receipt: Some(attested),
            started_at: job.started_at.unwrap_or_default(),
            signer,
            now,
        };
        let mut finish = finish_of(&job, signer, attested, &mut result);
        if !self.store.finish(&finish).await? {
            let finished_meanwhile = || Error::Conflict(format!("job {job_id} finished meanwhile"));
            if !from_memory {
                return Err(finished_meanwhile());
            }
            // Checked again against the job as stored, with the result as it came.
            result.result = finish.result.take().unwrap_or_default();
            result.metrics = finish.metrics.take().unwrap_or_default();
            let (stored, signer, attested) =
                self.attest_stored(miner_id, job_id, &result, now).await?;
            job = stored;
            finish = finish_of(&job, signer, attested, &mut result);
            if !self.store.finish(&finish).await? {
                return Err(finished_meanwhile());
            }
        }
        let receipt = finish
            .receipt
            .as_ref()
            .map(|(_, receipt, _)| receipt.clone())
            .unwrap_or_default();
        // Its waiting clients get the job as the finish left it in the database.
        let store::Finish {
            state,
            result,
            metrics,
            error,
            receipt: stored,
            ..
        } = finish;
        let awaited = self.finished.fire_with(job_id, || {
            let job = Job {
                state,
                result,
                metrics,
                error,
                receipt_id: stored.as_ref().map(|(id, _, _)| id.clone()),
                finished_at: Some(now),
                lease_expires_at: None,
                ..job
            };
            (job, stored.map(|(_, receipt, _)| receipt))
        });
        if awaited {
            // Its waiting clients hear first; the miner's answer only lets it poll again.
            tokio::task::yield_now().await;
        }
        self.slot_freed(miner_id).await;
        Ok(receipt)
    }

    /// The job `job_id` as stored, running on `miner_id`, the key the miner registered, and its
    /// result's receipt attested.
    async fn attest_stored(
        &self,
        miner_id: &str,
        job_id: &str,
        result: &JobResult,
        now: i64,
    ) -> Result<(Job, Option<String>, (String, Value, String)), Error> {
        let (job, terms) = self.running_job(miner_id, job_id).await?;
        let signer = terms.as_ref().and_then(|t| t.public_key.clone());
        let attested = self.attest(&job, miner_id, terms, result, now)?;
        Ok((job, signer, attested))
    }

    /// The usage of a job its client canceled while it ran on `miner_id`: the output so far and
    /// a receipt for the GPU time until the cancel, checked and attested like a result's. The
    /// job stays canceled; its escrow pays the receipt's price and refunds the rest. Taken
    /// within [`Config::usage_grace_ms`] of the cancel, once.
    pub async fn report_usage(
        &self,
        miner_id: &str,
        job_id: &str,
        usage: JobResult,
    ) -> Result<Value, Error> {
        let (job, terms) = self.reported_job(miner_id, job_id).await?;
        let (Some(canceled_at), Some(_)) = (job.finished_at, job.started_at) else {
            return Err(not_canceled_here(&job));
        };
        if job.state != JobState::Canceled || job.assigned_miner_id.as_deref() != Some(miner_id) {
            return Err(not_canceled_here(&job));
        }
        let now = self.now();
        if job.receipt_id.is_some() || now - canceled_at > self.config.usage_grace_ms {
            return Err(Error::Conflict(format!(
                "job {job_id}: its usage was reported already or came too late"
            )));
        }
        let (receipt_id, receipt, hash) =
            self.attest(&job, miner_id, terms, &usage, canceled_at)?;
        let taken = self
            .store
            .record_usage(&store::Usage {
                job_id: job_id.to_owned(),
                miner_id: miner_id.to_owned(),
                output: usage.result,
                metrics: usage.metrics,
                receipt: (receipt_id, receipt.clone(), hash),
                not_canceled_before: now - self.config.usage_grace_ms,
                now,
            })
            .await?;
        if !taken {
            return Err(Error::Conflict(format!(
                "job {job_id}: its usage was reported already or came too late"
            )));
        }
        Ok(receipt)
    }

    /// Checks the receipt a miner signed for `job`, which ran until `ended_ms` at the latest,
    /// and attests it: the receipt's id, the attested receipt and its hash.
    fn attest(
        &self,
        job: &Job,
        miner_id: &str,
        terms: Option<store::ReceiptTerms>,
        result: &JobResult,
        ended_ms: i64,
    ) -> Result<(String, Value, String), Error> {
        let terms = terms.ok_or_else(|| Error::NotFound(format!("miner {miner_id}")))?;
        let key = terms
            .public_key
            .as_deref()
            .and_then(|k| PublicKey::from_hex(k).ok())
            .ok_or_else(|| invalid("receipt", "register a public_key to sign receipts with"))?;
        let claimed = claim_of(&result.receipt)?;
        let now = self.now();
        let started_ms = job.started_at.unwrap_or(now);
        let expected = JobReceipt {
            receipt_id: claimed.receipt_id.clone(),
            job_id: job.id.clone(),
            provider: miner_id.to_owned(),
            client: job.client_id.clone(),
            units_ms: claimed.units_ms,
            unit_price: terms.price_per_unit,
            started_at: (started_ms / 1_000) as u64,
            completed_at: claimed.completed_at,
            result_hash: receipt::value_hash(&result.result),
            chain_id: self.config.chain_id.clone(),
        };
        let ran_ms = ended_ms - started_ms;
        if claimed.units_ms as i64 > ran_ms.max(0) + 1_000 {
            return Err(invalid(
                "receipt.units",
                "more GPU time than the job has run",
            ));
        }
        if (claimed.completed_at as i64) < expected.started_at as i64
            || claimed.completed_at as i64 > now / 1_000 + 5
        {
            return Err(invalid("receipt.completed_at", "outside the job's run"));
        }
        // One canonical text serves the comparison, the miner's signature, the attestation
        // and the hash: the payload is the signed part of the receipt it becomes.
        let mut receipt = expected.payload();
        let text = receipt::canonical_json(&receipt);
        if text != receipt::signed_text(&result.receipt) {
            return Err(invalid(
                "receipt",
                "does not match the job (id, provider, client, price, times or result hash)",
            ));
        }
        let signature = result
            .receipt
            .get("signature")
            .ok_or_else(|| invalid("receipt.signature", "missing"))?;
        let by_miner = serde_json::from_value::<receipt::ReceiptSignature>(signature.clone())
            .is_ok_and(|s| s.key() == Some(key) && s.verifies(text.as_bytes()));
        if !by_miner {
            return Err(invalid(
                "receipt.signature",
                "not a signature by the miner's registered key",
            ));
        }
        receipt["signature"] = signature.clone();
        receipt["attestations"] = serde_json::json!([receipt::sign_signed_text(&text, &self.key)]);
        let hash = receipt::hash_of_signed_text(&text).to_hex();
        Ok((claimed.receipt_id, receipt, hash))
    }

    /// A failure reported by the miner running the job.
    pub async fn fail(
        &self,
        miner_id: &str,
        job_id: &str,
        failure: JobFailure,
    ) -> Result<(), Error> {
        let job = match self.running.take(job_id, miner_id) {
            Some((job, _)) => job,
            None => self.running_job(miner_id, job_id).await?.0,
        };
        let finished = self
            .store
            .finish(&store::Finish {
                job_id: job_id.to_owned(),
                miner_id: miner_id.to_owned(),
                state: JobState::Failed,
                result: None,
                metrics: Some(failure.metrics),
                error: Some(format!("{}: {}", failure.error_code, failure.error_message)),
                receipt: None,
                started_at: job.started_at.unwrap_or_default(),
                signer: None,
                now: self.now(),
            })
            .await?;
        if !finished {
            return Err(Error::Conflict(format!("job {job_id} finished meanwhile")));
        }
        self.finished.fire(job_id);
        self.slot_freed(miner_id).await;
        Ok(())
    }

    /// Progress (0–100) and partial output of a long job.
    pub async fn progress(
        &self,
        miner_id: &str,
        job_id: &str,
        progress: Option<i32>,
        partial: Option<Value>,
    ) -> Result<(), Error> {
        if progress.is_some_and(|p| !(0..=100).contains(&p)) {
            return Err(invalid("progress", "must be from 0 to 100"));
        }
        if !self
            .store
            .progress(job_id, miner_id, progress, partial.as_ref())
            .await?
        {
            return Err(Error::Conflict(format!(
                "job {job_id} is not running on this miner"
            )));
        }
        Ok(())
    }

    // --- upkeep ---------------------------------------------------------------------------

    /// Job `id` ended here without its miner's report (canceled, expired, its miner silent too
    /// often): no longer running here (its miner's report, should one come, reads the job back),
    /// and its waiting clients hear of it.
    fn ended_here(&self, id: &str) {
        self.running.forget(id);
        self.finished.fire(id);
    }

    /// One round of upkeep: expire jobs whose time is up, take silent miners offline and give
    /// their jobs back to the queue, settle payments, and checkpoint the database.
    pub async fn sweep(&self) -> Result<Sweep, Error> {
        let now = self.now();
        self.running.sweep();
        let expired = self.store.expire_due(now).await?;
        for id in &expired {
            self.ended_here(id);
        }
        let expired = expired.len();
        self.store.delete_expired_sign_ins(now).await?;
        let offline = self
            .store
            .mark_silent(now - self.config.heartbeat_timeout_ms)
            .await?
            .len();
        if offline > 0 {
            self.store.drop_leases_of_offline(now).await?;
        }
        let (requeued, failed) = self
            .store
            .release_lapsed(now, self.config.max_attempts)
            .await?;
        for id in &failed {
            self.ended_here(id);
        }
        let settled = match self.settle().await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, "settling payments failed; trying again next round");
                0
            }
        };
        if offline > 0 || requeued > 0 {
            // Jobs given back are claimable again at once, however recently they were claimed.
            self.waiters.forget_claims();
        }
        // Jobs given back, locks that reached a block, bookings that ended, and jobs other
        // instances queued: known to this instance's polls and offered to its waiting miners.
        self.refresh_queue().await?;
        if let Err(error) = self.store.checkpoint().await {
            tracing::warn!(%error, "checkpointing the database failed; trying again next round");
        }
        Ok(Sweep {
            expired,
            offline,
            requeued,
            settled,
        })
    }

    /// Sweeps every [`Config::sweep_every`] until the future is dropped.
    pub async fn run_sweeper(self) {
        let mut tick = tokio::time::interval(self.config.sweep_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.sweep().await {
                Ok(s) if s.expired + s.offline + s.requeued as usize + s.settled > 0 => {
                    tracing::info!(
                        expired = s.expired,
                        offline = s.offline,
                        requeued = s.requeued,
                        settled = s.settled,
                        "swept"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "sweep failed"),
            }
        }
    }
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub expired: usize,
    pub offline: usize,
    pub requeued: u64,
    /// Payments that moved on (locked, settled).
    pub settled: usize,
}

fn not_canceled_here(job: &Job) -> Error {
    Error::Conflict(format!(
        "job {} is {} and was not canceled while running on this miner",
        job.id,
        job.state.as_str()
    ))
}

fn same_body(existing: Job, body_hash: &str) -> Result<Job, Error> {
    if existing.body_hash == body_hash {
        Ok(existing)
    } else {
        Err(Error::Conflict(
            "the idempotency key was used for a different job".into(),
        ))
    }
}

/// What only the miner knows of its receipt: the receipt id, the GPU time and when it finished.
/// Every other field follows from the job and is checked by comparing the whole payload.
struct Claim {
    receipt_id: String,
    units_ms: u64,
    completed_at: u64,
}

fn claim_of(receipt: &Value) -> Result<Claim, Error> {
    let receipt_id = receipt
        .get("receipt_id")
        .and_then(Value::as_str)
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| invalid("receipt.receipt_id", "must be 32 hex digits"))?;
    let units = receipt
        .get("units")
        .and_then(Value::as_f64)
        .filter(|u| u.is_finite() && *u >= 0.0)
        .ok_or_else(|| invalid("receipt.units", "must be a number of GPU seconds"))?;
    let completed_at = receipt
        .get("completed_at")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("receipt.completed_at", "must be unix seconds"))?;
    Ok(Claim {
        receipt_id: receipt_id.to_owned(),
        units_ms: (units * 1_000.0).round() as u64,
        completed_at,
    })
}
