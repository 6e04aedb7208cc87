//! The coordinator's database through sqlx's `Any` driver: one set of queries, in the SQL that SQLite and PostgreSQL share (`$n` parameters, `RETURNING`, `ON CONFLICT`) wherever one text serves both (a job's claim and finish have one for each), so the embedded default and a shared PostgreSQL behave the same. State changes are compare-and-set updates, so several coordinator instances on one PostgreSQL never hand a job to two miners or finish it twice.

use serde_json::Value;
use sqlx::{
    AnyPool, Row,
    any::{AnyPoolOptions, AnyRow},
};

use crate::{
    group_commit::{GroupCommit, GroupCommits, Write, bind_all},
    model::{ApiKey, Job, JobState, Miner, MinerStatus, Role},
    payments::{Payment, PaymentStatus},
};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a database task stopped: {0}")]
    Stopped(String),
    /// A group commit's transaction failed; this write, like the others, was not written.
    #[error("a group of database writes failed: {0}")]
    GroupFailed(String),
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A queued job as matching sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub client_id: String,
    pub constraints: crate::matching::Constraints,
    pub paid: bool,
    /// Its place in the queue: highest priority first, then oldest first.
    pub priority: i32,
    /// When it was submitted (milliseconds since the epoch).
    pub requested_at: i64,
}

/// What checking a miner's receipt needs of the miner: the key it registered and its price.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptTerms {
    pub public_key: Option<String>,
    pub price_per_unit: u64,
}

/// A miner with what decides whether it may take a job now.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerLoad {
    pub miner: Miner,
    /// Jobs it runs.
    pub running: i64,
    /// The client of its active booking: while booked it runs only that client's jobs.
    pub booked_for: Option<String>,
}

impl From<&Job> for Candidate {
    fn from(job: &Job) -> Self {
        Candidate {
            id: job.id.clone(),
            client_id: job.client_id.clone(),
            constraints: job.constraints.clone(),
            paid: job.payment.is_some(),
            priority: job.priority,
            requested_at: job.requested_at,
        }
    }
}

/// The database behind the coordinator.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite a single connection: SQLite has one writer at a time, and writers
    /// queued here wait their turn without its busy handler's sleeps; on PostgreSQL the same
    /// pool as reads.
    writer: AnyPool,
    /// On SQLite (whose write-ahead log [`Store::checkpoint`] folds into the database file),
    /// the task that commits the writes on every job's path in groups (see
    /// `group_commit.rs`); PostgreSQL's connections write side by side.
    group: Option<GroupCommit>,
}

macro_rules! job_columns {
    () => {
        "id, client_id, state, payload, constraints, priority, ttl_seconds, \
     requested_at, expires_at, assigned_miner_id, lease_expires_at, started_at, finished_at, \
     attempts, result, metrics, error, receipt_id, idempotency_key, body_hash, partial, progress, \
     payment, payment_status"
    };
}

const JOB_COLUMNS: &str = job_columns!();

const MINER_COLUMNS: &str = "id, capabilities, concurrency, region, public_key, payout_address, \
     status, enabled, last_heartbeat, registered_at, session_token, metadata, jobs_completed, \
     jobs_failed, total_job_duration_ms, last_receipt_id";

fn json_of(text: Option<String>) -> Result<Option<Value>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(corrupt))
        .transpose()
}

fn job_of(row: &AnyRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state {state}")))?,
        payload: serde_json::from_str(&row.try_get::<String, _>("payload")?).map_err(corrupt)?,
        constraints: serde_json::from_str(&row.try_get::<String, _>("constraints")?)
            .map_err(corrupt)?,
        priority: row.try_get("priority")?,
        ttl_seconds: row.try_get("ttl_seconds")?,
        requested_at: row.try_get("requested_at")?,
        expires_at: row.try_get("expires_at")?,
        assigned_miner_id: row.try_get("assigned_miner_id")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        attempts: row.try_get("attempts")?,
        result: json_of(row.try_get("result")?)?,
        metrics: json_of(row.try_get("metrics")?)?,
        error: row.try_get("error")?,
        receipt_id: row.try_get("receipt_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        body_hash: row.try_get("body_hash")?,
        partial: json_of(row.try_get("partial")?)?,
        progress: row.try_get("progress")?,
        payment: row
            .try_get::<Option<String>, _>("payment")?
            .map(|t| serde_json::from_str(&t).map_err(corrupt))
            .transpose()?,
        payment_status: row
            .try_get::<Option<String>, _>("payment_status")?
            .map(|s| PaymentStatus::parse(&s).ok_or_else(|| corrupt(format!("payment status {s}"))))
            .transpose()?,
    })
}

