//! The node in process, with a clock the test drives: random transfers and faucet mints over many blocks keep the supply exact after every block, a reopened database resumes where it stopped, and tampered blocks are refused and counted.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use chain::{
    Clock, Genesis, ImportOutcome, MempoolLimits, Node, NodeConfig,
    genesis::{Faucet, Params},
};
use types::{Address, Amount, Block, SecretKey, Transaction, TxBody};

#[derive(Debug, Default)]
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn key(b: u8) -> SecretKey {
    SecretKey::from_seed(&[b; 32])
}

fn addr(b: u8) -> Address {
    Address::of(&key(b).public_key())
}

const GENESIS_MS: u64 = 1_000_000;

fn genesis() -> Genesis {
    Genesis {
        chain_id: "test".into(),
        timestamp_ms: GENESIS_MS,
        authorities: vec![key(100).public_key()],
        balances: (1..=5).map(|b| (addr(b), Amount(50_000_000))).collect(),
        params: Params::default(),
        faucet: Some(Faucet {
            key: key(200).public_key(),
            max_per_tx: Amount(10_000_000),
        }),
    }
}

async fn open(dir: &std::path::Path, clock: Arc<TestClock>) -> Node {
    let config = NodeConfig {
        genesis: genesis(),
        db_path: dir.join("chain.db"),
        key: Some(key(100)),
        peers: Vec::new(),
        empty_blocks: true,
        mempool: MempoolLimits::default(),
    };
    Node::open(config, clock).await.expect("node opens")
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test]
async fn supply_is_exact_after_every_block_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(TestClock(AtomicU64::new(GENESIS_MS)));
    let node = open(dir.path(), clock.clone()).await;
    let genesis_supply = genesis().supply().expect("supply").0;
    let mut minted = 0u64;
    let mut transfers = 0u32;
    let mut nonces = [0u64; 256];
    let mut rng = Lcg(7);
    for block in 1..=30u64 {
        for _ in 0..rng.next(12) {
            let from = 1 + rng.next(5) as u8;
            let to = 1 + rng.next(8) as u8;
            let tx = Transaction {
                chain_id: "test".into(),
                sender: key(from).public_key(),
                nonce: nonces[from as usize],
                fee: Amount(5_000),
                body: TxBody::Transfer {
                    to: addr(to),
                    amount: Amount(1 + rng.next(3_000_000)),
                },
            }
            .sign(&key(from));
            // Random amounts can exceed a balance; those are refused, the rest must go through.
            if node.submit(tx).await.is_ok() {
                nonces[from as usize] += 1;
                transfers += 1;
            }
        }
        if rng.next(4) == 0 {
            let amount = 1 + rng.next(10_000_000);
            let mint = Transaction {
                chain_id: "test".into(),
                sender: key(200).public_key(),
                nonce: nonces[200],
                fee: Amount(0),
                body: TxBody::Faucet {
                    to: addr(9),
                    amount: Amount(amount),
                },
            }
            .sign(&key(200));
            node.submit(mint).await.expect("mint admitted");
            nonces[200] += 1;
            minted += amount;
        }
        clock.0.store(GENESIS_MS + block * 2_000, Ordering::SeqCst);
        assert_eq!(node.propose_if_due().await.expect("stored"), Some(block));
        assert_eq!(
            node.mempool_len().await,
            0,
            "block {block} left transactions behind"
        );
        let supply = node.state().await.supply().expect("no overflow").0;
        assert_eq!(
            supply,
            genesis_supply + minted,
            "supply wrong after block {block}"
        );
    }
    assert!(
        transfers > 100,
        "only {transfers} transfers were accepted: the test proves little"
    );
    let head = node.head().await;
    let state = node.state().await;
    drop(node);

    let reopened = open(dir.path(), clock.clone()).await;
    assert_eq!(
        reopened.head().await.header,
        head.header,
        "the head did not survive"
    );
    assert_eq!(
        reopened.state().await,
        state,
        "the accounts did not survive"
    );
}

#[tokio::test]
async fn tampered_blocks_are_refused_and_counted() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let clock = Arc::new(TestClock(AtomicU64::new(GENESIS_MS + 2_000)));
    let producer = open(dir_a.path(), clock.clone()).await;
    let follower = open(dir_b.path(), clock.clone()).await;
    let tx = Transaction {
        chain_id: "test".into(),
        sender: key(1).public_key(),
        nonce: 0,
        fee: Amount(5_000),
        body: TxBody::Transfer {
            to: addr(2),
            amount: Amount(1_000),
        },
    }
    .sign(&key(1));
    producer.submit(tx).await.expect("admitted");
    producer.propose_if_due().await.expect("stored");
    let block: Block = producer
        .store()
        .block_by_height(1)
        .await
        .expect("read")
        .expect("block 1");

    let mut bad_signature = block.clone();
    bad_signature.signature = key(7).sign(&bad_signature.header.signing_bytes());
    let mut bad_root = block.clone();
    bad_root.header.state_root = types::Hash::ZERO;
    let bad_root = Block::seal(bad_root.header, bad_root.transactions, &key(100));
    let outsider = Block::seal(
        types::BlockHeader {
            proposer: key(7).public_key(),
            ..block.header.clone()
        },
        block.transactions.clone(),
        &key(7),
    );
    for (tampered, code) in [
        (bad_signature, "bad_signature"),
        (bad_root, "bad_state_root"),
        (outsider, "not_an_authority"),
    ] {
        let error = follower
            .import(tampered)
            .await
            .expect_err("tampered block accepted");
        assert!(
            matches!(&error, chain::node::ImportError::Invalid(e) if e.code() == code),
            "{code}: {error}"
        );
        assert!(
            follower
                .metrics()
                .rejected_blocks()
                .iter()
                .any(|(c, n)| *c == code && *n == 1),
            "{code} not counted"
        );
    }
    assert_eq!(
        follower.head().await.header.height,
        0,
        "a tampered block moved the head"
    );
    assert_eq!(
        follower.import(block.clone()).await.expect("valid"),
        ImportOutcome::Appended
    );
    assert_eq!(
        follower.import(block).await.expect("again"),
        ImportOutcome::AlreadyKnown
    );
    assert_eq!(follower.state().await, producer.state().await);
}
