//! Throughput of the node in process: signed transfers admitted and committed, and block import during catch-up (empty blocks and blocks full of transfers), each beside a baseline measured in the same run (bare Ed25519 verification). `./x bench` runs it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chain::{Clock, Genesis, MempoolLimits, Node, NodeConfig, genesis::Params};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use types::{Address, Amount, Block, SecretKey, SignedTransaction, Transaction, TxBody};

#[derive(Debug, Default)]
struct BenchClock(AtomicU64);

impl Clock for BenchClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

const SENDERS: u32 = 200;
const GENESIS_MS: u64 = 1_000_000;

fn sender(i: u32) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_seed(&seed)
}

fn authority() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}

fn genesis() -> Genesis {
    let params = Params {
        max_block_txs: 50_000,
        max_block_bytes: 64 * 1024 * 1024,
        ..Params::default()
    };
    Genesis {
        chain_id: "bench".into(),
        timestamp_ms: GENESIS_MS,
        authorities: vec![authority().public_key()],
        balances: (0..SENDERS)
            .map(|i| {
                (
                    Address::of(&sender(i).public_key()),
                    Amount(1_000_000_000_000),
                )
            })
            .collect(),
        params,
        faucet: None,
    }
}

/// `per_sender` transfers from each sender, in an order the mempool can admit.
fn transfers(per_sender: u64, first_nonce: u64) -> Vec<SignedTransaction> {
    let to = Address::of(&SecretKey::from_seed(&[9; 32]).public_key());
    let keys: Vec<SecretKey> = (0..SENDERS).map(sender).collect();
    let mut txs = Vec::new();
    for nonce in first_nonce..first_nonce + per_sender {
        for key in &keys {
            let tx = Transaction {
                chain_id: "bench".into(),
                sender: key.public_key(),
                nonce,
                fee: Amount(10_000),
                body: TxBody::Transfer {
                    to,
                    amount: Amount(1),
                },
            };
            txs.push(tx.sign(key));
        }
    }
    txs
}

struct Fresh {
    node: Node,
    clock: Arc<BenchClock>,
    _dir: tempfile::TempDir,
}

async fn fresh(producer: bool) -> Fresh {
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(BenchClock(AtomicU64::new(GENESIS_MS)));
    let config = NodeConfig {
        genesis: genesis(),
        db_path: dir.path().join("chain.db"),
        key: producer.then(authority),
        peers: Vec::new(),
        empty_blocks: true,
        mempool: MempoolLimits {
            max_per_account: 1_000,
            ..MempoolLimits::default()
        },
    };
    let node = Node::open(config, clock.clone()).await.expect("open");
    Fresh {
        node,
        clock,
        _dir: dir,
    }
}

/// Blocks a producer made: `count` blocks, each with `per_sender` transfers from every sender.
async fn chain_of(count: u64, per_sender: u64) -> Vec<Block> {
    let f = fresh(true).await;
    for height in 1..=count {
        for tx in transfers(per_sender, (height - 1) * per_sender) {
            f.node.submit(tx).await.expect("admitted");
        }
        f.clock
            .0
            .store(GENESIS_MS + height * 2_000, Ordering::SeqCst);
        f.node.propose_if_due().await.expect("stored");
    }
    f.node.store().blocks_range(1, count).await.expect("read")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let txs = transfers(10, 0);
    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| {
            for tx in &txs {
                tx.verify("bench").expect("valid");
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("node");
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.bench_function("admit_and_commit_transfers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = fresh(true).await;
                    // One client per sender, each sending its transactions in nonce order.
                    let mut per_sender: std::collections::BTreeMap<_, Vec<SignedTransaction>> =
                        Default::default();
                    for tx in txs.clone() {
                        per_sender.entry(tx.tx.sender).or_default().push(tx);
                    }
                    let started = Instant::now();
                    let clients: Vec<_> = per_sender
                        .into_values()
                        .map(|list| {
                            let node = f.node.clone();
                            tokio::spawn(async move {
                                for tx in list {
                                    node.submit(tx).await.expect("admitted");
                                }
                            })
                        })
                        .collect();
                    for client in clients {
                        client.await.expect("client");
                    }
                    f.clock.0.store(GENESIS_MS + 2_000, Ordering::SeqCst);
                    f.node.propose_if_due().await.expect("stored");
                    total += started.elapsed();
                    assert_eq!(f.node.mempool_len().await, 0);
                }
                total
            })
        })
    });

    let empty = rt.block_on(chain_of(500, 0));
    group.throughput(Throughput::Elements(empty.len() as u64));
    group.bench_function("import_empty_blocks", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = fresh(false).await;
                    f.clock.0.store(u64::MAX / 2, Ordering::SeqCst);
                    let blocks = empty.clone();
                    let started = Instant::now();
                    // Catch-up imports in batches of the size a sync request returns.
                    for batch in blocks.chunks(chain::node::SYNC_BATCH as usize) {
                        f.node.import_batch(batch.to_vec()).await.expect("valid");
                    }
                    total += started.elapsed();
                }
                total
            })
        })
    });

    let full = rt.block_on(chain_of(5, 10));
    let tx_count: usize = full.iter().map(|b| b.transactions.len()).sum();
    group.throughput(Throughput::Elements(tx_count as u64));
    group.bench_function("import_transfer_blocks", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = fresh(false).await;
                    f.clock.0.store(u64::MAX / 2, Ordering::SeqCst);
                    let blocks = full.clone();
                    let started = Instant::now();
                    f.node.import_batch(blocks).await.expect("valid");
                    total += started.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = chain;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(chain);