/// The claim's condition that miner `$1` may take the job now (`$3` = now): enabled and online,
/// a free slot, no active booking by another client, and a payout address if the job is paid.
/// Given two parameters, they name the miner and now instead.
macro_rules! miner_is_free {
    () => {
        miner_is_free!("$1", "$3")
    };
    ($miner:literal, $now:literal) => {
        concat!(
            "AND EXISTS (SELECT 1 FROM miners WHERE miners.id = ",
            $miner,
            " AND miners.enabled = 1 AND miners.status = 'ONLINE' \
             AND (jobs.payment IS NULL OR miners.payout_address IS NOT NULL) \
             AND (SELECT COUNT(*) FROM jobs AS mine WHERE mine.assigned_miner_id = ",
            $miner,
            " AND mine.state = 'RUNNING') < miners.concurrency \
             AND COALESCE((SELECT client_id FROM bookings WHERE miner_id = ",
            $miner,
            " AND status = 'active' AND end_at > ",
            $now,
            " ORDER BY start_at LIMIT 1), jobs.client_id) = jobs.client_id)"
        )
    };
}

/// A miner's running jobs and the client of its active booking (`$1` = now), beside its columns.
const LOAD_COLUMNS: &str = "(SELECT COUNT(*) FROM jobs WHERE assigned_miner_id = miners.id AND state = 'RUNNING') \
       AS running, \
     (SELECT client_id FROM bookings WHERE miner_id = miners.id AND status = 'active' \
       AND end_at > $1 ORDER BY start_at LIMIT 1) AS booked_for";

fn miner_load_of(row: &AnyRow) -> Result<MinerLoad, StoreError> {
    Ok(MinerLoad {
        miner: miner_of(row)?,
        running: row.try_get("running")?,
        booked_for: row.try_get("booked_for")?,
    })
}

fn miner_of(row: &AnyRow) -> Result<Miner, StoreError> {
    Ok(Miner {
        id: row.try_get("id")?,
        capabilities: serde_json::from_str(&row.try_get::<String, _>("capabilities")?)
            .map_err(corrupt)?,
        concurrency: row.try_get("concurrency")?,
        region: row.try_get("region")?,
        public_key: row.try_get("public_key")?,
        payout_address: row.try_get("payout_address")?,
        status: MinerStatus::parse(&row.try_get::<String, _>("status")?),
        enabled: row.try_get::<i32, _>("enabled")? != 0,
        last_heartbeat: row.try_get("last_heartbeat")?,
        registered_at: row.try_get("registered_at")?,
        session_token: row.try_get("session_token")?,
        metadata: serde_json::from_str(&row.try_get::<String, _>("metadata")?).map_err(corrupt)?,
        jobs_completed: row.try_get("jobs_completed")?,
        jobs_failed: row.try_get("jobs_failed")?,
        total_job_duration_ms: row.try_get("total_job_duration_ms")?,
        last_receipt_id: row.try_get("last_receipt_id")?,
    })
}

fn key_of(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        key_hash: row.try_get("key_hash")?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
        identity: row.try_get("identity")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(Value::to_string)
}

