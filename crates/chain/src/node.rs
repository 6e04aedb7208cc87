//! The running node: it holds the head, the state and the mempool, admits transactions (durably), produces blocks in its turn, imports and verifies blocks from peers, pushes what it learns to them and pulls what it misses. Time comes from a [`Clock`] so tests control it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast};
use types::{Block, BlockHeader, Hash, MerkleProof, SecretKey, SignedTransaction};

use crate::{
    block::{self, BlockError},
    consensus,
    genesis::Genesis,
    mempool::{Admitted, Mempool, MempoolLimits, PoolError},
    state::{Account, State},
    store::{BlockChanges, Head, Store, StoreError},
};

/// Wall-clock milliseconds since the Unix epoch, behind a trait so tests can drive time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// How a node runs.
#[derive(Debug)]
pub struct NodeConfig {
    pub genesis: Genesis,
    pub db_path: std::path::PathBuf,
    /// The authority key this node proposes with; `None` for a node that only follows.
    pub key: Option<SecretKey>,
    /// Base URLs of peers whose RPC lives under `/rpc/` (e.g. `http://127.0.0.1:9081`).
    pub peers: Vec<String>,
    /// Produce a block only when transactions wait (plus a heartbeat), or in every slot.
    pub empty_blocks: bool,
    pub mempool: MempoolLimits,
}

/// What the node tells listeners (the RPC's live feed, for example).
#[derive(Clone, Debug)]
pub enum Event {
    Block(Arc<Block>),
    Transaction(Arc<SignedTransaction>),
}

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Refused(#[from] PoolError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What importing a block did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Appended,
    AlreadyKnown,
    /// The block is beyond our head; the gap is being pulled from peers.
    Gap {
        head_height: u64,
    },
    /// The block competes with one we have and does not win.
    Fork {
        head_height: u64,
    },
}

/// Why an imported block was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Invalid(#[from] BlockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a transaction is.
#[derive(Clone, Debug)]
pub enum Located {
    Pending(SignedTransaction),
    Included(crate::store::StoredTx),
}

/// A page of accounts by balance.
#[derive(Clone, Debug)]
pub struct Ranking {
    pub accounts: Vec<(types::Address, Account)>,
    /// Accounts on chain.
    pub total: usize,
    /// `None` if the balances overflow (they cannot on a valid chain).
    pub supply: Option<types::Amount>,
}

/// Where an included transaction is, and the proof of it.
#[derive(Clone, Debug)]
pub struct Inclusion {
    pub tx: crate::store::StoredTx,
    pub block: Block,
    pub proof: MerkleProof,
    /// Deeper than the reorg limit.
    pub is_final: bool,
}

/// Blocks verified one after another, each with what it changed, and where that left the chain.
struct Branch {
    blocks: Vec<(Block, BlockChanges)>,
    head: BlockHeader,
    state: State,
    total_weight: u64,
    /// Why the first block that did not verify was refused; the blocks before it are kept.
    error: Option<BlockError>,
}

