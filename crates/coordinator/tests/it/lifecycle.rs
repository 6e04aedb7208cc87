//! A job's life from the client's side: submit (idempotently), run, finish with a verified receipt, and the state machine refusing what comes too late or from the wrong miner.

use std::time::Duration;

use coordinator::{Error, JobState, SubmitJob};
use serde_json::json;

use crate::db::{Clock, TestDb, TestMiner, both, coordinator};

fn job(prompt: &str) -> SubmitJob {
    serde_json::from_value(
        json!({"payload": {"type": "generate", "prompt": prompt, "model": "llama3"}}),
    )
    .expect("job")
}

/// A coordinator on `db` keeping `clock`'s time, with miner `m` registered (an A100 for llama3
/// at `price` per GPU second).
async fn with_miner_m(
    db: &TestDb,
    clock: &Clock,
    price: u64,
) -> anyhow::Result<(coordinator::Coordinator, TestMiner)> {
    let coord = coordinator(db, clock).await;
    let miner = TestMiner::new("m", 1);
    coord
        .register(&miner.id, miner.registration("A100", &["llama3"], price))
        .await?;
    Ok((coord, miner))
}

/// When the miner running job `id` took it, as stored.
async fn started_at(coord: &coordinator::Coordinator, id: &str) -> anyhow::Result<i64> {
    let job = coord.store().job(id).await?.expect("the job");
    Ok(job.started_at.expect("taken by a miner"))
}