/// Stores a job's signed receipt (its id, the receipt and its hash).
async fn insert_receipt(
    db: &mut sqlx::Transaction<'_, sqlx::Any>,
    job_id: &str,
    (receipt_id, receipt, hash): &(String, Value, String),
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO receipts (receipt_id, job_id, receipt, receipt_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(receipt_id)
    .bind(job_id)
    .bind(receipt.to_string())
    .bind(hash)
    .bind(now)
    .execute(&mut **db)
    .await?;
    Ok(())
}

/// What a miner's result or failure changes.
#[derive(Clone, Debug)]
pub struct Finish {
    pub job_id: String,
    pub miner_id: String,
    pub state: JobState,
    pub result: Option<Value>,
    pub metrics: Option<Value>,
    pub error: Option<String>,
    /// The signed receipt, its id and hash (hex), for a completed job.
    pub receipt: Option<(String, Value, String)>,
    /// When the miner took the job (milliseconds): a report on an earlier run of the job by
    /// the same miner (its lease lapsed, and it took the job again) finishes nothing.
    pub started_at: i64,
    /// The public key (hex) that signed the receipt: the finish lands only while it is the one
    /// the miner registered (it may have registered another since the receipt was checked).
    pub signer: Option<String>,
    pub now: i64,
}

/// What a miner reports of a job its client canceled while it ran.
#[derive(Clone, Debug)]
pub struct Usage {
    pub job_id: String,
    pub miner_id: String,
    /// The output until the cancel.
    pub output: Value,
    pub metrics: Value,
    /// The signed receipt for the usage, its id and hash (hex).
    pub receipt: (String, Value, String),
    /// A job canceled before this (milliseconds) waits no longer for its usage.
    pub not_canceled_before: i64,
    pub now: i64,
}

/// The job's part of [`Store::finish`]. Parameters of its statements: `$1` state, `$2`
/// result, `$3` metrics, `$4` error, `$5` receipt id, `$6` now, `$7` job, `$8` miner, `$9` 1 if
/// completed (else 0), `$10` receipt, `$11` its hash, `$12` when the miner took the job, `$13`
/// the key that signed the receipt (if any).
macro_rules! finish_job {
    () => {
        "UPDATE jobs SET state = $1, result = $2, metrics = $3, error = $4, receipt_id = $5, \
         finished_at = $6, lease_expires_at = NULL \
         WHERE id = $7 AND state = 'RUNNING' AND assigned_miner_id = $8 AND started_at = $12 \
         AND ($13 IS NULL OR EXISTS (SELECT 1 FROM miners WHERE miners.id = $8 \
              AND miners.public_key = $13))"
    };
}

/// The miner's counts after a job of `$8` finished, `$9` the job's time in it (see
/// [`finish_job`]).
macro_rules! finish_counts {
    ($duration:literal) => {
        concat!(
            "UPDATE miners SET jobs_completed = jobs_completed + $9, \
             jobs_failed = jobs_failed + 1 - $9, last_receipt_id = COALESCE($5, last_receipt_id), \
             total_job_duration_ms = total_job_duration_ms + COALESCE(",
            $duration,
            ", 0) * $9"
        )
    };
}

/// [`Store::finish`] on SQLite, a write of its group commit: each statement after the job's
/// runs only if the one before changed a row; the job's id comes back if it finished.
const FINISH_SQLITE: &str = concat!(
    finish_job!(),
    " RETURNING {op} AS op; ",
    finish_counts!("(SELECT $6 - started_at FROM jobs WHERE id = $7)"),
    " WHERE id = $8 AND changes() = 1"
);

/// [`FINISH_SQLITE`] with the job's receipt stored between the two.
const FINISH_SQLITE_WITH_RECEIPT: &str = concat!(
    finish_job!(),
    " RETURNING {op} AS op; INSERT INTO receipts (receipt_id, job_id, receipt, receipt_hash, created_at) \
     SELECT $5, $7, $10, $11, $6 WHERE changes() = 1; ",
    finish_counts!("(SELECT $6 - started_at FROM jobs WHERE id = $7)"),
    " WHERE id = $8 AND changes() = 1"
);

/// A new job, unless its id or its client's idempotency key is taken.
macro_rules! insert_job {
    () => {
        "INSERT INTO jobs (id, client_id, state, payload, constraints, priority, ttl_seconds, \
         requested_at, expires_at, attempts, idempotency_key, body_hash, payment, payment_status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $13) \
         ON CONFLICT DO NOTHING"
    };
}

/// Queued job `$4` for miner `$1` until `$2` (`$3` = now), if it is still queued and the miner
/// may take it now ([`miner_is_free`]); what it returns follows. Given parameters, they name
/// the miner, the lease, now and the job instead, and a further condition comes first.
macro_rules! claim_job {
    () => {
        claim_job!("$1", "$2", "$3", "$4", "")
    };
    ($miner:literal, $lease:literal, $now:literal, $job:literal, $first:literal) => {
        concat!(
            "UPDATE jobs SET state = 'RUNNING', assigned_miner_id = ",
            $miner,
            ", lease_expires_at = ",
            $lease,
            ", started_at = ",
            $now,
            ", attempts = attempts + 1 WHERE ",
            $first,
            "id = ",
            $job,
            " AND state = 'QUEUED' AND expires_at > ",
            $now,
            " ",
            miner_is_free!($miner, $now),
            " RETURNING "
        )
    };
}

const CLAIM_SQLITE: &str = concat!(claim_job!(), "{op} AS op, ", job_columns!());

/// [`Store::claim`] on PostgreSQL, in one round trip: a function that locks the miner's row
/// first (the order everything that touches a miner and its jobs keeps, see `heartbeat`), then
/// claims in a statement of its own. A statement of a volatile function takes a fresh snapshot,
/// so the claim counts the miner's running jobs as the claims that held the lock before it left
/// them; in one statement its snapshot would predate their commits, and concurrent claims could
/// fill more slots than the miner has. Replaced at every start, so it is the running build's.
const CLAIM_FUNCTION_POSTGRES: &str = concat!(
    "CREATE OR REPLACE FUNCTION aitbc_claim_job(text, bigint, bigint, text) \
     RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $claim$ BEGIN \
     PERFORM 1 FROM miners WHERE id = $1 FOR UPDATE; \
     RETURN QUERY WITH claimed AS (",
    claim_job!(),
    "jobs.*) SELECT * FROM claimed; END $claim$"
);

const CLAIM_POSTGRES: &str = "SELECT * FROM aitbc_claim_job($1, $2, $3, $4)";

/// Puts this build's [`CLAIM_FUNCTION_POSTGRES`] in place; instances starting together replace
/// it in turn (an advisory lock of their own, beside the migrations').
async fn replace_claim_function(pool: &AnyPool) -> Result<(), StoreError> {
    let mut db = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7147453430)")
        .execute(&mut *db)
        .await?;
    sqlx::raw_sql(CLAIM_FUNCTION_POSTGRES)
        .execute(&mut *db)
        .await?;
    db.commit().await?;
    Ok(())
}

/// Has a new PostgreSQL connection compile the claim's function now, not at its first claim
/// (3 to 8 ms, which showed in submit→assign's tail), once the function exists: it claims no
/// job for no miner, which changes nothing.
async fn compile_claim_function(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    let exists = sqlx::query("SELECT 1 FROM pg_proc WHERE proname = 'aitbc_claim_job'")
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() {
        sqlx::query(CLAIM_POSTGRES)
            .bind("")
            .bind(0_i64)
            .bind(0_i64)
            .bind("")
            .fetch_all(&mut *conn)
            .await?;
    }
    Ok(())
}

