//! Paid jobs against a real chain node in the same process (short slots, its own SQLite file): the job waits for its escrow lock to reach a block, the miner is paid the receipt's price on chain, the coordinator its fee and the client the rest; a failed job is refunded; supply never changes.

use std::{sync::Arc, time::Duration};

use chain::{Genesis, MempoolLimits, Node, NodeConfig, SystemClock};
use coordinator::{JobState, PaymentStatus, SubmitJob};
use serde_json::json;
use types::{Address, Amount, SecretKey, Transaction, TxBody, tx::EscrowTerms};

use crate::db::{Clock, TestMiner, both, coordinator};

struct Chain {
    node: Node,
    treasury: SecretKey,
    _dir: tempfile::TempDir,
}

/// A one-authority chain with 250 ms slots, producing blocks in the background.
async fn chain() -> anyhow::Result<Chain> {
    let dir = tempfile::tempdir()?;
    let authority = SecretKey::from_seed(&rand::random());
    let treasury = SecretKey::from_seed(&rand::random());
    let faucet = SecretKey::from_seed(&rand::random());
    let now = coordinator::system_now() as u64;
    let mut genesis = Genesis::devnet(
        "pay-test",
        now - 1_000,
        vec![authority.public_key()],
        faucet.public_key(),
        Address::of(&treasury.public_key()),
    );
    genesis.params.block_time_ms = 250;
    let node = Node::open(
        NodeConfig {
            genesis,
            db_path: dir.path().join("chain.db"),
            key: Some(authority),
            peers: Vec::new(),
            empty_blocks: true,
            mempool: MempoolLimits::default(),
        },
        Arc::new(SystemClock),
    )
    .await?;
    tokio::spawn(node.clone().run(std::future::pending()));
    Ok(Chain {
        node,
        treasury,
        _dir: dir,
    })
}

impl Chain {
    async fn send(
        &self,
        from: &SecretKey,
        body: TxBody,
    ) -> anyhow::Result<types::SignedTransaction> {
        let sender = from.public_key();
        let nonce = self.node.next_nonce(&Address::of(&sender)).await;
        let tx = Transaction {
            chain_id: "pay-test".into(),
            sender,
            nonce,
            fee: Amount(10_000),
            body,
        }
        .sign(from);
        Ok(tx)
    }

    async fn balance(&self, address: Address) -> u64 {
        self.node.account(&address).await.balance.0
    }
}

