//! The miner's loop: register, keep the heartbeat, long-poll for jobs on as many slots as the concurrency allows, run each on the backend, report the result with a signed receipt (or the failure), retry through coordinator outages with backoff and jitter, and drain on shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::{sync::watch, time::Instant};
use types::{
    Address, SecretKey,
    receipt::{JobReceipt, sign, value_hash},
};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::{
    backend::{Backend, BackendError, Output, Progress, Usage},
    client::{Assigned, ClientError, CoordinatorClient},
    gpu::Gpu,
};

/// One GPU as the miner advertises it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GpuInfo {
    pub name: String,
    pub memory_mb: u64,
}

impl From<&Gpu> for GpuInfo {
    fn from(gpu: &Gpu) -> Self {
        GpuInfo {
            name: gpu.name.clone(),
            memory_mb: gpu.memory_mb,
        }
    }
}

/// How a miner runs.
#[derive(Clone, Debug)]
pub struct MinerConfig {
    /// The coordinator's root URL.
    pub coordinator: String,
    /// A miner API key issued by the coordinator's admin.
    pub api_key: String,
    /// Signs this miner's receipts; its public key is registered.
    pub key: SecretKey,
    /// Where payments for this miner's jobs go.
    pub payout_address: Option<Address>,
    pub gpus: Vec<GpuInfo>,
    pub cuda: Option<String>,
    pub models: Vec<String>,
    /// Base units per GPU second.
    pub price_per_unit: u64,
    pub region: Option<String>,
    /// Jobs run at once.
    pub concurrency: usize,
    pub heartbeat_every: Duration,
    /// The longest each long poll waits.
    pub poll_wait: Duration,
    /// The longest one job may run before it is stopped and reported as timed out.
    pub job_timeout: Duration,
    /// The model a job that names none runs on.
    pub default_model: Option<String>,
    /// Where GPUs were detected, the nvidia-smi that reads them afresh for each heartbeat.
    pub nvidia_smi: Option<String>,
}

/// A miner: its configuration, its coordinator and its backend.
pub struct Miner {
    config: MinerConfig,
    client: CoordinatorClient,
    backend: Arc<dyn Backend>,
}

/// The first retry waits about this long; each later one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a finished job's report is retried while the coordinator cannot be reached: past
/// this its lease has long lapsed and the job went to another miner.
const REPORT_PATIENCE: Duration = Duration::from_secs(300);

/// Exponential backoff with full jitter (a random wait up to the current ceiling).
struct Backoff {
    ceiling: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            ceiling: FIRST_BACKOFF,
        }
    }

    fn next(&mut self) -> Duration {
        let wait = self.ceiling.mul_f64(rand::rng().random_range(0.5..=1.0));
        self.ceiling = (self.ceiling * 2).min(MAX_BACKOFF);
        wait
    }
}

impl Miner {
    pub fn new(config: MinerConfig, backend: Arc<dyn Backend>) -> Self {
        let client = CoordinatorClient::new(&config.coordinator, &config.api_key);
        Miner {
            config,
            client,
            backend,
        }
    }

    /// What the miner registers with.
    fn registration(&self) -> Value {
        let c = &self.config;
        json!({
            "capabilities": {
                "gpus": c.gpus,
                "cuda": c.cuda,
                "models": c.models,
                "price_per_unit": c.price_per_unit,
                "region": c.region,
            },
            "concurrency": c.concurrency,
            "region": c.region,
            "public_key": c.key.public_key().to_hex(),
            "payout_address": c.payout_address.map(|a| a.to_string()),
        })
    }