const INSERT_JOB_POSTGRES: &str = insert_job!();
const INSERT_JOB_SQLITE: &str = concat!(insert_job!(), " RETURNING {op} AS op");

/// [`Store::insert_and_claim`] on SQLite, a write of its group commit: the insert's parameters,
/// then the miner (`$14`) and its lease (`$15`); the job is claimed as of its request (`$8`),
/// only if the insert made it (`changes()`). Two rows come back if both did, one if only the
/// insert did.
const INSERT_AND_CLAIM_SQLITE: &str = concat!(
    insert_job!(),
    " RETURNING {op} AS op; ",
    claim_job!("$14", "$15", "$8", "$1", "changes() = 1 AND "),
    "{op} AS op, ",
    job_columns!()
);

/// [`Store::finish`] on PostgreSQL, one statement: the miner's row is locked first (the order
/// everything that touches a miner and its jobs keeps, see `heartbeat`), then the job is
/// updated; the receipt and the counts come from the updated row, so only if there is one.
const FINISH_POSTGRES: &str = concat!(
    "WITH miner AS (SELECT id FROM miners WHERE id = $8 FOR UPDATE), done AS (",
    finish_job!(),
    " AND EXISTS (SELECT 1 FROM miner) RETURNING started_at), \
     receipt AS (INSERT INTO receipts (receipt_id, job_id, receipt, receipt_hash, created_at) \
       SELECT $5, $7, $10, $11, $6 FROM done WHERE $10 IS NOT NULL), \
     counts AS (",
    finish_counts!("$6 - done.started_at"),
    " FROM done WHERE miners.id = $8) SELECT COUNT(*) AS finished FROM done"
);

/// A new job's insert, as `statements` (whose first is [`insert_job`]'s) with its parameters;
/// they serve PostgreSQL's statement too.
fn insert_write(statements: &'static str, job: &Job) -> Result<Write, StoreError> {
    let payment = job
        .payment
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(corrupt)?;
    Ok(Write::new(statements)
        .bind(job.id.as_str())
        .bind(job.client_id.as_str())
        .bind(job.state.as_str())
        .bind(job.payload.to_string())
        .bind(serde_json::to_string(&job.constraints).map_err(corrupt)?)
        .bind(job.priority)
        .bind(job.ttl_seconds)
        .bind(job.requested_at)
        .bind(job.expires_at)
        .bind(job.idempotency_key.clone())
        .bind(job.body_hash.as_str())
        .bind(payment)
        .bind(job.payment_status.map(|s| s.as_str().to_owned())))
}

/// What [`Store::insert_and_claim`] came to.
#[derive(Debug)]
pub enum Inserted {
    /// Stored, and claimed for the miner: the job as claimed.
    Claimed(Box<Job>),
    /// Stored and queued: the miner may not take it now.
    Queued,
    /// Not stored: its id is taken, or its client's idempotency key.
    Exists,
}

