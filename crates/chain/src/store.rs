//! The node's SQLite database through sqlx: a block, its transactions, the accounts it changed and their undo entries are written in one database transaction, so a crash never leaves half a block; admitted transactions are written before they are acknowledged.

use std::{collections::BTreeSet, path::Path, str::FromStr};

use sqlx::{
    QueryBuilder, Row, Sqlite, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use types::{Address, Amount, Block, BlockHeader, Hash, PublicKey, SignedTransaction, TxBody};

use crate::{
    genesis::Genesis,
    state::{Account, State},
};

/// Storage failures; the node cannot go on without its database, so callers mostly report them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database did not store it: {0}")]
    NotStored(String),
    #[error("this database belongs to chain {stored}, not to the genesis given ({given})")]
    OtherChain { stored: String, given: String },
}

/// A transaction's row: hash, index in its block, sender, recipient, JSON.
type TxRow = (Vec<u8>, i64, Vec<u8>, Option<Vec<u8>>, String);

/// Rows per multi-row statement; SQLite allows 32,766 bound parameters per statement.
const ROWS_PER_STATEMENT: usize = 500;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn amount_bytes(amount: Amount) -> Vec<u8> {
    amount.0.to_be_bytes().to_vec()
}

fn amount_of(bytes: &[u8]) -> Result<Amount, StoreError> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt("a balance is not 8 bytes"))?;
    Ok(Amount(u64::from_be_bytes(bytes)))
}

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Where a stored transaction sits.
#[derive(Clone, Debug)]
pub struct StoredTx {
    pub tx: SignedTransaction,
    pub block_height: u64,
    pub index: u32,
    /// The including block's timestamp.
    pub timestamp_ms: u64,
}

/// An address's page of history.
#[derive(Clone, Debug)]
pub struct History {
    pub transactions: Vec<StoredTx>,
    /// Transactions it sent, in all.
    pub sent: u64,
    /// Transactions it received, in all.
    pub received: u64,
    /// Transactions it took part in, in all (a transfer to itself counts once).
    pub total: u64,
}

fn stored_tx(row: &SqliteRow) -> Result<StoredTx, StoreError> {
    Ok(StoredTx {
        tx: serde_json::from_str(row.get::<&str, _>(0)).map_err(corrupt)?,
        block_height: row.get::<i64, _>(1) as u64,
        index: row.get::<i64, _>(2) as u32,
        timestamp_ms: row.get::<i64, _>(3) as u64,
    })
}

/// A receipt hash anchored on chain.
#[derive(Clone, Debug)]
pub struct Anchor {
    pub receipt_hash: Hash,
    pub job_id: String,
    pub tx_hash: Hash,
    pub block_height: u64,
    pub anchored_by: Address,
    pub timestamp_ms: u64,
}

fn hash_of(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    Ok(Hash(
        bytes
            .try_into()
            .map_err(|_| corrupt("a hash is not 32 bytes"))?,
    ))
}

fn anchor_of(row: &SqliteRow) -> Result<Anchor, StoreError> {
    Ok(Anchor {
        receipt_hash: hash_of(row.get(0))?,
        job_id: row.get(1),
        tx_hash: hash_of(row.get(2))?,
        block_height: row.get::<i64, _>(3) as u64,
        anchored_by: Address(
            row.get::<Vec<u8>, _>(4)
                .try_into()
                .map_err(|_| corrupt("an address is not 20 bytes"))?,
        ),
        timestamp_ms: row.get::<i64, _>(5) as u64,
    })
}

/// A block as lists show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    pub height: u64,
    pub hash: Hash,
    pub timestamp_ms: u64,
    pub proposer: PublicKey,
    pub tx_count: u64,
}

/// A block that touched an account, and the account's balance before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceChange {
    pub height: u64,
    pub timestamp_ms: u64,
    pub before: Amount,
}

/// The head as stored.
#[derive(Clone, Debug)]
pub struct Head {
    pub header: BlockHeader,
    pub total_weight: u64,
}

