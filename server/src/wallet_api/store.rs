//! The wallet daemon's SQLite file: wallets as encrypted keystores with their public facts, and the event log (created, unlocked, refused, signed, sent). Written with `synchronous = FULL`: a wallet the API said it created survives a power loss.

use std::{path::Path, str::FromStr};

use serde_json::Value;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// A stored wallet.
#[derive(Clone, Debug)]
pub struct StoredWallet {
    pub wallet_id: String,
    pub address: String,
    pub public_key: String,
    /// The keystore JSON.
    pub keystore: String,
    pub metadata: Value,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct WalletStore {
    pool: SqlitePool,
}

impl WalletStore {
    /// Opens (creating) the database at `path` and brings its tables up to date.
    pub async fn open(path: &Path) -> anyhow::Result<WalletStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/wallet").run(&pool).await?;
        Ok(WalletStore { pool })
    }

    /// Stores a new wallet; `false` if the id is taken.
    pub async fn insert(&self, wallet: &StoredWallet) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO wallets (wallet_id, address, public_key, keystore, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (wallet_id) DO NOTHING",
        )
        .bind(&wallet.wallet_id)
        .bind(&wallet.address)
        .bind(&wallet.public_key)
        .bind(&wallet.keystore)
        .bind(wallet.metadata.to_string())
        .bind(wallet.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get(&self, wallet_id: &str) -> Result<Option<StoredWallet>, sqlx::Error> {
        sqlx::query("SELECT * FROM wallets WHERE wallet_id = $1")
            .bind(wallet_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| wallet_of(&row))
            .transpose()
    }

    pub async fn list(&self) -> Result<Vec<StoredWallet>, sqlx::Error> {
        sqlx::query("SELECT * FROM wallets ORDER BY created_at, wallet_id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(wallet_of)
            .collect()
    }

    /// Records what happened to a wallet (never a secret: callers pass public facts only).
    pub async fn event(
        &self,
        wallet_id: &str,
        event_type: &str,
        payload: &Value,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO wallet_events (wallet_id, event_type, payload, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(wallet_id)
        .bind(event_type)
        .bind(payload.to_string())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn wallet_of(row: &sqlx::sqlite::SqliteRow) -> Result<StoredWallet, sqlx::Error> {
    let metadata: String = row.try_get("metadata")?;
    Ok(StoredWallet {
        wallet_id: row.try_get("wallet_id")?,
        address: row.try_get("address")?,
        public_key: row.try_get("public_key")?,
        keystore: row.try_get("keystore")?,
        metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
        created_at: row.try_get("created_at")?,
    })
}
