//! Test databases: a SQLite file in a temporary folder, and a PostgreSQL database created for one test and dropped after it.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use coordinator::{Config, Coordinator, Store};
use sqlx::{Connection, Executor, PgConnection};
use types::SecretKey;

/// Where the PostgreSQL server for tests listens.
pub fn postgres_server() -> String {
    std::env::var("AITBC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database for one test; a PostgreSQL one is dropped when this is.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let server = postgres_server();
            // Dropping needs a runtime of its own: this may run while the test's is ending.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&format!("{server}/postgres")).await
                    {
                        let _ = conn
                            .execute(
                                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// One SQLite and one PostgreSQL database, empty.
pub async fn both() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = TestDb {
        name: "sqlite",
        url: format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("coordinator.db").display()
        ),
        _dir: Some(dir),
        pg_name: None,
    };
    let server = postgres_server();
    let name = format!("aitbc_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut conn = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {server} is needed for these tests (set AITBC_TEST_POSTGRES): {e}"
            )
        });
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create database");
    let postgres = TestDb {
        name: "postgres",
        url: format!("{server}/{name}"),
        _dir: None,
        pg_name: Some(name),
    };
    vec![sqlite, postgres]
}

/// A clock the test moves by hand, in milliseconds.
#[derive(Clone)]
pub struct Clock(pub Arc<AtomicI64>);

impl Clock {
    pub fn new() -> Self {
        Clock(Arc::new(AtomicI64::new(1_800_000_000_000)))
    }

    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A coordinator on `db` with a hand-driven clock.
pub async fn coordinator(db: &TestDb, clock: &Clock) -> Coordinator {
    let store = Store::open(&db.url).await.expect("open store");
    let clock = clock.clone();
    let config = Config {
        allow_unpaid: true,
        ..Config::default()
    };
    Coordinator::new(store, config, SecretKey::from_seed(&[9; 32])).with_clock(move || clock.now())
}

/// A miner as the tests play it: its id and the key it signs receipts with.
pub struct TestMiner {
    pub id: String,
    pub key: SecretKey,
}

impl TestMiner {
    pub fn new(id: &str, seed: u8) -> Self {
        TestMiner {
            id: id.into(),
            key: SecretKey::from_seed(&[seed; 32]),
        }
    }

    /// Registration with one GPU, the given models and price per GPU second (base units).
    pub fn registration(
        &self,
        gpu: &str,
        models: &[&str],
        price: u64,
    ) -> coordinator::RegisterMiner {
        serde_json::from_value(serde_json::json!({
            "capabilities": {
                "gpus": [{"name": gpu, "memory_mb": 24576}],
                "cuda": "12.4",
                "models": models,
                "price_per_unit": price,
            },
            "concurrency": 2,
            "region": "eu-west",
            "public_key": self.key.public_key().to_hex(),
        }))
        .expect("registration")
    }

    /// The result of `job` with the receipt this miner signs for `units_ms` of GPU time.
    pub fn result(
        &self,
        job: &coordinator::Assigned,
        result: serde_json::Value,
        units_ms: u64,
        completed_at: u64,
    ) -> coordinator::JobResult {
        use types::receipt::{JobReceipt, sign, value_hash};
        let claim = JobReceipt {
            receipt_id: hex::encode(rand::random::<[u8; 16]>()),
            job_id: job.job_id.clone(),
            provider: self.id.clone(),
            client: job.client.clone(),
            units_ms,
            unit_price: job.unit_price,
            started_at: job.started_at as u64,
            completed_at,
            result_hash: value_hash(&result),
            chain_id: job.chain_id.clone(),
        };
        let mut receipt = claim.payload();
        receipt["signature"] = serde_json::to_value(sign(&receipt, &self.key)).expect("json");
        coordinator::JobResult {
            result,
            metrics: serde_json::json!({"duration_ms": units_ms}),
            receipt,
        }
    }
}