#[tokio::test]
async fn a_job_runs_once_and_its_receipt_verifies() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let miner = TestMiner::new("miner-a", 1);
        let other = TestMiner::new("miner-b", 2);
        coord
            .register(
                &miner.id,
                miner.registration("RTX 4090", &["llama3"], 20_000),
            )
            .await?;
        coord
            .register(
                &other.id,
                other.registration("RTX 4090", &["llama3"], 20_000),
            )
            .await?;

        let submitted = coord.submit("alice", job("hi"), None).await?;
        assert_eq!(submitted.state, JobState::Queued, "{}", db.name);
        let assigned = coord.poll(&miner.id, Duration::ZERO).await?.expect("a job");
        assert_eq!(assigned.job_id, submitted.id);
        assert!(
            coord.poll(&other.id, Duration::ZERO).await?.is_none(),
            "given twice"
        );
        assert!(matches!(
            coord.result("alice", &submitted.id).await,
            Err(Error::TooEarly)
        ));

        clock.advance(2_500);
        let completed_at = (clock.now() / 1_000) as u64;
        // Another miner cannot finish it, nor can the miner claim more time than passed.
        let foreign = other.result(&assigned, json!({"text": "x"}), 1_000, completed_at);
        assert!(matches!(
            coord.complete(&other.id, &assigned.job_id, foreign).await,
            Err(Error::Conflict(_))
        ));
        let greedy = miner.result(&assigned, json!({"text": "x"}), 60_000, completed_at);
        assert!(matches!(
            coord.complete(&miner.id, &assigned.job_id, greedy).await,
            Err(Error::Invalid { .. })
        ));
        // A receipt signed by another key is refused.
        let forged = TestMiner {
            id: miner.id.clone(),
            key: types::SecretKey::from_seed(&[7; 32]),
        }
        .result(&assigned, json!({"text": "x"}), 2_000, completed_at);
        assert!(matches!(
            coord.complete(&miner.id, &assigned.job_id, forged).await,
            Err(Error::Invalid {
                field: "receipt.signature",
                ..
            })
        ));

        let result = miner.result(&assigned, json!({"text": "hello"}), 2_000, completed_at);
        let receipt = coord.complete(&miner.id, &assigned.job_id, result).await?;
        let check = types::receipt::verify(&receipt);
        assert!(
            check.verified && check.attestations == vec![true],
            "{}: {check:?}",
            db.name
        );
        assert_eq!(receipt["price_base_units"], 40_000, "2 s at 0.02 AITBC/s");
        assert_eq!(receipt["price"], 0.04);

        let (done, stored) = coord.result("alice", &submitted.id).await?;
        assert_eq!(done.state, JobState::Completed);
        assert_eq!(done.result, Some(json!({"text": "hello"})));
        assert_eq!(stored, Some(receipt.clone()));
        // A late second result changes nothing.
        let late = miner.result(&assigned, json!({"text": "late"}), 2_000, completed_at);
        assert!(matches!(
            coord.complete(&miner.id, &assigned.job_id, late).await,
            Err(Error::Conflict(_))
        ));
        assert_eq!(
            coord.result("alice", &submitted.id).await?.0.result,
            Some(json!({"text": "hello"}))
        );
        // The miner's counts grew once, by the job's 2.5 s; a finish of the job that is no
        // longer running (what a racing duplicate reaches) changes neither them nor the job.
        let replay = coord
            .store()
            .finish(&coordinator::store::Finish {
                job_id: submitted.id.clone(),
                miner_id: miner.id.clone(),
                state: JobState::Failed,
                result: None,
                metrics: None,
                error: Some("again".into()),
                receipt: None,
                started_at: started_at(&coord, &submitted.id).await?,
                signer: None,
                now: clock.now(),
            })
            .await?;
        assert!(!replay, "{}: finished twice", db.name);
        let counts = |m: &coordinator::Miner| {
            (
                m.jobs_completed,
                m.jobs_failed,
                m.total_job_duration_ms,
                m.last_receipt_id.clone(),
            )
        };
        let rows = coord.store().miners().await?;
        let row = |id: &str| rows.iter().find(|m| m.id == id).map(counts);
        assert_eq!(
            row(&miner.id),
            Some((
                1,
                0,
                2_500,
                receipt["receipt_id"].as_str().map(str::to_owned)
            )),
            "{}",
            db.name
        );
        assert_eq!(row(&other.id), Some((0, 0, 0, None)), "{}", db.name);
        assert_eq!(
            coord.result("alice", &submitted.id).await?.0.state,
            JobState::Completed
        );
        // A finish that fails halfway (its receipt's id is taken) leaves all as it was, and
        // the next one goes through.
        let second = coord.submit("alice", job("again"), None).await?;
        let assigned = coord.poll(&miner.id, Duration::ZERO).await?.expect("a job");
        assert_eq!(assigned.job_id, second.id);
        let clash = coord
            .store()
            .finish(&coordinator::store::Finish {
                job_id: second.id.clone(),
                miner_id: miner.id.clone(),
                state: JobState::Completed,
                result: Some(json!({"text": "clash"})),
                metrics: None,
                error: None,
                receipt: Some((
                    receipt["receipt_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    json!({}),
                    "00".into(),
                )),
                started_at: started_at(&coord, &second.id).await?,
                signer: None,
                now: clock.now(),
            })
            .await;
        assert!(clash.is_err(), "{}: a second receipt under one id", db.name);
        assert_eq!(
            coord.client_job("alice", &second.id).await?.state,
            JobState::Running,
            "{}",
            db.name
        );
        let rows = coord.store().miners().await?;
        assert_eq!(
            rows.iter()
                .find(|m| m.id == miner.id)
                .map(|m| m.jobs_completed),
            Some(1)
        );
        let done = miner.result(
            &assigned,
            json!({"text": "ok"}),
            0,
            (clock.now() / 1_000) as u64,
        );
        coord.complete(&miner.id, &assigned.job_id, done).await?;
        assert_eq!(
            coord.result("alice", &second.id).await?.0.state,
            JobState::Completed,
            "{}",
            db.name
        );
        // Another client does not see it.
        assert!(matches!(
            coord.client_job("bob", &submitted.id).await,
            Err(Error::NotFound(_))
        ));
        assert_eq!(coord.receipts("alice", &submitted.id).await?, vec![receipt]);
    }
    Ok(())
}