/// The node's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL survives a killed process; only a power loss can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Writes block 0 and the initial accounts the first time; later checks the genesis matches.
    pub async fn init(&self, genesis: &Genesis) -> Result<(), StoreError> {
        let header = genesis.header();
        let hash = header.hash();
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'genesis_hash'")
                .fetch_optional(&self.pool)
                .await?;
        if let Some(stored) = stored {
            return if stored == hash.to_hex() {
                Ok(())
            } else {
                Err(StoreError::OtherChain {
                    stored,
                    given: hash.to_hex(),
                })
            };
        }
        let block = Block {
            header,
            signature: types::Signature([0; 64]),
            transactions: Vec::new(),
        };
        let mut db = self.pool.begin().await?;
        insert_block(&mut db, &block, 0, 0).await?;
        for (address, account) in genesis.initial_state().accounts() {
            sqlx::query("INSERT INTO accounts (address, balance, nonce) VALUES (?, ?, ?)")
                .bind(address.0.to_vec())
                .bind(amount_bytes(account.balance))
                .bind(i64_of(account.nonce))
                .execute(&mut *db)
                .await?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('genesis_hash', ?), ('chain_id', ?)")
            .bind(hash.to_hex())
            .bind(&genesis.chain_id)
            .execute(&mut *db)
            .await?;
        db.commit().await?;
        Ok(())
    }

    /// The head block and the state after it, as the node resumes from them.
    pub async fn load(&self) -> Result<(Head, State), StoreError> {
        let row =
            sqlx::query("SELECT block, total_weight FROM blocks ORDER BY height DESC LIMIT 1")
                .fetch_one(&self.pool)
                .await?;
        let block: Block = serde_json::from_str(row.get::<&str, _>(0)).map_err(corrupt)?;
        let head = Head {
            header: block.header,
            total_weight: row.get::<i64, _>(1) as u64,
        };
        let rows = sqlx::query("SELECT address, balance, nonce FROM accounts")
            .fetch_all(&self.pool)
            .await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in rows {
            let address: [u8; 20] = row
                .get::<Vec<u8>, _>(0)
                .try_into()
                .map_err(|_| corrupt("an address is not 20 bytes"))?;
            accounts.push((
                Address(address),
                amount_of(&row.get::<Vec<u8>, _>(1))?,
                row.get::<i64, _>(2) as u64,
            ));
        }
        let state = State::from_accounts(accounts);
        if state.root() != head.header.state_root {
            return Err(corrupt(
                "the stored accounts do not match the head's state root",
            ));
        }
        Ok((head, state))
    }

    /// Commits `block` on top of the head in one database transaction: the block, its
    /// transactions, the accounts it changed (with their previous values for undo), and the
    /// removal of its transactions from the stored mempool.
    pub async fn commit_block(
        &self,
        block: &Block,
        weight: u64,
        total_weight: u64,
        before: &State,
        after: &State,
    ) -> Result<(), StoreError> {
        let changes = BlockChanges::between(block, weight, total_weight, before, after);
        self.commit_blocks(&[(block, &changes)]).await
    }

    /// Commits consecutive blocks in one database transaction, as catch-up does.
    pub async fn commit_blocks(
        &self,
        blocks: &[(&Block, &BlockChanges)],
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await?;
        for (block, changes) in blocks {
            write_block(&mut db, block, changes).await?;
        }
        db.commit().await?;
        Ok(())
    }

    /// Stores an admitted transaction; once this returns, the transaction survives a crash.
    pub async fn save_pending(
        &self,
        tx: &SignedTransaction,
        received_ms: u64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO mempool (hash, tx, received_ms) VALUES (?, ?, ?)")
            .bind(tx.hash().0.to_vec())
            .bind(serde_json::to_string(tx).map_err(corrupt)?)
            .bind(i64_of(received_ms))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores many admitted transactions in one database transaction (group commit), and
    /// forgets the ones they replaced.
    pub async fn save_pending_many(
        &self,
        txs: &[(SignedTransaction, u64)],
        replaced: &[Hash],
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await?;
        for chunk in txs.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<(Vec<u8>, String, i64)> = chunk
                .iter()
                .map(|(tx, received)| {
                    Ok((
                        tx.hash().0.to_vec(),
                        serde_json::to_string(tx).map_err(corrupt)?,
                        i64_of(*received),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO mempool (hash, tx, received_ms) ",
            );
            insert.push_values(rows, |mut row, (hash, json, received)| {
                row.push_bind(hash).push_bind(json).push_bind(received);
            });
            insert.build().execute(&mut *db).await?;
        }
        for hash in replaced {
            sqlx::query("DELETE FROM mempool WHERE hash = ?")
                .bind(hash.0.to_vec())
                .execute(&mut *db)
                .await?;
        }
        db.commit().await?;
        Ok(())
    }

    /// Forgets pending transactions (included, replaced, expired or invalid).
    pub async fn remove_pending(&self, hashes: &[Hash]) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut db = self.pool.begin().await?;
        for hash in hashes {
            sqlx::query("DELETE FROM mempool WHERE hash = ?")
                .bind(hash.0.to_vec())
                .execute(&mut *db)
                .await?;
        }
        db.commit().await?;
        Ok(())
    }

    /// Every stored pending transaction with its arrival time, oldest first.
    pub async fn pending(&self) -> Result<Vec<(SignedTransaction, u64)>, StoreError> {
        let rows = sqlx::query("SELECT tx, received_ms FROM mempool ORDER BY received_ms")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    serde_json::from_str(row.get::<&str, _>(0)).map_err(corrupt)?,
                    row.get::<i64, _>(1) as u64,
                ))
            })
            .collect()
    }

    fn block_of(row: &SqliteRow) -> Result<Block, StoreError> {
        serde_json::from_str(row.get::<&str, _>(0)).map_err(corrupt)
    }

    pub async fn block_by_height(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let row = sqlx::query("SELECT block FROM blocks WHERE height = ?")
            .bind(i64_of(height))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::block_of).transpose()
    }

    pub async fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, StoreError> {
        let row = sqlx::query("SELECT block FROM blocks WHERE hash = ?")
            .bind(hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::block_of).transpose()
    }

    /// Blocks `start..=end` in ascending order.
    pub async fn blocks_range(&self, start: u64, end: u64) -> Result<Vec<Block>, StoreError> {
        let rows =
            sqlx::query("SELECT block FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height")
                .bind(i64_of(start))
                .bind(i64_of(end))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(Self::block_of).collect()
    }

    /// One included transaction with its place.
    pub async fn transaction(&self, hash: &Hash) -> Result<Option<StoredTx>, StoreError> {
        let row = sqlx::query(
            "SELECT t.tx, t.block_height, t.idx, b.timestamp_ms FROM transactions t \
             JOIN blocks b ON b.height = t.block_height WHERE t.hash = ?",
        )
        .bind(hash.0.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_tx).transpose()
    }

    /// Included transactions, newest first.
    pub async fn transactions(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<StoredTx>, u64), StoreError> {
        let rows = sqlx::query(
            "SELECT t.tx, t.block_height, t.idx, b.timestamp_ms FROM transactions t \
             JOIN blocks b ON b.height = t.block_height \
             ORDER BY t.block_height DESC, t.idx DESC LIMIT ? OFFSET ?",
        )
        .bind(i64::from(limit))
        .bind(i64_of(offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions")
            .fetch_one(&self.pool)
            .await?;
        let txs = rows
            .iter()
            .map(stored_tx)
            .collect::<Result<_, StoreError>>()?;
        Ok((txs, total as u64))
    }

    /// Anchored receipts, newest first, with how many there are.
    pub async fn receipts(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Anchor>, u64), StoreError> {
        let rows = sqlx::query(
            "SELECT r.receipt_hash, r.job_id, r.tx_hash, r.block_height, r.anchored_by, b.timestamp_ms \
             FROM receipts r JOIN blocks b ON b.height = r.block_height \
             ORDER BY r.block_height DESC, r.idx DESC LIMIT ? OFFSET ?",
        )
        .bind(i64::from(limit))
        .bind(i64_of(offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM receipts")
            .fetch_one(&self.pool)
            .await?;
        Ok((
            rows.iter().map(anchor_of).collect::<Result<_, _>>()?,
            total as u64,
        ))
    }

    /// The first anchor of `receipt_hash`, if it was anchored.
    pub async fn receipt(&self, receipt_hash: &Hash) -> Result<Option<Anchor>, StoreError> {
        let row = sqlx::query(
            "SELECT r.receipt_hash, r.job_id, r.tx_hash, r.block_height, r.anchored_by, b.timestamp_ms \
             FROM receipts r JOIN blocks b ON b.height = r.block_height \
             WHERE r.receipt_hash = ? ORDER BY r.block_height, r.idx LIMIT 1",
        )
        .bind(receipt_hash.0.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(anchor_of).transpose()
    }

    /// Included transactions that `address` sent or received, newest first, with how many it
    /// sent and received in all.
    pub async fn history(
        &self,
        address: &Address,
        limit: u32,
        offset: u64,
    ) -> Result<History, StoreError> {
        let key = address.0.to_vec();
        let rows = sqlx::query(
            "SELECT t.tx, t.block_height, t.idx, b.timestamp_ms FROM transactions t \
             JOIN blocks b ON b.height = t.block_height WHERE t.sender = ?1 OR t.recipient = ?1 \
             ORDER BY t.block_height DESC, t.idx DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(&key)
        .bind(i64::from(limit))
        .bind(i64_of(offset))
        .fetch_all(&self.pool)
        .await?;
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions WHERE sender = ?")
            .bind(&key)
            .fetch_one(&self.pool)
            .await?;
        let received: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM transactions WHERE recipient = ?")
                .bind(&key)
                .fetch_one(&self.pool)
                .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM transactions WHERE sender = ?1 OR recipient = ?1",
        )
        .bind(&key)
        .fetch_one(&self.pool)
        .await?;
        Ok(History {
            transactions: rows
                .iter()
                .map(stored_tx)
                .collect::<Result<_, StoreError>>()?,
            sent: sent as u64,
            received: received as u64,
            total: total as u64,
        })
    }

    /// Up to `limit` transactions that `address` sent or received, oldest first, after the
    /// position `after` (block height, index in the block; from the start when `None`). Paging by
    /// position, unlike by offset, neither skips nor repeats rows while blocks are added.
    pub async fn history_after(
        &self,
        address: &Address,
        after: Option<(u64, u32)>,
        limit: u32,
    ) -> Result<Vec<StoredTx>, StoreError> {
        let (height, index) = after.map_or((-1, -1), |(h, i)| (i64_of(h), i64::from(i)));
        let rows = sqlx::query(
            "SELECT t.tx, t.block_height, t.idx, b.timestamp_ms FROM transactions t \
             JOIN blocks b ON b.height = t.block_height \
             WHERE (t.sender = ?1 OR t.recipient = ?1) \
             AND (t.block_height > ?2 OR (t.block_height = ?2 AND t.idx > ?3)) \
             ORDER BY t.block_height, t.idx LIMIT ?4",
        )
        .bind(address.0.to_vec())
        .bind(height)
        .bind(index)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_tx).collect()
    }

    /// The accounts as they were after block `height`, from `current` (the state after the head)
    /// and the undo log. Only valid for heights the undo log still covers (all of them today).
    pub async fn state_at(&self, height: u64, current: &State) -> Result<State, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut state = current.clone();
        for (address, previous) in undo_above(&mut conn, height).await? {
            state.set(address, previous);
        }
        Ok(state)
    }

    /// The chain weight up to and including block `height`.
    pub async fn total_weight_at(&self, height: u64) -> Result<Option<u64>, StoreError> {
        let weight: Option<i64> =
            sqlx::query_scalar("SELECT total_weight FROM blocks WHERE height = ?")
                .bind(i64_of(height))
                .fetch_optional(&self.pool)
                .await?;
        Ok(weight.map(|w| w as u64))
    }

    /// Replaces every block above `height` with `blocks` in one database transaction: the
    /// accounts the old blocks changed are restored, the new blocks written, and the old blocks'
    /// transactions that the new ones do not include go back to the stored mempool. A crash at
    /// any point leaves either the old chain or the new one. Returns those transactions.
    pub async fn replace_above(
        &self,
        height: u64,
        blocks: &[(&Block, &BlockChanges)],
        received_ms: u64,
    ) -> Result<Vec<SignedTransaction>, StoreError> {
        let mut db = self.pool.begin().await?;
        for (address, previous) in undo_above(&mut db, height).await? {
            match previous {
                None => {
                    sqlx::query("DELETE FROM accounts WHERE address = ?")
                        .bind(address.0.to_vec())
                        .execute(&mut *db)
                        .await?;
                }
                Some(account) => {
                    sqlx::query(
                        "INSERT INTO accounts (address, balance, nonce) VALUES (?, ?, ?) \
                         ON CONFLICT (address) DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce",
                    )
                    .bind(address.0.to_vec())
                    .bind(amount_bytes(account.balance))
                    .bind(i64_of(account.nonce))
                    .execute(&mut *db)
                    .await?;
                }
            }
        }
        let rows = sqlx::query("SELECT block FROM blocks WHERE height > ? ORDER BY height")
            .bind(i64_of(height))
            .fetch_all(&mut *db)
            .await?;
        let mut abandoned = Vec::new();
        for row in &rows {
            abandoned.extend(Self::block_of(row)?.transactions);
        }
        sqlx::query("DELETE FROM blocks WHERE height > ?")
            .bind(i64_of(height))
            .execute(&mut *db)
            .await?;
        for (block, changes) in blocks {
            write_block(&mut db, block, changes).await?;
        }
        let included: BTreeSet<Hash> = blocks
            .iter()
            .flat_map(|(b, _)| b.transactions.iter().map(SignedTransaction::hash))
            .collect();
        abandoned.retain(|tx| !included.contains(&tx.hash()));
        for tx in &abandoned {
            sqlx::query("INSERT OR IGNORE INTO mempool (hash, tx, received_ms) VALUES (?, ?, ?)")
                .bind(tx.hash().0.to_vec())
                .bind(serde_json::to_string(tx).map_err(corrupt)?)
                .bind(i64_of(received_ms))
                .execute(&mut *db)
                .await?;
        }
        db.commit().await?;
        Ok(abandoned)
    }

    /// Summaries of blocks `start..=end`, newest first, read from the columns stored beside
    /// each block (no block is decoded).
    pub async fn block_summaries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<BlockSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT height, hash, timestamp_ms, proposer, tx_count FROM blocks \
             WHERE height BETWEEN ? AND ? ORDER BY height DESC",
        )
        .bind(i64_of(start))
        .bind(i64_of(end))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(BlockSummary {
                    height: row.get::<i64, _>(0) as u64,
                    hash: hash_of(row.get(1))?,
                    timestamp_ms: row.get::<i64, _>(2) as u64,
                    proposer: PublicKey(
                        row.get::<Vec<u8>, _>(3)
                            .try_into()
                            .map_err(|_| corrupt("a public key is not 32 bytes"))?,
                    ),
                    tx_count: row.get::<i64, _>(4) as u64,
                })
            })
            .collect()
    }

    /// How many transactions the blocks with a timestamp at or after `since_ms` hold. Only blocks
    /// from `from_height` up are looked at (timestamps are not indexed; heights bound the scan).
    pub async fn txs_since(&self, since_ms: u64, from_height: u64) -> Result<u64, StoreError> {
        let txs: Option<i64> = sqlx::query_scalar(
            "SELECT SUM(tx_count) FROM blocks \
             WHERE height >= ? AND height > 0 AND timestamp_ms >= ?",
        )
        .bind(i64_of(from_height))
        .bind(i64_of(since_ms))
        .fetch_one(&self.pool)
        .await?;
        Ok(txs.unwrap_or(0) as u64)
    }

    /// The last `limit` blocks that touched `address`, oldest first, each with the balance the
    /// account had before it (from the undo log). With the current balance this gives the
    /// balance after every change: the one before the next change, or the current one.
    pub async fn balance_changes(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<BalanceChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.height, b.timestamp_ms, u.balance FROM account_undo u \
             JOIN blocks b ON b.height = u.height WHERE u.address = ? \
             ORDER BY u.height DESC LIMIT ?",
        )
        .bind(address.0.to_vec())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut changes = rows
            .iter()
            .map(|row| {
                Ok(BalanceChange {
                    height: row.get::<i64, _>(0) as u64,
                    timestamp_ms: row.get::<i64, _>(1) as u64,
                    before: match row.get::<Option<Vec<u8>>, _>(2) {
                        Some(bytes) => amount_of(&bytes)?,
                        None => Amount::ZERO,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        changes.reverse();
        Ok(changes)
    }

    /// Counts of stored blocks (genesis included) and transactions.
    pub async fn totals(&self) -> Result<(u64, u64), StoreError> {
        let blocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blocks")
            .fetch_one(&self.pool)
            .await?;
        let txs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions")
            .fetch_one(&self.pool)
            .await?;
        Ok((blocks as u64, txs as u64))
    }
}

/// The undo entries of every block above `height`, newest block first: applied in this order,
/// each account ends as it was after block `height`.
async fn undo_above(
    db: &mut sqlx::SqliteConnection,
    height: u64,
) -> Result<Vec<(Address, Option<Account>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT address, balance, nonce FROM account_undo WHERE height > ? ORDER BY height DESC",
    )
    .bind(i64_of(height))
    .fetch_all(&mut *db)
    .await?;
    rows.iter()
        .map(|row| {
            let address: [u8; 20] = row
                .get::<Vec<u8>, _>(0)
                .try_into()
                .map_err(|_| corrupt("an address is not 20 bytes"))?;
            let previous = match row.get::<Option<Vec<u8>>, _>(1) {
                Some(bytes) => Some(Account {
                    balance: amount_of(&bytes)?,
                    nonce: row.get::<i64, _>(2) as u64,
                }),
                None => None,
            };
            Ok((Address(address), previous))
        })
        .collect()
}

/// What a block changed, for storage: its weights and every touched account before and after.
#[derive(Clone, Debug)]
pub struct BlockChanges {
    pub weight: u64,
    pub total_weight: u64,
    pub accounts: Vec<(Address, Option<Account>, Option<Account>)>,
}

impl BlockChanges {
    /// The accounts `block` touched (its proposer, senders and recipients) in both states.
    pub fn between(
        block: &Block,
        weight: u64,
        total_weight: u64,
        before: &State,
        after: &State,
    ) -> Self {
        let mut touched = BTreeSet::from([Address::of(&block.header.proposer)]);
        for tx in &block.transactions {
            touched.insert(tx.tx.sender_address());
            touched.extend(tx.tx.body.credited());
        }
        let accounts = touched
            .into_iter()
            .map(|a| (a, before.get(&a), after.get(&a)))
            .collect();
        BlockChanges {
            weight,
            total_weight,
            accounts,
        }
    }
}

async fn write_block(
    db: &mut sqlx::SqliteConnection,
    block: &Block,
    changes: &BlockChanges,
) -> Result<(), StoreError> {
    let height = i64_of(block.header.height);
    insert_block(&mut *db, block, changes.weight, changes.total_weight).await?;
    // Multi-row statements: with sqlx every statement is a round trip to SQLite's thread.
    for chunk in changes.accounts.chunks(ROWS_PER_STATEMENT) {
        let mut undo = QueryBuilder::<Sqlite>::new(
            "INSERT INTO account_undo (height, address, balance, nonce) ",
        );
        undo.push_values(chunk, |mut row, (address, old, _)| {
            row.push_bind(height)
                .push_bind(address.0.to_vec())
                .push_bind(old.map(|a| amount_bytes(a.balance)))
                .push_bind(old.map(|a| i64_of(a.nonce)));
        });
        undo.build().execute(&mut *db).await?;
        let present: Vec<(&Address, Account)> = chunk
            .iter()
            .filter_map(|(a, _, new)| new.map(|n| (a, n)))
            .collect();
        if !present.is_empty() {
            let mut upsert =
                QueryBuilder::<Sqlite>::new("INSERT INTO accounts (address, balance, nonce) ");
            upsert.push_values(&present, |mut row, (address, account)| {
                row.push_bind(address.0.to_vec())
                    .push_bind(amount_bytes(account.balance))
                    .push_bind(i64_of(account.nonce));
            });
            upsert.push(" ON CONFLICT (address) DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce");
            upsert.build().execute(&mut *db).await?;
        }
        // Touched but absent after (a proposer of an empty block earns nothing); only a row that
        // existed before needs deleting.
        for (address, _, _) in chunk
            .iter()
            .filter(|(_, old, new)| new.is_none() && old.is_some())
        {
            sqlx::query("DELETE FROM accounts WHERE address = ?")
                .bind(address.0.to_vec())
                .execute(&mut *db)
                .await?;
        }
    }
    Ok(())
}

async fn insert_block(
    db: &mut sqlx::SqliteConnection,
    block: &Block,
    weight: u64,
    total_weight: u64,
) -> Result<(), StoreError> {
    let header = &block.header;
    let height = i64_of(header.height);
    sqlx::query(
        "INSERT INTO blocks (height, hash, parent_hash, timestamp_ms, proposer, tx_count, weight, total_weight, block) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(height)
    .bind(header.hash().0.to_vec())
    .bind(header.parent_hash.0.to_vec())
    .bind(i64_of(header.timestamp_ms))
    .bind(header.proposer.0.to_vec())
    .bind(block.transactions.len() as i64)
    .bind(i64_of(weight))
    .bind(i64_of(total_weight))
    .bind(serde_json::to_string(block).map_err(corrupt)?)
    .execute(&mut *db)
    .await?;
    let rows: Vec<TxRow> = block
        .transactions
        .iter()
        .enumerate()
        .map(|(idx, tx)| {
            let recipient = tx.tx.body.recipient().map(|to| to.0.to_vec());
            let json = serde_json::to_string(tx).map_err(corrupt)?;
            Ok((
                tx.hash().0.to_vec(),
                idx as i64,
                tx.tx.sender_address().0.to_vec(),
                recipient,
                json,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO transactions (hash, block_height, idx, sender, recipient, tx) ",
        );
        insert.push_values(chunk, |mut row, (hash, idx, sender, recipient, json)| {
            row.push_bind(hash.clone())
                .push_bind(height)
                .push_bind(*idx)
                .push_bind(sender.clone())
                .push_bind(recipient.clone())
                .push_bind(json.clone());
        });
        insert.build().execute(&mut *db).await?;
        let mut delete = QueryBuilder::<Sqlite>::new("DELETE FROM mempool WHERE hash IN (");
        let mut list = delete.separated(", ");
        for (hash, ..) in chunk {
            list.push_bind(hash.clone());
        }
        delete.push(")");
        delete.build().execute(&mut *db).await?;
    }
    for (idx, tx) in block.transactions.iter().enumerate() {
        let anchored = match &tx.tx.body {
            TxBody::ReceiptAnchor {
                receipt_hash,
                job_id,
            } => Some((receipt_hash, job_id)),
            TxBody::EscrowRelease {
                receipt_hash,
                terms,
                ..
            } => Some((receipt_hash, &terms.job_id)),
            _ => None,
        };
        if let Some((receipt_hash, job_id)) = anchored {
            sqlx::query(
                "INSERT INTO receipts (tx_hash, receipt_hash, job_id, block_height, idx, anchored_by) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(tx.hash().0.to_vec())
            .bind(receipt_hash.0.to_vec())
            .bind(job_id)
            .bind(height)
            .bind(idx as i64)
            .bind(tx.tx.sender_address().0.to_vec())
            .execute(&mut *db)
            .await?;
        }
    }
    Ok(())
}
