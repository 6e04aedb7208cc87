//! The miner side: matching and queue order, long polls that answer as soon as work exists, silent miners losing their jobs to others, and several coordinator instances sharing one database without handing a job out twice.

use std::time::{Duration, Instant};

use coordinator::{Error, JobState, MinerStatus, SubmitJob};
use serde_json::json;

use crate::db::{Clock, TestMiner, both, coordinator};

fn job(value: serde_json::Value) -> SubmitJob {
    serde_json::from_value(value).expect("job")
}

#[tokio::test]
async fn jobs_go_to_matching_miners_by_priority_then_age() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let small = TestMiner::new("small", 1);
        let big = TestMiner::new("big", 2);
        coord
            .register(&small.id, small.registration("RTX 3060", &["llama3"], 10))
            .await?;
        coord
            .register(
                &big.id,
                big.registration("A100", &["llama3", "mixtral"], 50),
            )
            .await?;
        let needs_a100 = coord
            .submit("c", job(json!({"payload": {"n": 1}, "constraints": {"gpu": "a100", "models": ["mixtral"]}})), None)
            .await
            ?;
        clock.advance(1);
        let old = coord
            .submit("c", job(json!({"payload": {"n": 2}})), None)
            .await?;
        clock.advance(1);
        let urgent = coord
            .submit("c", job(json!({"payload": {"n": 3}, "priority": 5})), None)
            .await?;
        clock.advance(1);
        let cheap_only = coord
            .submit(
                "c",
                job(json!({"payload": {"n": 4}, "constraints": {"max_price": 0.00002}})),
                None,
            )
            .await?;

        // The small miner: the urgent job, then the oldest one it can run.
        let first = coord.poll(&small.id, Duration::ZERO).await?.expect("job");
        assert_eq!(first.job_id, urgent.id, "{}", db.name);
        let second = coord.poll(&small.id, Duration::ZERO).await?.expect("job");
        assert_eq!(second.job_id, old.id);
        // Concurrency 2 reached: nothing more for it.
        assert!(coord.poll(&small.id, Duration::ZERO).await?.is_none());
        // The A100 job waited for the A100; the price-capped one is too cheap for it.
        let third = coord.poll(&big.id, Duration::ZERO).await?.expect("job");
        assert_eq!(third.job_id, needs_a100.id);
        assert!(coord.poll(&big.id, Duration::ZERO).await?.is_none());
        assert_eq!(
            coord.client_job("c", &cheap_only.id).await?.state,
            JobState::Queued
        );
        // An admin-disabled miner gets nothing.
        coord.store().set_enabled(&small.id, false).await?;
        coord
            .fail(
                &small.id,
                &first.job_id,
                serde_json::from_value(
                    json!({"error_code": "oom", "error_message": "out of memory"}),
                )?,
            )
            .await?;
        assert!(coord.poll(&small.id, Duration::ZERO).await?.is_none());
        let failed = coord.client_job("c", &first.job_id).await?;
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.error.as_deref(), Some("oom: out of memory"));
    }
    Ok(())
}