#[tokio::test]
async fn jobs_get_uuid_ids_in_the_order_they_were_submitted() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(coord.submit("alice", job(&format!("j{n}")), None).await?.id);
            // Ids are ordered by the millisecond they were made in.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for id in &ids {
            // The earlier system's form: a UUID (here of version 7) as 32 hex digits.
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert_eq!(&id[12..13], "7", "{id} is a version 7 UUID");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "{}: ids sort as the jobs came", db.name);
    }
    Ok(())
}

#[tokio::test]
async fn idempotency_keys_return_the_same_job_or_refuse_another_body() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let first = coord.submit("alice", job("a"), Some("k1".into())).await?;
        let again = coord.submit("alice", job("a"), Some("k1".into())).await?;
        assert_eq!(first.id, again.id, "{}", db.name);
        assert!(matches!(
            coord.submit("alice", job("b"), Some("k1".into())).await,
            Err(Error::Conflict(_))
        ));
        // Keys are per client.
        let bobs = coord.submit("bob", job("a"), Some("k1".into())).await?;
        assert_ne!(bobs.id, first.id);
        // Bad input is refused with the field named.
        let mut bad = job("a");
        bad.ttl_seconds = Some(0);
        assert!(matches!(
            coord.submit("alice", bad, None).await,
            Err(Error::Invalid {
                field: "ttl_seconds",
                ..
            })
        ));
        let bad: SubmitJob = serde_json::from_value(json!({"payload": "text"}))?;
        assert!(matches!(
            coord.submit("alice", bad, None).await,
            Err(Error::Invalid {
                field: "payload",
                ..
            })
        ));
    }
    Ok(())
}