/// Sweeps (which settles) until `done` holds, for at most 15 s.
async fn settle_until(
    coord: &coordinator::Coordinator,
    what: &str,
    mut done: impl AsyncFnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done().await {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "never: {what}");
        coord.sweep().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paid_job_pays_the_miner_and_a_failed_one_refunds_the_client() -> anyhow::Result<()> {
    for db in both().await {
        let chain = chain().await?;
        let clock = Clock::new();
        let coord = coordinator(&db, &clock)
            .await
            .with_ledger(Arc::new(chain.node.clone()));
        let coordinator_address = Address::of(&coord.public_key());
        let client = &chain.treasury;
        let client_address = Address::of(&client.public_key());
        let supply = chain.node.state().await.supply();
        let before_client = chain.balance(client_address).await;
        // The coordinator pays transaction fees from its own account.
        let fund = chain
            .send(
                client,
                TxBody::Transfer {
                    to: coordinator_address,
                    amount: Amount(1_000_000),
                },
            )
            .await?;
        chain.node.submit(fund).await?;

        let miner = TestMiner::new("miner-pay", 3);
        let payout = Address::of(&miner.key.public_key());
        let mut registration = miner.registration("A100", &[], 1_000_000);
        registration.payout_address = Some(payout.to_string());
        coord.register(&miner.id, registration).await?;

        let head = chain.node.head().await.header.height;
        let paid_job = |id: &str, amount: u64| {
            let terms = EscrowTerms {
                client: client_address,
                job_id: id.into(),
                coordinator: coord.public_key(),
                expiry_height: head + 1_000,
            };
            (
                terms.clone(),
                TxBody::EscrowLock {
                    terms,
                    amount: Amount(amount),
                },
            )
        };
        let (terms, lock) = paid_job("paid-1", 5_000_000);
        let lock = chain.send(client, lock).await?;
        let request: SubmitJob = serde_json::from_value(json!({
            "payload": {"type": "generate", "prompt": "hi"},
            "payment": {"escrow_lock": lock},
        }))?;
        let job = coord.submit("alice", request, None).await?;
        assert_eq!(
            job.payment_status,
            Some(PaymentStatus::Locking),
            "{}",
            db.name
        );
        // Not handed out before the money is on chain.
        assert!(coord.poll(&miner.id, Duration::ZERO).await?.is_none());
        settle_until(&coord, "the lock reaches a block", async || {
            coord
                .client_job("alice", "paid-1")
                .await
                .ok()
                .and_then(|j| j.payment_status)
                == Some(PaymentStatus::Locked)
        })
        .await?;
        assert_eq!(chain.balance(terms.address()).await, 5_000_000);
        let assigned = coord
            .poll(&miner.id, Duration::ZERO)
            .await?
            .expect("the paid job");
        clock.advance(2_500);
        let result = miner.result(
            &assigned,
            json!({"text": "paid"}),
            2_000,
            (clock.now() / 1_000) as u64,
        );
        let receipt = coord.complete(&miner.id, "paid-1", result).await?;
        assert_eq!(receipt["price_base_units"], 2_000_000, "2 s at 1 AITBC/s");
        settle_until(&coord, "the release reaches a block", async || {
            coord
                .client_job("alice", "paid-1")
                .await
                .ok()
                .and_then(|j| j.payment_status)
                == Some(PaymentStatus::Released)
        })
        .await?;
        assert_eq!(
            chain.balance(payout).await,
            2_000_000,
            "{}: the miner got the price",
            db.name
        );
        assert_eq!(
            chain.balance(terms.address()).await,
            0,
            "the escrow is empty"
        );
        // 1 AITBC to fund the coordinator, then 5 locked: 2 to the miner, 0.1 (5 %) to the
        // coordinator, 2.9 back; the fees of both transactions.
        assert_eq!(
            chain.balance(client_address).await,
            before_client - 1_000_000 - 10_000 - 5_000_000 - 10_000 + 2_900_000
        );
        // The receipt is anchored on chain by the release.
        let receipt_hash = types::receipt::receipt_hash(&receipt);
        assert!(
            chain.node.store().receipt(&receipt_hash).await?.is_some(),
            "receipt not anchored"
        );

        // A failed job is refunded in full.
        let (terms, lock) = paid_job("paid-2", 3_000_000);
        let lock = chain.send(client, lock).await?;
        let before_client = chain.balance(client_address).await;
        coord
            .submit(
                "alice",
                serde_json::from_value(json!({"payload": {}, "payment": {"escrow_lock": lock}}))?,
                None,
            )
            .await?;
        settle_until(&coord, "the second lock reaches a block", async || {
            coord
                .client_job("alice", "paid-2")
                .await
                .ok()
                .and_then(|j| j.payment_status)
                == Some(PaymentStatus::Locked)
        })
        .await?;
        let assigned = coord
            .poll(&miner.id, Duration::ZERO)
            .await?
            .expect("the second job");
        coord
            .fail(
                &miner.id,
                &assigned.job_id,
                serde_json::from_value(
                    json!({"error_code": "oom", "error_message": "out of memory"}),
                )?,
            )
            .await?;
        settle_until(&coord, "the refund reaches a block", async || {
            coord
                .client_job("alice", "paid-2")
                .await
                .ok()
                .and_then(|j| j.payment_status)
                == Some(PaymentStatus::Refunded)
        })
        .await?;
        assert_eq!(
            coord.client_job("alice", "paid-2").await?.state,
            JobState::Failed
        );
        assert_eq!(chain.balance(terms.address()).await, 0);
        assert_eq!(
            chain.balance(client_address).await,
            before_client - 10_000,
            "only the lock's fee is gone"
        );
        assert_eq!(
            chain.node.state().await.supply(),
            supply,
            "{}: supply changed",
            db.name
        );

        // A lock that names another coordinator, or is not for this job, is refused.
        let (mut terms, _) = paid_job("paid-3", 1_000_000);
        terms.coordinator = SecretKey::from_seed(&[1; 32]).public_key();
        let wrong = chain
            .send(
                client,
                TxBody::EscrowLock {
                    terms,
                    amount: Amount(1_000_000),
                },
            )
            .await?;
        let refused = coord
            .submit(
                "alice",
                serde_json::from_value(json!({"payload": {}, "payment": {"escrow_lock": wrong}}))?,
                None,
            )
            .await;
        assert!(
            matches!(refused, Err(coordinator::Error::Invalid { .. })),
            "{refused:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_expiry_refund_and_a_lost_miner_is_paid_only_once() -> anyhow::Result<()> {
    for db in both().await {
        let chain = chain().await?;
        let clock = Clock::new();
        let coord = coordinator(&db, &clock)
            .await
            .with_ledger(Arc::new(chain.node.clone()));
        let client = &chain.treasury;
        let client_address = Address::of(&client.public_key());
        let supply = chain.node.state().await.supply();
        let fund = chain
            .send(
                client,
                TxBody::Transfer {
                    to: Address::of(&coord.public_key()),
                    amount: Amount(1_000_000),
                },
            )
            .await?;
        chain.node.submit(fund).await?;
        let head = chain.node.head().await.header.height;
        let submit_paid = async |id: &str, ttl: Option<i64>| -> anyhow::Result<EscrowTerms> {
            let terms = EscrowTerms {
                client: client_address,
                job_id: id.into(),
                coordinator: coord.public_key(),
                expiry_height: head + 1_000,
            };
            let lock = chain
                .send(
                    client,
                    TxBody::EscrowLock {
                        terms: terms.clone(),
                        amount: Amount(4_000_000),
                    },
                )
                .await?;
            let mut request: SubmitJob = serde_json::from_value(json!({
                "payload": {"n": id},
                "payment": {"escrow_lock": lock},
            }))?;
            request.ttl_seconds = ttl;
            coord.submit("alice", request, None).await?;
            Ok(terms)
        };
        let status = async |id: &str| {
            coord
                .client_job("alice", id)
                .await
                .ok()
                .and_then(|j| j.payment_status)
        };

        // Canceled while queued (after its lock landed): refunded.
        let canceled = submit_paid("cancel-me", None).await?;
        settle_until(&coord, "cancel-me locked", async || {
            status("cancel-me").await == Some(PaymentStatus::Locked)
        })
        .await?;
        coord.cancel("alice", "cancel-me").await?;
        settle_until(&coord, "cancel-me refunded", async || {
            status("cancel-me").await == Some(PaymentStatus::Refunded)
        })
        .await?;
        assert_eq!(chain.balance(canceled.address()).await, 0, "{}", db.name);

        // Canceled while running: the miner reports its usage until the cancel and is paid for
        // that; the client gets the rest back.
        let partway = TestMiner::new("partway", 6);
        let payout = Address::of(&partway.key.public_key());
        let mut registration = partway.registration("A100", &[], 1_000_000);
        registration.payout_address = Some(payout.to_string());
        coord.register(&partway.id, registration).await?;
        let running = submit_paid("cancel-running", None).await?;
        settle_until(&coord, "cancel-running locked", async || {
            status("cancel-running").await == Some(PaymentStatus::Locked)
        })
        .await?;
        let assigned = coord.poll(&partway.id, Duration::ZERO).await?.expect("job");
        let before_client = chain.balance(client_address).await;
        clock.advance(1_500);
        coord.cancel("alice", "cancel-running").await?;
        clock.advance(200);
        let now = (clock.now() / 1_000) as u64;
        let output = json!({"output": "half an ans"});
        let refused = coord
            .report_usage(
                &partway.id,
                "cancel-running",
                partway.result(&assigned, output.clone(), 3_000, now),
            )
            .await;
        assert!(
            matches!(
                refused,
                Err(coordinator::Error::Invalid {
                    field: "receipt.units",
                    ..
                })
            ),
            "GPU time past the cancel was billed: {refused:?}"
        );
        let stranger = TestMiner::new("stranger", 7);
        coord
            .register(&stranger.id, stranger.registration("A100", &[], 1_000_000))
            .await?;
        let refused = coord
            .report_usage(
                &stranger.id,
                "cancel-running",
                stranger.result(&assigned, output.clone(), 1_000, now),
            )
            .await;
        assert!(
            matches!(refused, Err(coordinator::Error::Conflict(_))),
            "another miner's usage was taken: {refused:?}"
        );
        let usage = partway.result(&assigned, output.clone(), 1_500, now);
        let receipt = coord
            .report_usage(&partway.id, "cancel-running", usage.clone())
            .await?;
        assert_eq!(receipt["price_base_units"], 1_500_000, "1.5 s at 1 AITBC/s");
        assert!(
            coord
                .report_usage(&partway.id, "cancel-running", usage)
                .await
                .is_err(),
            "usage taken twice"
        );
        settle_until(&coord, "cancel-running released", async || {
            status("cancel-running").await == Some(PaymentStatus::Released)
        })
        .await?;
        let job = coord.client_job("alice", "cancel-running").await?;
        assert_eq!(job.state, JobState::Canceled, "{}", db.name);
        assert_eq!(job.result, Some(output), "the output until the cancel");
        assert_eq!(chain.balance(payout).await, 1_500_000, "{}", db.name);
        assert_eq!(chain.balance(running.address()).await, 0);
        // 4 locked: 1.5 to the miner, 0.075 (5 %) to the coordinator, the rest back.
        assert_eq!(
            chain.balance(client_address).await,
            before_client + 4_000_000 - 1_500_000 - 75_000
        );
        let receipt_hash = types::receipt::receipt_hash(&receipt);
        assert!(
            chain.node.store().receipt(&receipt_hash).await?.is_some(),
            "the usage receipt is not anchored"
        );

        // Canceled while running, and the miner never says how far it got: the escrow waits
        // for the usage as long as the grace lasts, then goes back whole.
        let silent = submit_paid("cancel-silent", None).await?;
        settle_until(&coord, "cancel-silent locked", async || {
            status("cancel-silent").await == Some(PaymentStatus::Locked)
        })
        .await?;
        let assigned = coord.poll(&partway.id, Duration::ZERO).await?.expect("job");
        assert_eq!(assigned.job_id, "cancel-silent");
        clock.advance(1_000);
        coord.cancel("alice", "cancel-silent").await?;
        for _ in 0..3 {
            coord.sweep().await?;
        }
        assert_eq!(
            status("cancel-silent").await,
            Some(PaymentStatus::Locked),
            "refunded while the miner could still report its usage"
        );
        clock.advance(coord.config().usage_grace_ms + 1);
        settle_until(&coord, "cancel-silent refunded", async || {
            status("cancel-silent").await == Some(PaymentStatus::Refunded)
        })
        .await?;
        assert_eq!(chain.balance(silent.address()).await, 0);
        let now = (clock.now() / 1_000) as u64;
        let late = coord
            .report_usage(
                &partway.id,
                "cancel-silent",
                partway.result(&assigned, json!({}), 1_000, now),
            )
            .await;
        assert!(
            matches!(late, Err(coordinator::Error::Conflict(_))),
            "usage after the refund was taken: {late:?}"
        );

        // Expired with nobody to run it: refunded.
        let expired = submit_paid("expire-me", Some(30)).await?;
        settle_until(&coord, "expire-me locked", async || {
            status("expire-me").await == Some(PaymentStatus::Locked)
        })
        .await?;
        clock.advance(31_000);
        settle_until(&coord, "expire-me refunded", async || {
            status("expire-me").await == Some(PaymentStatus::Refunded)
        })
        .await?;
        assert_eq!(
            coord.client_job("alice", "expire-me").await?.state,
            JobState::Expired
        );
        assert_eq!(chain.balance(expired.address()).await, 0);

        // A miner takes a job and vanishes; another completes it; the escrow pays once, to the
        // second.
        let lost = TestMiner::new("lost", 4);
        let steady = TestMiner::new("steady", 5);
        for miner in [&lost, &steady] {
            let mut registration = miner.registration("A100", &[], 1_000_000);
            registration.payout_address = Some(Address::of(&miner.key.public_key()).to_string());
            coord.register(&miner.id, registration).await?;
        }
        submit_paid("lost-once", None).await?;
        settle_until(&coord, "lost-once locked", async || {
            status("lost-once").await == Some(PaymentStatus::Locked)
        })
        .await?;
        let taken = coord.poll(&lost.id, Duration::ZERO).await?.expect("job");
        clock.advance(31_000);
        coord.heartbeat(&steady.id, json!({})).await?;
        coord.sweep().await?;
        let again = coord
            .poll(&steady.id, Duration::ZERO)
            .await?
            .expect("re-queued job");
        assert_eq!(again.job_id, taken.job_id);
        clock.advance(1_000);
        let now = (clock.now() / 1_000) as u64;
        let late = lost.result(&taken, json!({"by": "lost"}), 1_000, now);
        assert!(
            coord.complete(&lost.id, "lost-once", late).await.is_err(),
            "the lost miner's result was taken"
        );
        coord
            .complete(
                &steady.id,
                "lost-once",
                steady.result(&again, json!({"by": "steady"}), 1_000, now),
            )
            .await?;
        settle_until(&coord, "lost-once released", async || {
            status("lost-once").await == Some(PaymentStatus::Released)
        })
        .await?;
        // More sweeps change nothing: the escrow is settled once.
        for _ in 0..3 {
            coord.sweep().await?;
        }
        assert_eq!(
            chain.balance(Address::of(&steady.key.public_key())).await,
            1_000_000
        );
        assert_eq!(chain.balance(Address::of(&lost.key.public_key())).await, 0);
        assert_eq!(
            chain.node.state().await.supply(),
            supply,
            "{}: supply changed",
            db.name
        );
    }
    Ok(())
}
