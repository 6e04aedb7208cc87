//! Clients waiting for their jobs to finish (`GET /v1/jobs/{id}/result?wait_seconds=`): each waits on its job's signal, which this instance fires when the job reaches a final state here (a completed job's signal carries the job and its receipt, which its waiters then need not read back); a job finished elsewhere (another instance, or a path that fires nothing) is seen at the next re-read, within a second, so no client is left waiting on a missed signal.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tokio::sync::Notify;

use crate::Job;

/// The signals of the jobs that clients wait on, one per job, shared by its waiters.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    jobs: Mutex<HashMap<String, Arc<Signal>>>,
}

/// A job as it finished, with its latest receipt: what a client's read of its result gives.
pub(crate) type Outcome = (Job, Option<Value>);

/// A job's signal, and the job as it finished when whoever fired it had it.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    notify: Notify,
    outcome: Mutex<Option<Arc<Outcome>>>,
}

/// One client's wait on a job; the job's entry goes when its last waiter does (also when the
/// client hangs up and its request is dropped).
pub(crate) struct Watch<'a> {
    finished: &'a Finished,
    id: String,
    signal: Arc<Signal>,
}

impl Finished {
    /// Starts watching job `id`.
    pub(crate) fn watch(&self, id: &str) -> Watch<'_> {
        let signal = match self.jobs.lock() {
            Ok(mut jobs) => jobs.entry(id.to_owned()).or_default().clone(),
            // A poisoned map only costs the waiter its signal: it re-reads every second.
            Err(_) => Arc::default(),
        };
        Watch {
            finished: self,
            id: id.to_owned(),
            signal,
        }
    }

    /// Wakes every client waiting on job `id`.
    pub(crate) fn fire(&self, id: &str) {
        if let Ok(jobs) = self.jobs.lock()
            && let Some(signal) = jobs.get(id)
        {
            signal.notify.notify_waiters();
        }
    }

    /// Wakes every client waiting on job `id`, handing them the job as it finished with its
    /// receipt (what reading it back would give), made only if someone waits; whether someone
    /// did.
    pub(crate) fn fire_with(&self, id: &str, outcome: impl FnOnce() -> Outcome) -> bool {
        let Ok(jobs) = self.jobs.lock() else {
            return false;
        };
        let Some(signal) = jobs.get(id) else {
            return false;
        };
        if let Ok(mut slot) = signal.outcome.lock() {
            *slot = Some(Arc::new(outcome()));
        }
        signal.notify.notify_waiters();
        true
    }

    #[cfg(test)]
    fn watched(&self) -> usize {
        self.jobs.lock().map(|j| j.len()).unwrap_or(0)
    }
}

impl Watch<'_> {
    /// The job's signal, to wait on (enable its `notified()` before reading the job, so that a
    /// finish between the read and the wait is not missed).
    pub(crate) fn signal(&self) -> &Notify {
        &self.signal.notify
    }

    /// The job as it finished, if the signal carried it.
    pub(crate) fn outcome(&self) -> Option<Arc<Outcome>> {
        self.signal.outcome.lock().ok()?.clone()
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.finished.jobs.lock()
            && jobs
                .get(&self.id)
                .is_some_and(|s| Arc::ptr_eq(s, &self.signal) && Arc::strong_count(s) == 2)
        {
            // Only the map and this watch hold it: nobody else waits on the job.
            jobs.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fire_wakes_every_waiter_of_its_job_and_the_last_one_out_forgets_it() {
        let finished = Finished::default();
        let (a, b, other) = (
            finished.watch("job-1"),
            finished.watch("job-1"),
            finished.watch("job-2"),
        );
        {
            let (woken_a, woken_b, woken_other) = (
                a.signal().notified(),
                b.signal().notified(),
                other.signal().notified(),
            );
            tokio::pin!(woken_a, woken_b, woken_other);
            woken_a.as_mut().enable();
            woken_b.as_mut().enable();
            woken_other.as_mut().enable();
            finished.fire("job-1");
            let soon = std::time::Duration::from_millis(50);
            assert!(tokio::time::timeout(soon, woken_a).await.is_ok());
            assert!(tokio::time::timeout(soon, woken_b).await.is_ok());
            assert!(
                tokio::time::timeout(soon, woken_other).await.is_err(),
                "another job's waiter woke"
            );
        }
        assert_eq!(finished.watched(), 2);
        drop(a);
        assert_eq!(finished.watched(), 2, "job-1 still has a waiter");
        drop(b);
        drop(other);
        assert_eq!(finished.watched(), 0);
    }

    #[test]
    fn a_completed_job_goes_with_its_signal_to_its_own_waiters_only() {
        let finished = Finished::default();
        let (waiting, other) = (finished.watch("job-1"), finished.watch("job-2"));
        let job = Job {
            state: crate::JobState::Completed,
            lease_expires_at: None,
            finished_at: Some(3),
            result: Some(serde_json::json!({"text": "done"})),
            ..Job::running_for_tests("job-1", "miner")
        };
        finished.fire("job-2");
        assert!(other.outcome().is_none(), "a plain fire carries nothing");
        assert!(
            finished.fire_with("job-1", || (job.clone(), None)),
            "job-1 has a waiter"
        );
        assert_eq!(
            waiting.outcome().map(|o| o.0.id.clone()),
            Some("job-1".into())
        );
        assert!(other.outcome().is_none());
        // Nobody waits on job-3: its outcome is not even made.
        assert!(!finished.fire_with("job-3", || unreachable!("made for nobody")));
    }
}