    /// Runs until `shutdown` completes, then stops taking jobs, finishes (and reports) the ones
    /// it holds, and returns. Fails only when the coordinator refuses the registration.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (stop_tx, stop) = watch::channel(false);
        let registration = self.registration();
        let mut shutdown = std::pin::pin!(shutdown);
        let miner_id = tokio::select! {
            id = retrying(&stop, "register", || self.client.register(&registration)) => id,
            () = &mut shutdown => return Ok(()),
        };
        let Some(miner_id) = miner_id.map_err(|e| anyhow::anyhow!("register: {e}"))? else {
            return Ok(());
        };
        tracing::info!(
            miner_id,
            backend = self.backend.name(),
            concurrency = self.config.concurrency,
            "registered with {}",
            self.config.coordinator
        );
        let miner = Arc::new(Worker {
            miner_id,
            config: self.config,
            client: self.client,
            backend: self.backend,
        });
        // Heartbeats go on until the last job in hand is reported: a draining miner that fell
        // silent would lose its jobs' leases and its results would be refused.
        let (beats_done, beats_stop) = watch::channel(false);
        let heartbeats = tokio::spawn(miner.clone().heartbeats(beats_stop));
        let mut slots = tokio::task::JoinSet::new();
        for _ in 0..miner.config.concurrency.max(1) {
            slots.spawn(miner.clone().slot(stop.clone()));
        }
        shutdown.await;
        tracing::info!("stopping: finishing the jobs in hand");
        let _ = stop_tx.send(true);
        while slots.join_next().await.is_some() {}
        let _ = beats_done.send(true);
        let _ = heartbeats.await;
        // Offline at once rather than after the heartbeat timeout: no job is offered to a
        // miner that is gone.
        match miner.client.deregister().await {
            Ok(()) => tracing::info!("stopped and deregistered"),
            Err(e) => tracing::warn!(
                "stopped; deregistering failed ({e}): the coordinator will notice the silence"
            ),
        }
        Ok(())
    }
}