/// A long poll of `miner` in a task of its own; the test lets it settle before it counts on the
/// poll waiting.
fn waiting_poll(
    coord: &coordinator::Coordinator,
    miner: &str,
    wait: Duration,
) -> tokio::task::JoinHandle<Result<Option<coordinator::Assigned>, Error>> {
    let (coord, miner) = (coord.clone(), miner.to_owned());
    tokio::spawn(async move { coord.poll(&miner, wait).await })
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_work_it_may_take_arrives() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let miner = TestMiner::new("m", 1);
        // Two slots.
        coord
            .register(&miner.id, miner.registration("A100", &[], 1))
            .await?;
        let settle = || tokio::time::sleep(Duration::from_millis(300));

        // Handed to it at once, and stored as its.
        let started = Instant::now();
        let waiting = waiting_poll(&coord, "m", Duration::from_secs(10));
        settle().await;
        let first = coord
            .submit("alice", job(json!({"payload": {"n": 1}})), None)
            .await?;
        let got = waiting.await??.expect("the waiting poll got the job");
        assert_eq!(got.job_id, first.id, "{}", db.name);
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(2),
            "{}: answered after {waited:?}",
            db.name
        );
        let stored = coord.store().job(&first.id).await?.expect("stored");
        assert_eq!(
            (
                stored.state,
                stored.assigned_miner_id.as_deref(),
                stored.attempts
            ),
            (JobState::Running, Some("m"), 1),
            "{}",
            db.name
        );

        // An id taken by a queued job the miner does not fit: refused, and that job is not
        // handed to the miner in its stead.
        let bobs = coord
            .submit(
                "bob",
                job(json!({"job_id": "shared", "payload": {}, "constraints": {"gpu": "H100"}})),
                None,
            )
            .await?;
        let waiting = waiting_poll(&coord, "m", Duration::from_secs(1));
        settle().await;
        assert!(
            matches!(
                coord
                    .submit(
                        "alice",
                        job(json!({"job_id": "shared", "payload": {}})),
                        None
                    )
                    .await,
                Err(Error::Conflict(_))
            ),
            "{}",
            db.name
        );
        assert_eq!(waiting.await??, None, "{}", db.name);
        let stored = coord.store().job(&bobs.id).await?.expect("bob's job");
        assert_eq!(
            (stored.state, stored.assigned_miner_id),
            (JobState::Queued, None),
            "{}",
            db.name
        );

        // A miner with no free slot waiting: the job is queued, and handed to it once a slot
        // is free.
        let waiting = waiting_poll(&coord, "m", Duration::from_secs(10));
        settle().await;
        let second = coord
            .submit("alice", job(json!({"payload": {"n": 2}})), None)
            .await?;
        assert_eq!(waiting.await??.map(|a| a.job_id), Some(second.id.clone()));
        let waiting = waiting_poll(&coord, "m", Duration::from_secs(10));
        settle().await;
        let third = coord
            .submit("alice", job(json!({"payload": {"n": 3}})), None)
            .await?;
        let stored = coord.store().job(&third.id).await?.expect("stored");
        assert_eq!(stored.state, JobState::Queued, "{}", db.name);
        assert!(!waiting.is_finished(), "{}", db.name);
        coord
            .complete(
                "m",
                &first.id,
                miner.result(&got, json!({"ok": 1}), 10, got.started_at as u64),
            )
            .await?;
        assert_eq!(
            waiting.await??.map(|a| a.job_id),
            Some(third.id),
            "{}",
            db.name
        );

        // With nothing to do it gives up after the wait.
        let started = Instant::now();
        assert!(coord.poll("m", Duration::from_millis(300)).await?.is_none());
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(matches!(
            coord.poll("nobody", Duration::ZERO).await,
            Err(Error::NotFound(_))
        ));
    }
    Ok(())
}