/// Verifies `blocks` in order on top of `parent` and its `state`, stopping at the first that
/// fails. Only what each block changed is kept, not a state per block.
fn verify_branch(
    genesis: &Genesis,
    parent: BlockHeader,
    state: State,
    total_weight: u64,
    blocks: impl IntoIterator<Item = Block>,
    now_ms: u64,
) -> Branch {
    let mut branch = Branch {
        blocks: Vec::new(),
        head: parent,
        state,
        total_weight,
        error: None,
    };
    for block in blocks {
        match block::verify(genesis, &branch.head, &branch.state, &block, now_ms) {
            Ok(after) => {
                let weight = consensus::block_weight(genesis, &block.header);
                branch.total_weight += weight;
                let changes = BlockChanges::between(
                    &block,
                    weight,
                    branch.total_weight,
                    &branch.state,
                    &after,
                );
                branch.head = block.header.clone();
                branch.state = after;
                branch.blocks.push((block, changes));
            }
            Err(error) => {
                branch.error = Some(error);
                break;
            }
        }
    }
    branch
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub blocks_proposed: AtomicU64,
    pub blocks_imported: AtomicU64,
    pub txs_accepted: AtomicU64,
    pub last_build_us: AtomicU64,
    pub last_import_us: AtomicU64,
    pub reorgs: AtomicU64,
    rejected_txs: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    rejected_blocks: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Metrics {
    fn count(
        map: &std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
        code: &'static str,
    ) {
        if let Ok(mut map) = map.lock() {
            *map.entry(code).or_default() += 1;
        }
    }

    /// Rejected transactions by reason code.
    pub fn rejected_txs(&self) -> Vec<(&'static str, u64)> {
        self.rejected_txs
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    /// Rejected blocks by reason code.
    pub fn rejected_blocks(&self) -> Vec<(&'static str, u64)> {
        self.rejected_blocks
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }
}

struct Chain {
    head: Head,
    state: State,
    mempool: Mempool,
}

/// A transaction on its way to the stored mempool; `done` answers once it is durable.
struct PendingWrite {
    tx: SignedTransaction,
    received_ms: u64,
    replaced: Option<Hash>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Writes admitted transactions in batches: whatever arrived while the previous batch was being
/// committed goes into the next database transaction, so concurrent submitters share one commit.
async fn pending_writer(store: Store, mut queue: tokio::sync::mpsc::Receiver<PendingWrite>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 4_096 {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let txs: Vec<(SignedTransaction, u64)> = batch
            .iter()
            .map(|w| (w.tx.clone(), w.received_ms))
            .collect();
        let replaced: Vec<Hash> = batch.iter().filter_map(|w| w.replaced).collect();
        let result = store
            .save_pending_many(&txs, &replaced)
            .await
            .map_err(|e| e.to_string());
        for write in batch {
            let _ = write.done.send(result.clone());
        }
    }
}

struct Shared {
    pending_writes: tokio::sync::mpsc::Sender<PendingWrite>,
    genesis: Genesis,
    store: Store,
    key: Option<SecretKey>,
    peers: Vec<String>,
    empty_blocks: bool,
    http: reqwest::Client,
    chain: Mutex<Chain>,
    events: broadcast::Sender<Event>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    /// The highest head any peer reported, so a node that is behind syncs before it proposes.
    best_peer_height: AtomicU64,
    /// Held while a sync runs.
    syncing: Mutex<()>,
    /// What each peer answered last, by URL.
    peer_status: std::sync::Mutex<std::collections::BTreeMap<String, PeerStatus>>,
}

/// What the node last heard from a peer (it asks each one for its head every sync round).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub url: String,
    /// The peer's head height at its last answer.
    pub height: Option<u64>,
    /// When it last answered, in milliseconds since the epoch.
    pub last_seen_ms: Option<u64>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

/// A handle on the node; cheap to clone.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("chain_id", &self.shared.genesis.chain_id)
            .finish_non_exhaustive()
    }
}

/// A peer's answer to `GET /rpc/head`.
#[derive(Debug, Deserialize)]
struct PeerHead {
    height: u64,
    total_weight: u64,
    hash: Hash,
}

/// Why syncing from a peer stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the peer did not answer usefully: {0}")]
    Peer(#[from] reqwest::Error),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the peer's chain parts from ours deeper than the reorg limit")]
    TooDeep,
}

/// A peer's answer to `GET /rpc/blocks-range` in full form.
#[derive(Debug, Deserialize)]
struct PeerBlocks {
    blocks: Vec<Block>,
}

/// The most blocks one sync request asks for (the RPC serves at most this many full blocks).
pub const SYNC_BATCH: u64 = 100;

impl Node {
    /// Opens the database (writing genesis the first time), loads the head and the stored mempool.
    pub async fn open(config: NodeConfig, clock: Arc<dyn Clock>) -> Result<Node, StoreError> {
        config
            .genesis
            .validate()
            .map_err(|e| StoreError::Corrupt(format!("invalid genesis: {e}")))?;
        let store = Store::open(&config.db_path).await?;
        store.init(&config.genesis).await?;
        let (head, state) = store.load().await?;
        let mut mempool = Mempool::new(config.mempool);
        let mut stale = Vec::new();
        // In nonce order per sender: arrival order breaks when a transaction was replaced by fee
        // after its successor arrived.
        let mut stored = store.pending().await?;
        stored.sort_by_key(|(tx, _)| (tx.tx.sender_address(), tx.tx.nonce));
        for (tx, received_ms) in stored {
            let hash = tx.hash();
            if mempool.admit(tx, &state, received_ms).is_err() {
                stale.push(hash);
            }
        }
        store.remove_pending(&stale).await?;
        tracing::info!(
            height = head.header.height,
            pending = mempool.len(),
            "chain loaded"
        );
        let (events, _) = broadcast::channel(1024);
        let (pending_writes, queue) = tokio::sync::mpsc::channel(16_384);
        tokio::spawn(pending_writer(store.clone(), queue));
        let shared = Shared {
            pending_writes,
            genesis: config.genesis,
            store,
            key: config.key,
            peers: config.peers.clone(),
            empty_blocks: config.empty_blocks,
            // Generous overall, as a batch of full blocks can be large; quick to give up on a
            // peer that is down.
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            chain: Mutex::new(Chain {
                head,
                state,
                mempool,
            }),
            events,
            metrics: Metrics::default(),
            clock,
            best_peer_height: AtomicU64::new(0),
            syncing: Mutex::new(()),
            peer_status: std::sync::Mutex::new(
                config
                    .peers
                    .iter()
                    .map(|url| {
                        (
                            url.clone(),
                            PeerStatus {
                                url: url.clone(),
                                ..PeerStatus::default()
                            },
                        )
                    })
                    .collect(),
            ),
        };
        Ok(Node {
            shared: Arc::new(shared),
        })
    }

    pub fn genesis(&self) -> &Genesis {
        &self.shared.genesis
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    pub fn peers(&self) -> &[String] {
        &self.shared.peers
    }

    /// The authority key this node proposes with; `None` for a node that only follows.
    pub fn authority(&self) -> Option<types::PublicKey> {
        self.shared.key.as_ref().map(SecretKey::public_key)
    }

    /// What each peer answered last, in the order of their URLs.
    pub fn peer_status(&self) -> Vec<PeerStatus> {
        self.shared
            .peer_status
            .lock()
            .map(|peers| peers.values().cloned().collect())
            .unwrap_or_default()
    }

    fn note_peer(&self, url: &str, answer: Result<u64, String>) {
        let now = self.shared.clock.now_ms();
        if let Ok(mut peers) = self.shared.peer_status.lock()
            && let Some(peer) = peers.get_mut(url)
        {
            match answer {
                Ok(height) => {
                    peer.height = Some(height);
                    peer.last_seen_ms = Some(now);
                    peer.error = None;
                }
                Err(error) => peer.error = Some(error),
            }
        }
    }

    /// Listens to new blocks and transactions.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    pub async fn head(&self) -> Head {
        self.shared.chain.lock().await.head.clone()
    }

    pub async fn account(&self, address: &types::Address) -> Account {
        self.shared.chain.lock().await.state.account(address)
    }

    /// The current state (a copy), for proofs and listings.
    pub async fn state(&self) -> State {
        self.shared.chain.lock().await.state.clone()
    }

    /// Pending transactions in inclusion order.
    pub async fn pending(&self) -> Vec<SignedTransaction> {
        self.shared.chain.lock().await.mempool.ordered()
    }

    /// The nonce the next transaction of `address` must carry, counting what waits.
    pub async fn next_nonce(&self, address: &types::Address) -> u64 {
        let chain = self.shared.chain.lock().await;
        chain.state.account(address).nonce + chain.mempool.pending_of(address) as u64
    }

    /// Whether block `height` is deeper below the head than any reorg may reach.
    pub async fn is_final(&self, height: u64) -> bool {
        let head = self.head().await.header.height;
        head.saturating_sub(height) >= self.shared.genesis.params.max_reorg_depth
    }

    /// An included transaction with its block and the Merkle path to the block's `tx_root`.
    pub async fn inclusion(&self, hash: &Hash) -> Result<Option<Inclusion>, StoreError> {
        let store = &self.shared.store;
        let Some(stored) = store.transaction(hash).await? else {
            return Ok(None);
        };
        let Some(block) = store.block_by_height(stored.block_height).await? else {
            return Ok(None);
        };
        let leaves: Vec<Hash> = block
            .transactions
            .iter()
            .map(SignedTransaction::hash)
            .collect();
        let Some(proof) = MerkleProof::build(&leaves, stored.index as usize) else {
            return Ok(None);
        };
        let final_ = self.is_final(stored.block_height).await;
        Ok(Some(Inclusion {
            tx: stored,
            block,
            proof,
            is_final: final_,
        }))
    }

    /// Where the transaction `hash` is: waiting in the mempool or stored in a block. The mempool
    /// is asked first: a transaction leaves it only once its block is stored (both under the
    /// chain's lock), so asking in this order cannot miss one that moves meanwhile.
    pub async fn find_tx(&self, hash: &Hash) -> Result<Option<Located>, StoreError> {
        if let Some(tx) = self.pending_tx(hash).await {
            return Ok(Some(Located::Pending(tx)));
        }
        Ok(self
            .shared
            .store
            .transaction(hash)
            .await?
            .map(Located::Included))
    }

    /// A pending transaction by hash.
    pub async fn pending_tx(&self, hash: &Hash) -> Option<SignedTransaction> {
        self.shared.chain.lock().await.mempool.get(hash).cloned()
    }

    /// Accounts by balance, largest first (equal balances by address), skipping `offset` and
    /// taking `limit`, with how many accounts there are and the total supply.
    pub async fn richest(&self, offset: usize, limit: usize) -> Ranking {
        let chain = self.shared.chain.lock().await;
        let mut accounts: Vec<(&types::Address, &Account)> = chain.state.accounts().collect();
        let order = |a: &(&types::Address, &Account), b: &(&types::Address, &Account)| {
            b.1.balance.cmp(&a.1.balance).then(a.0.cmp(b.0))
        };
        let end = offset.saturating_add(limit).min(accounts.len());
        // Only the first `end` need sorting.
        if end > 0 && end < accounts.len() {
            accounts.select_nth_unstable_by(end - 1, order);
            accounts.truncate(end);
        }
        accounts.sort_unstable_by(order);
        Ranking {
            accounts: accounts
                .iter()
                .skip(offset)
                .map(|(address, account)| (**address, **account))
                .collect(),
            total: chain.state.len(),
            supply: chain.state.supply(),
        }
    }

    pub async fn mempool_len(&self) -> usize {
        self.shared.chain.lock().await.mempool.len()
    }

    /// Admits a transaction: checks every rule, stores it, then relays it to peers. Returns once
    /// the transaction is durable.
    pub async fn submit(&self, tx: SignedTransaction) -> Result<Admitted, SubmitError> {
        let admitted = self.admit(tx.clone()).await?;
        if let Admitted::New(_) | Admitted::Replaced { .. } = admitted {
            let _ = self
                .shared
                .events
                .send(Event::Transaction(Arc::new(tx.clone())));
            self.relay("sendTx", || serde_json::to_value(&tx).unwrap_or_default());
        }
        Ok(admitted)
    }

    async fn admit(&self, tx: SignedTransaction) -> Result<Admitted, SubmitError> {
        let shared = &self.shared;
        if let Err(rejection) = State::check_standalone(&tx, &shared.genesis) {
            Metrics::count(&shared.metrics.rejected_txs, rejection.code());
            return Err(PoolError::from(rejection).into());
        }
        let now = shared.clock.now_ms();
        let admitted = {
            let mut chain = shared.chain.lock().await;
            let chain = &mut *chain;
            // An escrow that is taken, empty or not yet expired now is refused at once; what
            // changes before the next block is caught when the block is built.
            let escrow = chain
                .state
                .check_escrow(&tx, chain.head.header.height + 1)
                .map_err(PoolError::from);
            match escrow.and_then(|()| chain.mempool.admit(tx.clone(), &chain.state, now)) {
                Ok(admitted) => admitted,
                Err(error) => {
                    Metrics::count(&shared.metrics.rejected_txs, error.code());
                    return Err(error.into());
                }
            }
        };
        // The lock is released: other submitters proceed while this one waits for its commit.
        let replaced = match &admitted {
            Admitted::Duplicate(_) => return Ok(admitted),
            Admitted::New(_) => None,
            Admitted::Replaced { old, .. } => Some(*old),
        };
        let (done, durable) = tokio::sync::oneshot::channel();
        let write = PendingWrite {
            tx,
            received_ms: now,
            replaced,
            done,
        };
        let stored = match shared.pending_writes.send(write).await {
            Ok(()) => durable
                .await
                .unwrap_or_else(|_| Err("the writer stopped".into())),
            Err(_) => Err("the writer stopped".into()),
        };
        stored.map_err(StoreError::NotStored)?;
        shared.metrics.txs_accepted.fetch_add(1, Ordering::Relaxed);
        Ok(admitted)
    }

    /// Sends `body` to every peer's `/rpc/{route}` in the background.
    fn relay(&self, route: &'static str, body: impl FnOnce() -> serde_json::Value) {
        if self.shared.peers.is_empty() {
            return;
        }
        let body = body();
        for peer in &self.shared.peers {
            let url = format!("{peer}/rpc/{route}");
            let http = self.shared.http.clone();
            let body = body.clone();
            tokio::spawn(async move {
                if let Err(error) = http.post(&url).json(&body).send().await {
                    tracing::debug!(%url, %error, "peer did not take a relayed message");
                }
            });
        }
    }

    /// Verifies and appends a block from a peer.
    pub async fn import(&self, block: Block) -> Result<ImportOutcome, ImportError> {
        let shared = &self.shared;
        let started = Instant::now();
        let mut chain = shared.chain.lock().await;
        let head = &chain.head.header;
        let head_height = head.height;
        if block.header.height <= head_height {
            let known = shared.store.block_by_hash(&block.hash()).await?.is_some();
            return Ok(if known {
                ImportOutcome::AlreadyKnown
            } else {
                ImportOutcome::Fork { head_height }
            });
        }
        if block.header.height > head_height + 1 {
            // Only a block an authority signed may hold back our own proposals until we sync;
            // anyone could claim any height.
            let signed = shared.genesis.authorities.contains(&block.header.proposer)
                && block.verify_signature().is_ok();
            if signed {
                shared
                    .best_peer_height
                    .fetch_max(block.header.height, Ordering::Relaxed);
            }
            return Ok(ImportOutcome::Gap { head_height });
        }
        let now = shared.clock.now_ms();
        let state = match block::verify(&shared.genesis, head, &chain.state, &block, now) {
            Ok(state) => state,
            Err(error) => {
                Metrics::count(&shared.metrics.rejected_blocks, error.code());
                tracing::warn!(
                    height = block.header.height,
                    reason = error.code(),
                    "refused a block"
                );
                return Err(error.into());
            }
        };
        self.commit(&mut chain, block, state).await?;
        shared
            .metrics
            .blocks_imported
            .fetch_add(1, Ordering::Relaxed);
        shared
            .metrics
            .last_import_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(ImportOutcome::Appended)
    }

    /// Verifies consecutive blocks that extend our head and commits them in one database
    /// transaction, as catch-up needs; stops at the first block that does not fit. Returns how
    /// many were added.
    pub async fn import_batch(&self, blocks: Vec<Block>) -> Result<usize, ImportError> {
        let shared = &self.shared;
        let genesis = &shared.genesis;
        let started = Instant::now();
        let mut chain = shared.chain.lock().await;
        let now = shared.clock.now_ms();
        let next = chain.head.header.height + 1;
        let blocks = blocks.into_iter().skip_while(|b| b.header.height < next);
        let branch = verify_branch(
            genesis,
            chain.head.header.clone(),
            chain.state.clone(),
            chain.head.total_weight,
            blocks,
            now,
        );
        if let Some(error) = branch.error {
            Metrics::count(&shared.metrics.rejected_blocks, error.code());
            // A block that merely does not follow is not a fault of what came before it.
            if branch.blocks.is_empty() && !matches!(error, BlockError::NotAChild) {
                return Err(error.into());
            }
        }
        let Branch {
            blocks: staged,
            head: parent,
            state,
            total_weight: total,
            ..
        } = branch;
        if staged.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(&Block, &BlockChanges)> = staged.iter().map(|(b, c)| (b, c)).collect();
        shared.store.commit_blocks(&rows).await?;
        let chain = &mut *chain;
        chain.state = state;
        chain.head = Head {
            header: parent,
            total_weight: total,
        };
        chain.mempool.revalidate(&chain.state);
        let added = staged.len();
        for (block, _) in staged {
            let _ = shared.events.send(Event::Block(Arc::new(block)));
        }
        shared
            .metrics
            .blocks_imported
            .fetch_add(added as u64, Ordering::Relaxed);
        shared.metrics.last_import_us.store(
            started.elapsed().as_micros() as u64 / added as u64,
            Ordering::Relaxed,
        );
        Ok(added)
    }

    /// Writes a verified block and moves the head, the state and the mempool to it.
    async fn commit(
        &self,
        chain: &mut Chain,
        block: Block,
        state: State,
    ) -> Result<(), StoreError> {
        let shared = &self.shared;
        let weight = consensus::block_weight(&shared.genesis, &block.header);
        let total_weight = chain.head.total_weight + weight;
        shared
            .store
            .commit_block(&block, weight, total_weight, &chain.state, &state)
            .await?;
        chain.state = state;
        chain.head = Head {
            header: block.header.clone(),
            total_weight,
        };
        chain.mempool.revalidate(&chain.state);
        let _ = shared.events.send(Event::Block(Arc::new(block)));
        Ok(())
    }

    /// Proposes a block if this node is an authority whose time in the current slot has come.
    /// Returns the new block's height when it produced one.
    pub async fn propose_if_due(&self) -> Result<Option<u64>, StoreError> {
        let shared = &self.shared;
        let Some(key) = &shared.key else {
            return Ok(None);
        };
        let genesis = &shared.genesis;
        let now = shared.clock.now_ms();
        let mut chain = shared.chain.lock().await;
        let head = chain.head.header.clone();
        if shared.best_peer_height.load(Ordering::Relaxed) > head.height {
            return Ok(None);
        }
        let slot = consensus::slot_of(genesis, now);
        if head.height > 0 && slot <= consensus::slot_of(genesis, head.timestamp_ms) {
            return Ok(None);
        }
        let Some(rank) = consensus::rank(genesis, &key.public_key(), slot) else {
            return Ok(None);
        };
        if now < consensus::slot_start_ms(genesis, slot) + consensus::delay_ms(genesis, rank)
            || now <= head.timestamp_ms
        {
            return Ok(None);
        }
        let heartbeat_due = now.saturating_sub(head.timestamp_ms) >= genesis.params.heartbeat_ms;
        if chain.mempool.is_empty() && !shared.empty_blocks && !heartbeat_due {
            return Ok(None);
        }
        let started = Instant::now();
        let candidates = chain.mempool.ordered();
        let built = block::build(genesis, &head, &chain.state, candidates, key, now);
        for (hash, _) in &built.dropped {
            chain.mempool.remove(hash);
        }
        let height = built.block.header.height;
        let block = built.block;
        self.commit(&mut chain, block.clone(), built.state).await?;
        let dropped = chain.mempool.take_dropped();
        shared.store.remove_pending(&dropped).await?;
        drop(chain);
        shared
            .metrics
            .blocks_proposed
            .fetch_add(1, Ordering::Relaxed);
        shared
            .metrics
            .last_build_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        tracing::info!(height, txs = block.transactions.len(), "proposed a block");
        self.relay("importBlock", || {
            serde_json::to_value(&block).unwrap_or_default()
        });
        Ok(Some(height))
    }

    /// Pulls what the peers have that we lack, switching to a heavier fork when one exists;
    /// returns how many blocks were added.
    pub async fn sync_once(&self) -> usize {
        // One sync at a time: pushes that report gaps must not pile up concurrent syncs.
        let Ok(_syncing) = self.shared.syncing.try_lock() else {
            return 0;
        };
        let mut imported = 0;
        for peer in self.shared.peers.clone() {
            match self.sync_from(&peer).await {
                Ok(n) => imported += n,
                Err(error) => tracing::debug!(%peer, %error, "sync from peer failed"),
            }
        }
        // Whatever the peers said, we are now as far as we could get from them.
        let ours = self.head().await.header.height;
        self.shared
            .best_peer_height
            .fetch_min(ours, Ordering::Relaxed);
        imported
    }

    async fn fetch_blocks(
        &self,
        peer: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<Block>, SyncError> {
        let url = format!("{peer}/rpc/blocks-range?start={start}&end={end}&full=true");
        let response = self
            .shared
            .http
            .get(&url)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json::<PeerBlocks>().await?.blocks)
    }

    async fn sync_from(&self, peer: &str) -> Result<usize, SyncError> {
        let shared = &self.shared;
        let asked = async {
            shared
                .http
                .get(format!("{peer}/rpc/head"))
                .send()
                .await?
                .error_for_status()?
                .json::<PeerHead>()
                .await
        };
        let peer_head = asked
            .await
            .inspect_err(|e| self.note_peer(peer, Err(e.to_string())))?;
        self.note_peer(peer, Ok(peer_head.height));
        shared
            .best_peer_height
            .fetch_max(peer_head.height, Ordering::Relaxed);
        let ours = self.head().await;
        if !consensus::prefer(
            peer_head.total_weight,
            &peer_head.hash,
            ours.total_weight,
            &ours.header.hash(),
        ) {
            return Ok(0);
        }
        // Find where the two chains part, within the reorg limit.
        // Blocks deeper than the reorg limit below our head are final: the fork point may not lie
        // below that, however heavy the peer's chain.
        let hi = ours.header.height.min(peer_head.height);
        let lo = ours
            .header
            .height
            .saturating_sub(shared.genesis.params.max_reorg_depth);
        if hi < lo {
            return Err(SyncError::TooDeep);
        }
        let theirs = self.fetch_blocks(peer, lo, hi).await?;
        let mine = shared.store.blocks_range(lo, hi).await?;
        let ancestor = (lo..=hi)
            .rev()
            .find(|h| {
                let i = (h - lo) as usize;
                matches!((theirs.get(i), mine.get(i)), (Some(a), Some(b)) if a.hash() == b.hash())
            })
            .ok_or(SyncError::TooDeep)?;
        let mut added = 0;
        if ancestor < ours.header.height {
            // Far enough to outweigh our blocks above the fork; the rest comes by plain catch-up.
            let mut branch = Vec::new();
            let mut next = ancestor + 1;
            let last = peer_head.height.min(ours.header.height + SYNC_BATCH);
            while next <= last {
                let end = last.min(next + SYNC_BATCH - 1);
                let batch = self.fetch_blocks(peer, next, end).await?;
                if batch.is_empty() {
                    break;
                }
                next += batch.len() as u64;
                branch.extend(batch);
            }
            added += self.switch_to(ancestor, branch).await?;
        }
        // Plain catch-up from our head.
        loop {
            let ours = self.head().await.header.height;
            if peer_head.height <= ours {
                break;
            }
            let batch = self
                .fetch_blocks(peer, ours + 1, peer_head.height.min(ours + SYNC_BATCH))
                .await?;
            let mut progressed = false;
            for block in batch {
                if self.import(block).await? == ImportOutcome::Appended {
                    added += 1;
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(added)
    }

    /// Replaces our blocks above `ancestor` with `branch` if the branch verifies and weighs
    /// more (or as much with a lower head hash); the transactions of the abandoned blocks go back
    /// to the mempool. The database switches in one transaction.
    async fn switch_to(&self, ancestor: u64, branch: Vec<Block>) -> Result<usize, SyncError> {
        let shared = &self.shared;
        let genesis = &shared.genesis;
        let mut chain = shared.chain.lock().await;
        let depth = chain.head.header.height.saturating_sub(ancestor);
        if depth > genesis.params.max_reorg_depth {
            return Err(SyncError::TooDeep);
        }
        let ancestor_block = shared
            .store
            .block_by_height(ancestor)
            .await?
            .ok_or(SyncError::TooDeep)?;
        let ancestor_weight = shared.store.total_weight_at(ancestor).await?.unwrap_or(0);
        let ancestor_state = shared.store.state_at(ancestor, &chain.state).await?;
        let now = shared.clock.now_ms();
        let branch = verify_branch(
            genesis,
            ancestor_block.header,
            ancestor_state,
            ancestor_weight,
            branch,
            now,
        );
        if let Some(error) = branch.error {
            Metrics::count(&shared.metrics.rejected_blocks, error.code());
            return Err(ImportError::Invalid(error).into());
        }
        let Branch {
            blocks: verified,
            head: parent,
            state,
            total_weight: total,
            ..
        } = branch;
        if !consensus::prefer(
            total,
            &parent.hash(),
            chain.head.total_weight,
            &chain.head.header.hash(),
        ) {
            return Ok(0);
        }
        let rows: Vec<(&Block, &BlockChanges)> = verified.iter().map(|(b, c)| (b, c)).collect();
        let abandoned = shared.store.replace_above(ancestor, &rows, now).await?;
        let chain = &mut *chain;
        chain.state = state;
        chain.head = Head {
            header: parent,
            total_weight: total,
        };
        chain.mempool.revalidate(&chain.state);
        let mut refused = Vec::new();
        for tx in abandoned {
            let hash = tx.hash();
            if chain.mempool.admit(tx, &chain.state, now).is_err() {
                refused.push(hash);
            }
        }
        shared.store.remove_pending(&refused).await?;
        let added = verified.len();
        for (block, _) in verified {
            let _ = shared.events.send(Event::Block(Arc::new(block)));
        }
        shared.metrics.reorgs.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(ancestor, depth, added, "switched to a heavier chain");
        Ok(added)
    }

    /// Runs the producer and the sync loop until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        // Catch up before proposing: a node back from downtime must not build on a stale head.
        self.sync_once().await;
        let producer = {
            let node = self.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(25));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tick.tick().await;
                    if let Err(error) = node.propose_if_due().await {
                        tracing::error!(%error, "could not store a proposed block");
                    }
                }
            }
        };
        let syncer = {
            let node = self.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tick.tick().await;
                    node.sync_once().await;
                    let now = node.shared.clock.now_ms();
                    let dropped = {
                        let mut chain = node.shared.chain.lock().await;
                        chain.mempool.expire(now);
                        chain.mempool.take_dropped()
                    };
                    if let Err(error) = node.shared.store.remove_pending(&dropped).await {
                        tracing::warn!(%error, "could not forget dropped transactions");
                    }
                }
            }
        };
        tokio::select! {
            () = producer => {}
            () = syncer => {}
            () = shutdown => tracing::info!("node stopped"),
        }
    }
}