/// Calls `call` until it succeeds, is refused, or `stop` is set (then `Ok(None)`), waiting with
/// backoff between transient failures.
async fn retrying<T, F, Fut>(
    stop: &watch::Receiver<bool>,
    what: &str,
    mut call: F,
) -> Result<Option<T>, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut backoff = Backoff::new();
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        match call().await {
            Ok(value) => return Ok(Some(value)),
            Err(e) if e.is_transient() => {
                let wait = backoff.next();
                tracing::warn!("{what}: {e}; retrying in {} ms", wait.as_millis());
                let mut stop = stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// How often the output so far of a streaming job is sent to the coordinator.
const PARTIAL_EVERY: Duration = Duration::from_millis(250);

/// The most text one partial-output update carries: the end of a longer output.
const PARTIAL_MAX_BYTES: usize = 64 * 1024;

/// The partial output for `text`: all of it, or its last [`PARTIAL_MAX_BYTES`] with the whole
/// length (the result carries everything).
fn partial_of(text: &str) -> Value {
    if text.len() <= PARTIAL_MAX_BYTES {
        return json!({ "output": text });
    }
    let mut start = text.len() - PARTIAL_MAX_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    json!({ "output": &text[start..], "truncated": true, "output_bytes": text.len() })
}

/// How a backend run ended.
enum Ran {
    Done(Result<Output, BackendError>),
    /// The coordinator refused the output so far: the job no longer runs here. With the output
    /// until then.
    Withdrawn {
        why: String,
        output: String,
    },
    TimedOut,
}

/// A registered miner's running parts, shared by its tasks.
struct Worker {
    miner_id: String,
    config: MinerConfig,
    client: CoordinatorClient,
    backend: Arc<dyn Backend>,
}

impl Worker {
    async fn heartbeats(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.heartbeat_every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let mut metadata = json!({ "backend": self.backend.name() });
            if let Some(program) = self.config.nvidia_smi.clone() {
                // Utilisation and memory in use, read afresh; a slow driver must not delay the
                // beat itself.
                let reading = tokio::task::spawn_blocking(move || crate::gpu::read_gpus(&program));
                if let Ok(Ok(Ok(hw))) = tokio::time::timeout(Duration::from_secs(2), reading).await
                {
                    metadata["gpus"] = json!(hw.gpus);
                }
            }
            if let Err(e) = self.client.heartbeat(&metadata).await {
                tracing::warn!("heartbeat: {e}");
            }
        }
    }

    /// One job at a time: poll, run, report; until stopped.
    async fn slot(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new();
        loop {
            let polled = tokio::select! {
                polled = self.client.poll(self.config.poll_wait) => polled,
                _ = stop.wait_for(|s| *s) => return,
            };
            match polled {
                Ok(Some(job)) => {
                    backoff = Backoff::new();
                    self.work(job).await;
                }
                Ok(None) => backoff = Backoff::new(),
                Err(e) => {
                    let wait = if e.is_transient() {
                        backoff.next()
                    } else {
                        // A refusal (a revoked key, a deactivated miner) will not heal at
                        // once; ask again at the slowest pace.
                        MAX_BACKOFF
                    };
                    tracing::warn!("poll: {e}; again in {} ms", wait.as_millis());
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            }
        }
    }

    /// Runs the job on the backend, sending its output to the coordinator as it streams; stops
    /// the backend when the coordinator withdraws the job or its time is up.
    async fn execute(
        &self,
        job: &Assigned,
        progress: &Progress,
        mut pieces: UnboundedReceiver<String>,
    ) -> Ran {
        let running =
            self.backend
                .run_payload(&job.payload, self.config.default_model.as_deref(), progress);
        tokio::pin!(running);
        let timeout = tokio::time::sleep(self.config.job_timeout);
        tokio::pin!(timeout);
        let mut text = String::new();
        let mut sent = 0;
        // The first update after one period, not at once: a short job's output goes with its
        // result alone, without a round trip that the job would wait for.
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + PARTIAL_EVERY, PARTIAL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                outcome = &mut running => return Ran::Done(outcome),
                () = &mut timeout => return Ran::TimedOut,
                Some(piece) = pieces.recv() => text.push_str(&piece),
                _ = tick.tick(), if text.len() > sent => {
                    match self.client.progress(&job.job_id, &partial_of(&text)).await {
                        Ok(()) => sent = text.len(),
                        // 404 or 409: the job no longer runs here (canceled, expired, given
                        // to another miner).
                        Err(ClientError::Refused { status: 404 | 409, code, message }) => {
                            return Ran::Withdrawn { why: format!("{code}: {message}"), output: text };
                        }
                        // Any other refusal is about the update, not the job: the job goes
                        // on without further updates.
                        Err(e @ ClientError::Refused { .. }) => {
                            tracing::warn!(job_id = job.job_id, "partial output refused ({e}); no more updates");
                            sent = usize::MAX;
                        }
                        // The coordinator is away: the text goes with the next update.
                        Err(_) => {}
                    }
                }
            }
        }
    }

    /// Runs one job and reports how it went, retrying the report through outages.
    async fn work(&self, job: Assigned) {
        let started = Instant::now();
        let (progress, pieces) = Progress::new();
        let ran = self.execute(&job, &progress, pieces).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let metrics = |usage: &Usage| {
            json!({
                "duration_ms": duration_ms,
                "usage": usage,
                "backend": self.backend.name(),
            })
        };
        // A report must reach the coordinator even while the miner drains, so it is retried
        // regardless of the stop signal, for as long as the coordinator could still take it.
        let (give_up, never) = watch::channel(false);
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(REPORT_PATIENCE).await;
            let _ = give_up.send(true);
        });
        let failure = |error: BackendError| {
            let metrics = metrics(&progress.usage());
            let never = never.clone();
            let job_id = job.job_id.as_str();
            async move {
                retrying(&never, "fail", || {
                    self.client
                        .fail(job_id, &error.code, &error.message, &metrics)
                })
                .await
                .map(|sent| sent.map(|()| "failed".to_owned()))
            }
        };
        let reported = match ran {
            Ran::Done(Ok(output)) => {
                let receipt = self.receipt(&job, &output.result, duration_ms);
                let metrics = metrics(&output.usage);
                let sent = retrying(&never, "result", || {
                    self.client
                        .result(&job.job_id, &output.result, &metrics, &receipt)
                })
                .await;
                match sent {
                    Ok(sent) => Ok(sent.map(|_| "completed".to_owned())),
                    // The job stopped running here before it finished; if its client canceled
                    // it, the client pays for the run until then.
                    Err(ClientError::Refused { status: 409, .. }) => self
                        .report_usage(&job, &output.result, &metrics, &receipt, &never)
                        .await
                        .map(|sent| sent.map(|()| "canceled while running; usage reported".into())),
                    // The result itself was refused (too large, a receipt the coordinator will
                    // not attest): the job failed, and the coordinator must hear so rather than
                    // keep it running on this miner.
                    Err(refusal) => {
                        failure(BackendError::new(
                            "RESULT_REFUSED",
                            format!("the coordinator refused the result: {refusal}"),
                        ))
                        .await
                    }
                }
            }
            Ran::Done(Err(error)) => failure(error).await,
            Ran::TimedOut => {
                failure(BackendError::new(
                    "TIMEOUT",
                    format!(
                        "the job ran past this miner's limit of {} s and was stopped",
                        self.config.job_timeout.as_secs()
                    ),
                ))
                .await
            }
            Ran::Withdrawn { why, output } => {
                let usage = progress.usage();
                tracing::info!(
                    job_id = job.job_id,
                    duration_ms,
                    completion_tokens = usage.completion_tokens,
                    "stopped: the coordinator withdrew the job ({why})"
                );
                let output = json!({ "output": output });
                let receipt = self.receipt(&job, &output, duration_ms);
                self.report_usage(&job, &output, &metrics(&usage), &receipt, &never)
                    .await
                    .map(|sent| sent.map(|()| "usage until the stop reported".into()))
            }
        };
        deadline.abort();
        match reported {
            Ok(Some(how)) => tracing::info!(job_id = job.job_id, duration_ms, "{how}"),
            Ok(None) => tracing::warn!(
                job_id = job.job_id,
                "report given up after {} s without a coordinator",
                REPORT_PATIENCE.as_secs()
            ),
            // Refused: the job was taken from this miner meanwhile (its lease lapsed, it
            // expired, it was canceled too long ago); nothing to do but say so.
            Err(e) => tracing::warn!(job_id = job.job_id, "report not taken: {e}"),
        }
    }

    /// Reports the usage of a job that stopped running here: the coordinator takes it when the
    /// client canceled the job, and refuses it when the job went elsewhere or expired.
    async fn report_usage(
        &self,
        job: &Assigned,
        output: &Value,
        metrics: &Value,
        receipt: &Value,
        never: &watch::Receiver<bool>,
    ) -> Result<Option<()>, ClientError> {
        retrying(never, "usage", || {
            self.client.usage(&job.job_id, output, metrics, receipt)
        })
        .await
        .map(|sent| sent.map(drop))
    }

    /// The receipt for `job`, signed with this miner's key.
    fn receipt(&self, job: &Assigned, result: &Value, units_ms: u64) -> Value {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let now = now_ms / 1_000;
        let claim = JobReceipt {
            // In time order, so the coordinator files it on its receipts' last index page.
            receipt_id: types::id::uuid_v7_hex(now_ms, rand::random()),
            job_id: job.job_id.clone(),
            provider: self.miner_id.clone(),
            client: job.client.clone(),
            units_ms,
            unit_price: job.unit_price,
            started_at: job.started_at,
            completed_at: now.max(job.started_at),
            result_hash: value_hash(result),
            chain_id: job.chain_id.clone(),
        };
        let mut receipt = claim.payload();
        receipt["signature"] =
            serde_json::to_value(sign(&receipt, &self.config.key)).unwrap_or(Value::Null);
        receipt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_partial_output_sends_its_end() {
        assert_eq!(partial_of("abc"), json!({ "output": "abc" }));
        let long = "é".repeat(PARTIAL_MAX_BYTES);
        let partial = partial_of(&long);
        let tail = partial["output"].as_str().unwrap_or_default();
        assert!(tail.len() <= PARTIAL_MAX_BYTES && long.ends_with(tail));
        assert_eq!(partial["output_bytes"], long.len());
        assert_eq!(partial["truncated"], true);
    }

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter() {
        let mut backoff = Backoff::new();
        let waits: Vec<Duration> = (0..12).map(|_| backoff.next()).collect();
        assert!(waits[0] <= FIRST_BACKOFF && waits[0] >= FIRST_BACKOFF / 2);
        assert!(waits.iter().all(|w| *w <= MAX_BACKOFF));
        assert!(waits[11] >= MAX_BACKOFF / 2, "{waits:?}");
    }
}