#[tokio::test]
async fn a_silent_miner_loses_its_job_which_completes_once_elsewhere() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let flaky = TestMiner::new("flaky", 1);
        let steady = TestMiner::new("steady", 2);
        coord
            .register(&flaky.id, flaky.registration("A100", &[], 1))
            .await?;
        let submitted = coord.submit("c", job(json!({"payload": {}})), None).await?;
        let lost = coord.poll(&flaky.id, Duration::ZERO).await?.expect("job");
        coord
            .register(&steady.id, steady.registration("A100", &[], 1))
            .await?;

        // Heartbeats keep the lease; silence loses it.
        clock.advance(20_000);
        coord.heartbeat(&steady.id, json!({})).await?;
        coord.heartbeat(&flaky.id, json!({})).await?;
        clock.advance(20_000);
        coord.heartbeat(&steady.id, json!({})).await?;
        assert_eq!(
            coord.sweep().await?.requeued,
            0,
            "{}: the lease was renewed",
            db.name
        );
        clock.advance(15_000);
        coord.heartbeat(&steady.id, json!({})).await?;
        let sweep = coord.sweep().await?;
        assert_eq!((sweep.offline, sweep.requeued), (1, 1), "{}", db.name);
        assert_eq!(
            coord
                .store()
                .miner(&flaky.id)
                .await?
                .expect("registered")
                .status,
            MinerStatus::Offline
        );

        let again = coord
            .poll(&steady.id, Duration::ZERO)
            .await?
            .expect("re-queued job");
        assert_eq!(again.job_id, submitted.id);
        let now = (clock.now() / 1_000) as u64;
        // The lost miner's late result is refused; the new one's is taken, once.
        let late = flaky.result(&lost, json!({"by": "flaky"}), 1_000, now);
        assert!(matches!(
            coord.complete(&flaky.id, &lost.job_id, late).await,
            Err(Error::Conflict(_))
        ));
        clock.advance(1_000);
        let done = steady.result(
            &again,
            json!({"by": "steady"}),
            1_000,
            (clock.now() / 1_000) as u64,
        );
        coord.complete(&steady.id, &again.job_id, done).await?;
        let job = coord.client_job("c", &submitted.id).await?;
        assert_eq!((job.state, job.attempts), (JobState::Completed, 2));
        assert_eq!(coord.receipts("c", &submitted.id).await?.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn a_job_whose_miners_keep_vanishing_fails_after_its_attempts() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let submitted = coord.submit("c", job(json!({"payload": {}})), None).await?;
        for attempt in 0..3 {
            let miner = TestMiner::new(&format!("m{attempt}"), attempt + 1);
            coord
                .register(&miner.id, miner.registration("A100", &[], 1))
                .await?;
            coord.poll(&miner.id, Duration::ZERO).await?.expect("job");
            clock.advance(31_000);
            coord.sweep().await?;
        }
        let job = coord.client_job("c", &submitted.id).await?;
        assert_eq!(job.state, JobState::Failed, "{}", db.name);
        assert_eq!(job.attempts, 3);
        // Its client hears at once, not at a wait's next read a second later.
        let (waited, _) = tokio::time::timeout(
            Duration::from_millis(500),
            coord.wait_result("c", &submitted.id, Duration::from_secs(20)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{}: the wait on a failed job waited", db.name))??;
        assert_eq!(waited.state, JobState::Failed, "{}", db.name);
    }
    Ok(())
}

#[tokio::test]
async fn two_coordinators_on_one_database_hand_each_job_out_once() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let a = coordinator(&db, &clock).await;
        let b = coordinator(&db, &clock).await;
        let mut miners = Vec::new();
        for i in 0..4u8 {
            let miner = TestMiner::new(&format!("m{i}"), i + 1);
            a.register(&miner.id, miner.registration("A100", &[], 1))
                .await?;
            miners.push(miner);
        }
        let mut ids = Vec::new();
        for n in 0..20 {
            ids.push(
                a.submit("c", job(json!({"payload": {"n": n}})), None)
                    .await?
                    .id,
            );
        }
        let mut pollers = Vec::new();
        for (i, miner) in miners.iter().enumerate() {
            let coord = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = miner.id.clone();
            pollers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                // Concurrency 2 per miner: finish each job by failing it to free the slot.
                while let Some(job) = coord.poll(&id, Duration::ZERO).await? {
                    coord
                        .fail(
                            &id,
                            &job.job_id,
                            serde_json::from_value(
                                json!({"error_code": "t", "error_message": "t"}),
                            )?,
                        )
                        .await?;
                    got.push(job.job_id);
                }
                Ok::<_, anyhow::Error>(got)
            }));
        }
        let mut taken = Vec::new();
        for poller in pollers {
            taken.extend(poller.await??);
        }
        taken.sort();
        ids.sort();
        assert_eq!(taken, ids, "{}: every job exactly once", db.name);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heartbeats_racing_results_never_fail() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let miner = TestMiner::new("busy", 3);
        let mut registration = miner.registration("RTX 4090", &[], 10);
        registration.concurrency = 40;
        coord.register(&miner.id, registration).await?;
        let mut taken = Vec::new();
        for n in 0..40 {
            coord
                .submit("alice", job(json!({ "payload": { "n": n } })), None)
                .await?;
            taken.push(coord.poll(&miner.id, Duration::ZERO).await?.expect("a job"));
        }
        // Results and heartbeats of one miner at once: each takes locks on its jobs and on the
        // miner, which must never deadlock (PostgreSQL would abort one of them).
        let mut tasks = tokio::task::JoinSet::new();
        for assigned in taken {
            let result = miner.result(
                &assigned,
                json!({ "ok": true }),
                0,
                (clock.now() / 1_000) as u64,
            );
            let (finishing, beating) = (coord.clone(), coord.clone());
            let (id, beater) = (miner.id.clone(), miner.id.clone());
            tasks.spawn(async move {
                finishing
                    .complete(&id, &assigned.job_id, result)
                    .await
                    .map(drop)
            });
            tasks.spawn(async move { beating.heartbeat(&beater, json!({})).await });
        }
        while let Some(outcome) = tasks.join_next().await {
            outcome?.map_err(|e| anyhow::anyhow!("{}: {e}", db.name))?;
        }
    }
    Ok(())
}