#[tokio::test]
async fn cancel_and_expiry_end_jobs_and_refuse_late_results() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let (coord, miner) = with_miner_m(&db, &clock, 1).await?;
        let running = coord.submit("alice", job("run"), None).await?;
        let assigned = coord.poll(&miner.id, Duration::ZERO).await?.expect("job");
        let canceled = coord.cancel("alice", &running.id).await?;
        assert_eq!(canceled.state, JobState::Canceled, "{}", db.name);
        assert!(matches!(
            coord.cancel("alice", &running.id).await,
            Err(Error::Conflict(_))
        ));
        let late = miner.result(&assigned, json!({}), 0, (clock.now() / 1_000) as u64);
        assert!(matches!(
            coord.complete(&miner.id, &running.id, late).await,
            Err(Error::Conflict(_))
        ));

        let mut short = job("short");
        short.ttl_seconds = Some(5);
        let short = coord.submit("alice", short, None).await?;
        clock.advance(5_000);
        assert_eq!(coord.sweep().await?.expired, 1);
        assert_eq!(
            coord.client_job("alice", &short.id).await?.state,
            JobState::Expired
        );
        assert!(
            coord.poll(&miner.id, Duration::ZERO).await?.is_none(),
            "an expired job was handed out"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_client_waiting_for_a_result_gets_it_when_the_job_finishes() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let (coord, miner) = with_miner_m(&db, &clock, 1_000).await?;
        let submitted = coord.submit("alice", job("wait"), None).await?;
        // Nothing finishes it: the wait ends with the job still running.
        assert!(matches!(
            coord
                .wait_result("alice", &submitted.id, Duration::from_millis(150))
                .await,
            Err(Error::TooEarly)
        ));
        let assigned = coord.poll(&miner.id, Duration::ZERO).await?.expect("job");
        let waiting = {
            let (coord, id) = (coord.clone(), submitted.id.clone());
            tokio::spawn(async move {
                coord
                    .wait_result("alice", &id, Duration::from_secs(20))
                    .await
            })
        };
        // Another client's wait ends at once: the job does not exist for it.
        assert!(matches!(
            coord
                .wait_result("bob", &submitted.id, Duration::from_secs(20))
                .await,
            Err(Error::NotFound(_))
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "{}: answered before the job finished",
            db.name
        );
        clock.advance(1_000);
        let result = miner.result(
            &assigned,
            json!({"text": "done"}),
            1_000,
            (clock.now() / 1_000) as u64,
        );
        let receipt = coord.complete(&miner.id, &assigned.job_id, result).await?;
        let (finished, stored) = waiting.await??;
        assert_eq!(finished.state, JobState::Completed, "{}", db.name);
        assert_eq!(finished.result, Some(json!({"text": "done"})));
        assert_eq!(stored, Some(receipt));
        // Handed over by the finish, not read back: the same as a read, field for field.
        assert_eq!(
            (finished, stored),
            coord.result("alice", &submitted.id).await?,
            "{}",
            db.name
        );

        // A cancel ends a wait too.
        let queued = coord.submit("alice", job("cancel me"), None).await?;
        let waiting = {
            let (coord, id) = (coord.clone(), queued.id.clone());
            tokio::spawn(async move {
                coord
                    .wait_result("alice", &id, Duration::from_secs(20))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        coord.cancel("alice", &queued.id).await?;
        assert_eq!(waiting.await??.0.state, JobState::Canceled, "{}", db.name);
    }
    Ok(())
}

#[tokio::test]
async fn a_wait_on_a_job_that_ended_while_running_here_answers_at_once() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let (coord, miner) = with_miner_m(&db, &clock, 1).await?;
        // A wait that began after the job ended must not take the job for still running
        // (it would answer only at its next read, a second later).
        let at_once = |id: String| {
            let coord = coord.clone();
            async move {
                tokio::time::timeout(
                    Duration::from_millis(500),
                    coord.wait_result("alice", &id, Duration::from_secs(20)),
                )
                .await
            }
        };
        let canceled = coord.submit("alice", job("cancel me"), None).await?;
        coord.poll(&miner.id, Duration::ZERO).await?.expect("job");
        coord.cancel("alice", &canceled.id).await?;
        let (job_now, _) = at_once(canceled.id.clone())
            .await
            .map_err(|_| anyhow::anyhow!("{}: the wait on a canceled job waited", db.name))??;
        assert_eq!(job_now.state, JobState::Canceled, "{}", db.name);

        let mut short = job("expire me");
        short.ttl_seconds = Some(5);
        let expired = coord.submit("alice", short, None).await?;
        coord.poll(&miner.id, Duration::ZERO).await?.expect("job");
        clock.advance(5_000);
        assert_eq!(coord.sweep().await?.expired, 1, "{}", db.name);
        let (job_now, _) = at_once(expired.id.clone())
            .await
            .map_err(|_| anyhow::anyhow!("{}: the wait on an expired job waited", db.name))??;
        assert_eq!(job_now.state, JobState::Expired, "{}", db.name);
    }
    Ok(())
}

#[tokio::test]
async fn a_miner_that_registers_a_new_key_while_it_runs_a_job_signs_with_it() -> anyhow::Result<()>
{
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let old = TestMiner::new("miner-a", 1);
        coord
            .register(&old.id, old.registration("RTX 4090", &["llama3"], 20_000))
            .await?;
        let submitted = coord.submit("alice", job("hi"), None).await?;
        let assigned = coord.poll(&old.id, Duration::ZERO).await?.expect("a job");
        // The same miner, restarted with a new key, while the job runs.
        let new = TestMiner::new("miner-a", 2);
        coord
            .register(&new.id, new.registration("RTX 4090", &["llama3"], 20_000))
            .await?;
        clock.advance(1_000);
        let completed_at = (clock.now() / 1_000) as u64;
        let stale = old.result(&assigned, json!({"text": "x"}), 1_000, completed_at);
        assert!(
            matches!(
                coord.complete(&old.id, &assigned.job_id, stale).await,
                Err(Error::Invalid {
                    field: "receipt.signature",
                    ..
                })
            ),
            "{}: signed with the key it registered before",
            db.name
        );
        let signed = new.result(&assigned, json!({"text": "x"}), 1_000, completed_at);
        coord.complete(&new.id, &assigned.job_id, signed).await?;
        assert_eq!(
            coord.result("alice", &submitted.id).await?.0.state,
            JobState::Completed,
            "{}",
            db.name
        );
    }
    Ok(())
}
