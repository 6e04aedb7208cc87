//! Writes that arrive together (SQLite commits them in one transaction, PostgreSQL side by side) end as if they had come one after another: a miner's slots, a job's id and a receipt's id each stay single, and one write refused costs the others nothing.

use coordinator::{JobState, Store, SubmitJob, store::Finish};
use serde_json::json;
use tokio::task::JoinSet;

use crate::db::{Clock, TestMiner, both, coordinator};

fn job(n: usize) -> SubmitJob {
    serde_json::from_value(json!({"payload": {"prompt": format!("job {n}")}})).expect("job")
}

fn finish(job_id: &str, miner_id: &str, receipt_id: &str, now: i64) -> Finish {
    Finish {
        job_id: job_id.into(),
        miner_id: miner_id.into(),
        state: JobState::Completed,
        result: Some(json!({"text": job_id})),
        metrics: Some(json!({"duration_ms": 1_000})),
        error: None,
        receipt: Some((
            receipt_id.into(),
            json!({"receipt_id": receipt_id}),
            "00".repeat(32),
        )),
        // Every job here was claimed at `now`.
        started_at: now,
        signer: None,
        now,
    }
}

/// Runs `each` for every item at once, each in a task of its own; their outcomes in order.
async fn at_once<T, F>(items: Vec<T>, each: impl Fn(Store, T) -> F, store: &Store) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut tasks = JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let run = each(store.clone(), item);
        tasks.spawn(async move { (i, run.await) });
    }
    let mut outcomes: Vec<(usize, F::Output)> = tasks.join_all().await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test]
async fn writes_arriving_together_end_as_if_one_after_another() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let store = coord.store().clone();
        let (a, b) = (TestMiner::new("miner-a", 1), TestMiner::new("miner-b", 2));
        for miner in [&a, &b] {
            // Two slots each.
            coord
                .register(&miner.id, miner.registration("RTX 4090", &[], 1_000))
                .await?;
        }
        let mut ids = Vec::new();
        for n in 0..8 {
            ids.push(coord.submit("alice", job(n), None).await?.id);
        }
        let now = clock.now();

        // Eight claims at once for a miner with two slots: two land.
        let claims = at_once(
            ids.clone(),
            |store, id| async move { store.claim(&id, "miner-a", now + 30_000, now).await },
            &store,
        )
        .await;
        let won: Vec<&String> = ids
            .iter()
            .zip(&claims)
            .filter_map(|(id, c)| matches!(c, Ok(Some(_))).then_some(id))
            .collect();
        assert_eq!(won.len(), 2, "{}: {claims:?}", db.name);
        assert!(claims.iter().all(Result::is_ok), "{}", db.name);
        // One job claimed twice at once by a miner with two free slots: taken once.
        let rest: Vec<String> = ids.iter().filter(|id| !won.contains(id)).cloned().collect();
        let claims = at_once(
            vec![rest[0].clone(), rest[0].clone()],
            |store, id| async move { store.claim(&id, "miner-b", now + 30_000, now).await },
            &store,
        )
        .await;
        assert_eq!(
            claims.iter().filter(|c| matches!(c, Ok(Some(_)))).count(),
            1,
            "{}: {claims:?}",
            db.name
        );
        assert!(
            store
                .claim(&rest[1], "miner-b", now + 30_000, now)
                .await?
                .is_some()
        );

        // The same new job five times at once: stored once.
        let mut copy = store.job(&ids[0]).await?.expect("job");
        copy.id = "copied".into();
        copy.idempotency_key = None;
        let inserts = at_once(
            vec![copy; 5],
            |store, job| async move { store.insert_job(&job).await },
            &store,
        )
        .await;
        assert_eq!(
            inserts.iter().filter(|i| matches!(i, Ok(true))).count(),
            1,
            "{}: {inserts:?}",
            db.name
        );

        // Seven new jobs at once: each stored whole, as its own.
        let template = store.job(&ids[0]).await?.expect("job");
        let new: Vec<coordinator::Job> = (0..7)
            .map(|n| coordinator::Job {
                id: format!("new-{n}"),
                payload: json!({"prompt": format!("new {n}")}),
                priority: n,
                idempotency_key: None,
                ..template.clone()
            })
            .collect();
        let inserts = at_once(
            new.clone(),
            |store, job| async move { store.insert_job(&job).await },
            &store,
        )
        .await;
        assert!(
            inserts.iter().all(|i| matches!(i, Ok(true))),
            "{}: {inserts:?}",
            db.name
        );
        for job in &new {
            let stored = store.job(&job.id).await?.expect("stored");
            assert_eq!(
                (&stored.payload, stored.priority),
                (&job.payload, job.priority),
                "{}",
                db.name
            );
        }

        // Four running jobs finish at once; one reuses a stored receipt's id and is refused,
        // the three others finish.
        let running: Vec<(String, String)> = [("miner-a", won[0]), ("miner-a", won[1])]
            .into_iter()
            .chain(rest.iter().take(2).map(|id| ("miner-b", id)))
            .map(|(m, id)| (m.to_owned(), id.clone()))
            .collect();
        // A report on an earlier run (the miner took the job again since) finishes nothing.
        let earlier = Finish {
            started_at: now - 1,
            ..finish(&running[0].1, &running[0].0, "earlier", now)
        };
        assert!(!store.finish(&earlier).await?, "{}", db.name);
        // Nor does one signed by a key the miner no longer has registered.
        let replaced = Finish {
            signer: Some(TestMiner::new("miner-a", 9).key.public_key().to_hex()),
            ..finish(&running[0].1, &running[0].0, "replaced", now)
        };
        assert!(!store.finish(&replaced).await?, "{}", db.name);
        assert!(
            store
                .finish(&finish(&running[0].1, &running[0].0, "taken", now))
                .await?
        );
        let finishes = at_once(
            running[1..].to_vec(),
            |store, (miner, id)| async move {
                let receipt = if miner == "miner-a" {
                    "taken".to_owned()
                } else {
                    format!("r-{id}")
                };
                store.finish(&finish(&id, &miner, &receipt, now)).await
            },
            &store,
        )
        .await;
        assert!(finishes[0].is_err(), "{}: {finishes:?}", db.name);
        assert!(
            finishes[1..].iter().all(|f| matches!(f, Ok(true))),
            "{}: {finishes:?}",
            db.name
        );
        let refused = store.job(&running[1].1).await?.expect("job");
        assert_eq!(refused.state, JobState::Running, "{}", db.name);
        assert_eq!(refused.receipt_id, None, "{}", db.name);
        let miners = store.miners().await?;
        let completed = |id: &str| miners.iter().find(|m| m.id == id).map(|m| m.jobs_completed);
        assert_eq!(completed("miner-a"), Some(1), "{}", db.name);
        assert_eq!(completed("miner-b"), Some(2), "{}", db.name);

        // SQLite shared its transactions: fewer commits than writes.
        match store.group_commits() {
            Some(groups) => assert!(groups.commits < groups.writes, "{}: {groups:?}", db.name),
            None => assert_eq!(db.name, "postgres"),
        }
    }
    Ok(())
}