impl Store {
    /// The pools, for the modules that keep their own tables (the marketplace).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// On SQLite, how many transactions the group commit made and how many writes they held
    /// (a job's insert, claim and finish each count one); `None` on PostgreSQL.
    pub fn group_commits(&self) -> Option<GroupCommits> {
        self.group.as_ref().map(GroupCommit::counts)
    }

    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and brings the schema up
    /// to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let options = || {
            AnyPoolOptions::new()
                // No ping before each query: on SQLite it is a round trip to the connection's
                // thread, on PostgreSQL one to the server, and a broken connection fails its
                // query and leaves the pool anyway.
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if sqlite {
                            use sqlx::Executor;
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            // No checkpoint at a commit (each one syncs the database file, and
                            // the write that crossed the log's threshold waited for it): the
                            // sweeper checkpoints every second instead (`Store::checkpoint`).
                            conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                            // The group commit's savepoints keep what they would undo in
                            // memory, not in a temporary file per transaction.
                            conn.execute("PRAGMA temp_store = MEMORY").await?;
                        } else {
                            compile_claim_function(conn).await?;
                        }
                        Ok(())
                    })
                })
        };
        // Under WAL, SQLite's readers proceed beside its one writer.
        let pool = options()
            .max_connections(if sqlite { 4 } else { 16 })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        if !sqlite {
            replace_claim_function(&pool).await?;
        }
        let writer = if sqlite {
            options().max_connections(1).connect(url).await?
        } else {
            pool.clone()
        };
        let group = sqlite.then(|| GroupCommit::start(writer.clone()));
        Ok(Store {
            pool,
            writer,
            group,
        })
    }

    /// Copies what SQLite's write-ahead log holds into the database file, without waiting for
    /// readers or blocking writers (a passive checkpoint); nothing on PostgreSQL. Commits never
    /// checkpoint themselves, so this keeps the log from growing.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.group.is_some() {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&self.pool)
                .await?;
        }
        Ok(())
    }

    // --- API keys -------------------------------------------------------------------------

    pub async fn insert_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, key_hash, role, identity, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&key.id)
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(&key.identity)
        .bind(key.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The unrevoked key whose secret hashes to `hash`.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, key_hash, role, identity, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_of).transpose()
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, key_hash, role, identity, created_at, revoked_at FROM api_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_of).collect()
    }

    /// Revokes key `id`; false if there is no such unrevoked key.
    pub async fn revoke_key(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    // --- sign-in --------------------------------------------------------------------------

    pub async fn insert_challenge(
        &self,
        nonce: &str,
        address: &str,
        message: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sign_in_challenges (nonce, address, message, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(nonce)
        .bind(address)
        .bind(message)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes challenge `nonce` out of the store: whoever calls this first gets its address,
    /// message and expiry, every later call `None`.
    pub async fn take_challenge(
        &self,
        nonce: &str,
    ) -> Result<Option<(String, String, i64)>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM sign_in_challenges WHERE nonce = $1 \
             RETURNING address, message, expires_at",
        )
        .bind(nonce)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, address, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(address)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The address and expiry of the session whose token hashes to `token_hash`, if it is
    /// live at `now`.
    pub async fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(String, i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT address, created_at, expires_at FROM sessions \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets challenges and sessions that expired before `now`.
    pub async fn delete_expired_sign_ins(&self, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    // --- jobs -----------------------------------------------------------------------------

    /// Stores a new job; `false` if its id is taken or the client already has a job under its
    /// idempotency key.
    pub async fn insert_job(&self, job: &Job) -> Result<bool, StoreError> {
        let write = insert_write(INSERT_JOB_SQLITE, job)?;
        if let Some(group) = &self.group {
            return Ok(group.write(write).await?.len() == 1);
        }
        let done = bind_all(sqlx::query(INSERT_JOB_POSTGRES), &write.binds)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a new job and hands it to `miner_id` until `lease_until` if the miner may take it
    /// now (as [`Store::claim`] would, as of the job's request): on SQLite in the insert's own
    /// write, so that a job a waiting miner takes costs one commit, not two.
    pub async fn insert_and_claim(
        &self,
        job: &Job,
        miner_id: &str,
        lease_until: i64,
    ) -> Result<Inserted, StoreError> {
        let Some(group) = &self.group else {
            if !self.insert_job(job).await? {
                return Ok(Inserted::Exists);
            }
            let claimed = self
                .claim(&job.id, miner_id, lease_until, job.requested_at)
                .await?;
            return Ok(claimed.map_or(Inserted::Queued, |job| Inserted::Claimed(Box::new(job))));
        };
        let write = insert_write(INSERT_AND_CLAIM_SQLITE, job)?
            .bind(miner_id)
            .bind(lease_until)
            .after_others();
        let rows = group.write(write).await?;
        Ok(match &rows[..] {
            [] => Inserted::Exists,
            [_] => Inserted::Queued,
            [_, claimed, ..] => Inserted::Claimed(Box::new(job_of(claimed)?)),
        })
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_of).transpose()
    }

    /// Job `id` with its latest receipt, in one query.
    pub async fn job_with_receipt(
        &self,
        id: &str,
    ) -> Result<Option<(Job, Option<Value>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS}, (SELECT receipts.receipt FROM receipts \
             WHERE receipts.job_id = jobs.id \
             ORDER BY receipts.created_at DESC, receipts.receipt_id DESC LIMIT 1) AS last_receipt \
             FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| Ok((job_of(row)?, json_of(row.try_get("last_receipt")?)?)))
            .transpose()
    }

    /// Job `id` with the receipt terms of miner `miner_id` (`None` for an unknown miner), in
    /// one query: what a miner's report on the job is checked against.
    pub async fn job_and_terms(
        &self,
        id: &str,
        miner_id: &str,
    ) -> Result<Option<(Job, Option<ReceiptTerms>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS}, \
             (SELECT public_key FROM miners WHERE miners.id = $2) AS miner_public_key, \
             (SELECT capabilities FROM miners WHERE miners.id = $2) AS miner_capabilities \
             FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .bind(miner_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let terms = match row.try_get::<Option<String>, _>("miner_capabilities")? {
            Some(capabilities) => Some(ReceiptTerms {
                public_key: row.try_get("miner_public_key")?,
                price_per_unit: serde_json::from_str::<crate::matching::Capabilities>(
                    &capabilities,
                )
                .map_err(corrupt)?
                .price_per_unit,
            }),
            None => None,
        };
        Ok(Some((job_of(&row)?, terms)))
    }

    pub async fn job_by_key(&self, client_id: &str, key: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE client_id = $1 AND idempotency_key = $2"
        ))
        .bind(client_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_of).transpose()
    }

    /// Queued jobs that may go to miners (unexpired; unpaid, or their lock in a block), highest
    /// priority first, then oldest first: only what matching needs, not their payloads.
    pub async fn queued(&self, now: i64, limit: i64) -> Result<Vec<Candidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, constraints, payment_status, priority, requested_at FROM jobs \
             WHERE state = 'QUEUED' AND expires_at > $1 \
             AND (payment_status IS NULL OR payment_status = 'locked') \
             ORDER BY priority DESC, requested_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Candidate {
                    id: row.try_get("id")?,
                    client_id: row.try_get("client_id")?,
                    constraints: serde_json::from_str(&row.try_get::<String, _>("constraints")?)
                        .map_err(corrupt)?,
                    paid: row
                        .try_get::<Option<String>, _>("payment_status")?
                        .is_some(),
                    priority: row.try_get("priority")?,
                    requested_at: row.try_get("requested_at")?,
                })
            })
            .collect()
    }

    /// The latest jobs, newest first, optionally of one client.
    pub async fn jobs(&self, client_id: Option<&str>, limit: i64) -> Result<Vec<Job>, StoreError> {
        let rows =
            match client_id {
                Some(client) => {
                    sqlx::query(&format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE client_id = $1 \
                     ORDER BY requested_at DESC, id DESC LIMIT $2"
                    ))
                    .bind(client)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs ORDER BY requested_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter().map(job_of).collect()
    }

    /// Jobs, newest first, a page at a time.
    pub async fn jobs_page(&self, limit: i64, offset: i64) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY requested_at DESC, id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_of).collect()
    }

    /// Receipts, newest first, a page at a time: job id, receipt, receipt hash, when stored.
    pub async fn receipts_page(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, Value, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT job_id, receipt, receipt_hash, created_at FROM receipts \
             ORDER BY created_at DESC, receipt_id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("job_id")?,
                    serde_json::from_str(&r.try_get::<String, _>("receipt")?).map_err(corrupt)?,
                    r.try_get("receipt_hash")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// Hands queued job `job_id` to `miner_id` if it is still queued and the miner may take it
    /// now (see [`miner_is_free`]), checked in the claim's own statement: only one caller wins.
    /// The job as claimed, or `None` if either fails.
    pub async fn claim(
        &self,
        job_id: &str,
        miner_id: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Option<Job>, StoreError> {
        let write = Write::new(CLAIM_SQLITE)
            .bind(miner_id)
            .bind(lease_until)
            .bind(now)
            .bind(job_id)
            .after_others();
        let rows = match &self.group {
            Some(group) => group.write(write).await?,
            None => {
                // The miner's lock and the claim, in one call (see `CLAIM_FUNCTION_POSTGRES`).
                bind_all(sqlx::query(CLAIM_POSTGRES), &write.binds)
                    .fetch_all(&self.writer)
                    .await?
            }
        };
        rows.first().map(job_of).transpose()
    }

    /// Gives back a job claimed for a miner whose poll ended before it could be told.
    pub async fn unclaim(&self, job_id: &str, miner_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'QUEUED', assigned_miner_id = NULL, lease_expires_at = NULL, \
             started_at = NULL, attempts = attempts - 1 \
             WHERE id = $1 AND state = 'RUNNING' AND assigned_miner_id = $2",
        )
        .bind(job_id)
        .bind(miner_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Finishes a running job of `miner_id` (completed or failed) with its receipt, at once;
    /// `false` if the job is not running on that miner (a late or foreign result).
    ///
    /// The job, its receipt and the miner's counts change together in one round trip to the
    /// database (this is on every job's path): on PostgreSQL one statement whose parts hang on
    /// the job's update; on SQLite, which has no writing `WITH`, one write of the group commit,
    /// each statement after the job's running only if the one before it changed its row
    /// (`changes()`).
    pub async fn finish(&self, finish: &Finish) -> Result<bool, StoreError> {
        let (receipt_id, receipt, hash) = match &finish.receipt {
            Some((id, receipt, hash)) => (
                Some(id.clone()),
                Some(receipt.to_string()),
                Some(hash.clone()),
            ),
            None => (None, None, None),
        };
        let statements = if receipt.is_some() {
            FINISH_SQLITE_WITH_RECEIPT
        } else {
            FINISH_SQLITE
        };
        let write = Write::new(statements)
            .bind(finish.state.as_str())
            .bind(text(&finish.result))
            .bind(text(&finish.metrics))
            .bind(finish.error.clone())
            .bind(receipt_id)
            .bind(finish.now)
            .bind(finish.job_id.as_str())
            .bind(finish.miner_id.as_str())
            .bind(i64::from(finish.state == JobState::Completed))
            .bind(receipt)
            .bind(hash)
            .bind(finish.started_at)
            .bind(finish.signer.clone());
        let Some(group) = &self.group else {
            let finished: i64 = bind_all(sqlx::query(FINISH_POSTGRES), &write.binds)
                .fetch_one(&self.writer)
                .await?
                .try_get("finished")?;
            return Ok(finished == 1);
        };
        let rows = group.write(write).await?;
        // The job's tag if it finished (a count of changed rows would not do: it would count
        // the receipt's and the miner's rows too).
        Ok(rows.len() == 1)
    }

    /// Records the usage of a job canceled while it ran on the reporting miner, once, while its
    /// escrow still waits for it; `false` otherwise.
    pub async fn record_usage(&self, usage: &Usage) -> Result<bool, StoreError> {
        let mut db = self.writer.begin().await?;
        // The miner's row before the job's, as everywhere (see `heartbeat`).
        sqlx::query("UPDATE miners SET last_receipt_id = $1 WHERE id = $2")
            .bind(&usage.receipt.0)
            .bind(&usage.miner_id)
            .execute(&mut *db)
            .await?;
        let done = sqlx::query(
            "UPDATE jobs SET result = $1, metrics = $2, receipt_id = $3 \
             WHERE id = $4 AND state = 'CANCELED' AND assigned_miner_id = $5 \
             AND started_at IS NOT NULL AND receipt_id IS NULL AND finished_at >= $6 \
             AND (payment_status IS NULL OR payment_status = 'locked')",
        )
        .bind(usage.output.to_string())
        .bind(usage.metrics.to_string())
        .bind(&usage.receipt.0)
        .bind(&usage.job_id)
        .bind(&usage.miner_id)
        .bind(usage.not_canceled_before)
        .execute(&mut *db)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_receipt(&mut db, &usage.job_id, &usage.receipt, usage.now).await?;
        db.commit().await?;
        Ok(true)
    }

    /// Paid jobs whose escrow needs watching or settling: locks and settlements on their way,
    /// and locked escrows of jobs that ended. (The status list is that of the partial index on
    /// payment statuses, word for word: SQLite uses such an index only then.)
    pub async fn paid_jobs_to_watch(&self) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE payment_status IN ('locking', 'locked', 'releasing', 'refunding') \
             AND (payment_status <> 'locked' OR state NOT IN ('QUEUED', 'RUNNING')) \
             ORDER BY requested_at, id LIMIT 500"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_of).collect()
    }

    /// Moves a locked escrow to `refunding`, storing `payment`, unless the job has a receipt
    /// (then it is released instead); `false` if it did not move.
    pub async fn start_refund(&self, job_id: &str, payment: &Payment) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET payment_status = 'refunding', payment = $1 \
             WHERE id = $2 AND payment_status = 'locked' AND receipt_id IS NULL",
        )
        .bind(serde_json::to_string(payment).map_err(corrupt)?)
        .bind(job_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a job's payment from `from` to `to`, storing `payment`; `false` if it was not at
    /// `from` (another instance got there first).
    pub async fn set_payment(
        &self,
        job_id: &str,
        from: PaymentStatus,
        to: PaymentStatus,
        payment: &Payment,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET payment_status = $1, payment = $2 WHERE id = $3 AND payment_status = $4",
        )
        .bind(to.as_str())
        .bind(serde_json::to_string(payment).map_err(corrupt)?)
        .bind(job_id)
        .bind(from.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets a paid job whose lock the chain refused as it was submitted (never acknowledged).
    pub async fn delete_unsent(&self, job_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND state = 'QUEUED' AND payment_status = 'locking'",
        )
        .bind(job_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Fails a job that is still queued (its payment never arrived).
    pub async fn fail_queued(
        &self,
        job_id: &str,
        error: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'FAILED', error = $1, finished_at = $2 WHERE id = $3 AND state = 'QUEUED'",
        )
        .bind(error)
        .bind(now)
        .bind(job_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records progress or partial output of a job running on `miner_id`.
    pub async fn progress(
        &self,
        job_id: &str,
        miner_id: &str,
        progress: Option<i32>,
        partial: Option<&Value>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET progress = COALESCE($1, progress), partial = COALESCE($2, partial) \
             WHERE id = $3 AND state = 'RUNNING' AND assigned_miner_id = $4",
        )
        .bind(progress)
        .bind(partial.map(Value::to_string))
        .bind(job_id)
        .bind(miner_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a queued or running job of `client_id`; `false` if it is neither.
    pub async fn cancel(
        &self,
        job_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'CANCELED', error = 'canceled by client', finished_at = $1, \
             lease_expires_at = NULL \
             WHERE id = $2 AND client_id = $3 AND state IN ('QUEUED', 'RUNNING')",
        )
        .bind(now)
        .bind(job_id)
        .bind(client_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Expires every queued or running job whose time is up; returns their ids.
    pub async fn expire_due(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'EXPIRED', error = 'job expired', finished_at = $1, \
             lease_expires_at = NULL \
             WHERE state IN ('QUEUED', 'RUNNING') AND expires_at <= $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    /// Running jobs whose miner stopped renewing its lease: queued again while attempts remain,
    /// failed otherwise. Returns how many went back to the queue, and the ids of those failed.
    pub async fn release_lapsed(
        &self,
        now: i64,
        max_attempts: i32,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'QUEUED', assigned_miner_id = NULL, lease_expires_at = NULL, \
             started_at = NULL, progress = NULL, partial = NULL \
             WHERE state = 'RUNNING' AND lease_expires_at <= $1 AND attempts < $2",
        )
        .bind(now)
        .bind(max_attempts)
        .execute(&self.writer)
        .await?
        .rows_affected();
        let failed = sqlx::query(
            "UPDATE jobs SET state = 'FAILED', error = 'the miner stopped answering, too many times', \
             finished_at = $1, lease_expires_at = NULL \
             WHERE state = 'RUNNING' AND lease_expires_at <= $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        let failed = failed
            .iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect::<Result<_, StoreError>>()?;
        Ok((requeued, failed))
    }

    pub async fn receipts_of(&self, job_id: &str) -> Result<Vec<Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT receipt FROM receipts WHERE job_id = $1 ORDER BY created_at, receipt_id",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.try_get::<String, _>("receipt")?).map_err(corrupt))
            .collect()
    }

    /// How many jobs a miner took since `since`, and the milliseconds they waited in all from
    /// submission to being taken.
    pub async fn assign_latency(&self, since: i64) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(started_at - requested_at), 0) AS BIGINT) AS total \
             FROM jobs WHERE started_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("total")?))
    }

    /// Counts of jobs by state.
    pub async fn job_counts(&self) -> Result<Vec<(JobState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok((
                    JobState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?,
                    r.try_get::<i64, _>("n")?,
                ))
            })
            .collect()
    }

    // --- miners ---------------------------------------------------------------------------

    /// Registers (or re-registers) a miner: online, with fresh capabilities and session.
    pub async fn upsert_miner(&self, miner: &Miner) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO miners (id, capabilities, concurrency, region, public_key, payout_address, \
             status, enabled, last_heartbeat, registered_at, session_token, metadata, \
             jobs_completed, jobs_failed, total_job_duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 'ONLINE', 1, $7, $7, $8, $9, 0, 0, 0) \
             ON CONFLICT (id) DO UPDATE SET capabilities = excluded.capabilities, \
             concurrency = excluded.concurrency, region = excluded.region, \
             public_key = excluded.public_key, payout_address = excluded.payout_address, \
             status = 'ONLINE', last_heartbeat = excluded.last_heartbeat, \
             session_token = excluded.session_token, metadata = excluded.metadata",
        )
        .bind(&miner.id)
        .bind(serde_json::to_string(&miner.capabilities).map_err(corrupt)?)
        .bind(miner.concurrency)
        .bind(&miner.region)
        .bind(&miner.public_key)
        .bind(&miner.payout_address)
        .bind(miner.last_heartbeat)
        .bind(&miner.session_token)
        .bind(miner.metadata.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn miner(&self, id: &str) -> Result<Option<Miner>, StoreError> {
        let row = sqlx::query(&format!("SELECT {MINER_COLUMNS} FROM miners WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(miner_of).transpose()
    }

    /// What decides whether miner `id` may take a job now, in one query: its row, the jobs it
    /// runs and the client of its active booking, if any.
    pub async fn miner_load(&self, id: &str, now: i64) -> Result<Option<MinerLoad>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MINER_COLUMNS}, {LOAD_COLUMNS} FROM miners WHERE id = $2"
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(miner_load_of).transpose()
    }

    /// Every miner with its load, by id.
    pub async fn miner_loads(&self, now: i64) -> Result<Vec<MinerLoad>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MINER_COLUMNS}, {LOAD_COLUMNS} FROM miners ORDER BY id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(miner_load_of).collect()
    }

    pub async fn miners(&self) -> Result<Vec<Miner>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {MINER_COLUMNS} FROM miners ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(miner_of).collect()
    }

    /// A heartbeat: the miner is online and its running jobs' leases are renewed. `false` for
    /// an unknown miner.
    pub async fn heartbeat(
        &self,
        id: &str,
        metadata: &Value,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        // The miner's row first, as in `finish`: whatever touches a miner and its jobs together
        // takes the miner's lock first, so on PostgreSQL they queue instead of deadlocking.
        let mut db = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE miners SET status = 'ONLINE', last_heartbeat = $1, metadata = $2 WHERE id = $3",
        )
        .bind(now)
        .bind(metadata.to_string())
        .bind(id)
        .execute(&mut *db)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE assigned_miner_id = $2 AND state = 'RUNNING'",
        )
        .bind(lease_until)
        .bind(id)
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(true)
    }

    /// Marks miners silent since `silent_since` offline; returns their ids.
    pub async fn mark_silent(&self, silent_since: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "UPDATE miners SET status = 'OFFLINE' WHERE status = 'ONLINE' AND last_heartbeat < $1 \
             RETURNING id",
        )
        .bind(silent_since)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    /// Takes miner `id` offline at its own request; false for an unknown miner.
    pub async fn go_offline(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE miners SET status = 'OFFLINE' WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An offline miner's running jobs lose their lease at once.
    pub async fn drop_leases_of_offline(&self, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE state = 'RUNNING' AND assigned_miner_id IN \
             (SELECT id FROM miners WHERE status = 'OFFLINE')",
        )
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Goes offline on purpose (a miner draining before it stops).
    pub async fn set_offline(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE miners SET status = 'OFFLINE' WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Admin: lets a miner get work, or stops it from getting any.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE miners SET enabled = $1 WHERE id = $2")
            .bind(i32::from(enabled))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
