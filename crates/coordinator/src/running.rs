//! The jobs this instance handed to miners a moment ago, as their claims left them, with the receipt terms (key and price) of each miner as the claim knew it: a miner's report on such a job is checked against this instead of reading the job and the miner back. The database still decides: a finish changes the job only if it still runs on that miner since that start and the key that signed is still the one the miner registered (it may have registered another since; the report is then checked against the stored job and the key read with it).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{known::MINER_MEMORY, model::Job, store::ReceiptTerms};

/// Running jobs handed out here, by id.
#[derive(Default)]
pub(crate) struct RunningHere(Mutex<HashMap<String, Handed>>);

struct Handed {
    job: Job,
    terms: ReceiptTerms,
    at: Instant,
}

/// How long a job handed out is remembered: a report later than this reads the job back (and
/// the miner's key with it).
const KEPT: Duration = MINER_MEMORY;

/// Jobs remembered at most; beyond them, reports read their jobs back.
const MOST: usize = 20_000;

impl RunningHere {
    /// Notes `job`, just claimed, and the terms its miner was told.
    pub(crate) fn put(&self, job: Job, terms: ReceiptTerms) {
        let Ok(mut running) = self.0.lock() else {
            return;
        };
        if running.len() >= MOST {
            forget_old(&mut running);
            if running.len() >= MOST {
                return;
            }
        }
        let at = Instant::now();
        running.insert(job.id.clone(), Handed { job, terms, at });
    }

    /// Takes out job `id` as handed to `miner_id`, if it is remembered (another miner's report
    /// leaves it be).
    pub(crate) fn take(&self, id: &str, miner_id: &str) -> Option<(Job, ReceiptTerms)> {
        let mut running = self.0.lock().ok()?;
        let handed = running.get(id)?;
        if handed.job.assigned_miner_id.as_deref() != Some(miner_id) {
            return None;
        }
        let handed = running.remove(id)?;
        (handed.at.elapsed() < KEPT).then_some((handed.job, handed.terms))
    }

    /// Whether job `id` of `client_id` was handed out here a moment ago and its miner has not
    /// reported since: it has not finished here.
    pub(crate) fn runs_for(&self, id: &str, client_id: &str) -> bool {
        let Ok(running) = self.0.lock() else {
            return false;
        };
        running
            .get(id)
            .is_some_and(|handed| handed.job.client_id == client_id && handed.at.elapsed() < KEPT)
    }

    /// Forgets job `id`, which ended here without its miner's report (canceled, expired, its
    /// lease lapsed too often).
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut running) = self.0.lock() {
            running.remove(id);
        }
    }

    /// Forgets jobs handed out too long ago (those whose reports never came).
    pub(crate) fn sweep(&self) {
        if let Ok(mut running) = self.0.lock() {
            forget_old(&mut running);
        }
    }
}

fn forget_old(running: &mut HashMap<String, Handed>) {
    running.retain(|_, handed| handed.at.elapsed() < KEPT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_taken_once_and_only_by_its_miner() {
        let job = Job::running_for_tests("j", "m");
        let terms = ReceiptTerms {
            public_key: None,
            price_per_unit: 7,
        };
        let running = RunningHere::default();
        running.put(job.clone(), terms.clone());
        assert_eq!(running.take("j", "other"), None);
        assert_eq!(running.take("j", "m"), Some((job, terms)));
        assert_eq!(running.take("j", "m"), None);
    }

    #[test]
    fn a_job_runs_here_for_its_own_client_until_reported_or_forgotten() {
        let terms = ReceiptTerms {
            public_key: None,
            price_per_unit: 7,
        };
        let running = RunningHere::default();
        running.put(Job::running_for_tests("j", "m"), terms.clone());
        running.put(Job::running_for_tests("k", "m"), terms);
        assert!(running.runs_for("j", "alice"));
        assert!(!running.runs_for("j", "bob"), "another client's job");
        assert!(!running.runs_for("x", "alice"), "never handed out here");
        running.take("j", "m");
        assert!(!running.runs_for("j", "alice"), "its miner reported");
        running.forget("k");
        assert!(!running.runs_for("k", "alice"), "canceled or expired");
    }
}
