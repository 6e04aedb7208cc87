//! What a long poll knows without reading the database: the queued jobs this instance knows of, in queue order, and the miners polls read a moment ago. The database still decides every claim; these only spare a poll its reads.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, HashMap},
    ops::Bound,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{model::Miner, store::Candidate};

/// Where a job stands in the queue: highest priority first, then oldest, then by id.
pub(crate) type QueueKey = (Reverse<i32>, i64, String);

pub(crate) fn queue_key(job: &Candidate) -> QueueKey {
    (Reverse(job.priority), job.requested_at, job.id.clone())
}

/// The queued jobs this instance knows of, in queue order: those queued here, and the head of
/// the database's queue as each sweep (once a second) and each offer of the queue read it. A
/// poll takes the first that fits its miner without reading the queue (one statement per job
/// instead of two or more); the claim, a compare-and-set in the database, still decides, so a
/// job that another instance took or that ended is only dropped from here. Jobs this instance
/// did not queue (another's, or given back by a lapsed lease) join within a second, and a poll
/// that finds nothing here reads the database's queue.
#[derive(Default)]
pub(crate) struct KnownQueue(Mutex<Known>);

/// The jobs of a [`KnownQueue`], each with the round of reading the database's queue it was
/// added in.
#[derive(Default)]
struct Known {
    jobs: BTreeMap<QueueKey, (Candidate, u64)>,
    round: u64,
}

/// Jobs kept in a [`KnownQueue`] at most; beyond them, polls read the database's queue.
const KNOWN_JOBS: usize = 10_000;

impl KnownQueue {
    pub(crate) fn add(&self, jobs: impl IntoIterator<Item = Candidate>) {
        if let Ok(mut known) = self.0.lock() {
            let round = known.round;
            for job in jobs {
                if known.jobs.len() >= KNOWN_JOBS {
                    break;
                }
                known.jobs.insert(queue_key(&job), (job, round));
            }
        }
    }

    /// Starts a reading of the database's queue; its outcome goes to [`KnownQueue::replace`].
    pub(crate) fn start_round(&self) -> u64 {
        self.0.lock().map_or(0, |mut known| {
            known.round += 1;
            known.round
        })
    }

    /// Knows `jobs`, the database's queue head as read in `round`, instead of the jobs known
    /// before that reading began (those added since stay: the reading may have missed them).
    pub(crate) fn replace(&self, round: u64, jobs: Vec<Candidate>) {
        if let Ok(mut known) = self.0.lock() {
            known.jobs.retain(|_, (_, added)| *added >= round);
        }
        self.add(jobs);
    }

    pub(crate) fn remove(&self, job: &Candidate) {
        if let Ok(mut known) = self.0.lock() {
            known.jobs.remove(&queue_key(job));
        }
    }

    /// The first job after `after` (from the head if `None`) that `fits`.
    pub(crate) fn next(
        &self,
        after: Option<&QueueKey>,
        fits: impl Fn(&Candidate) -> bool,
    ) -> Option<Candidate> {
        let known = self.0.lock().ok()?;
        let from = after.map_or(Bound::Unbounded, |key| Bound::Excluded(key.clone()));
        known
            .jobs
            .range((from, Bound::Unbounded))
            .map(|(_, (job, _))| job)
            .find(|job| fits(job))
            .cloned()
    }
}

/// Miners as polls recently read them. What matching needs (capabilities, payout address)
/// changes only when a miner registers again, and whether it may take a job now (enabled,
/// online, a free slot, not booked by another client) is checked by each claim, so a poll
/// needs no read of the miner while this holds it.
#[derive(Default)]
pub(crate) struct KnownMiners(Mutex<HashMap<String, (Miner, Instant)>>);

/// Miners kept in a [`KnownMiners`] at most: beyond them it starts afresh (as the API key
/// cache does) rather than grow without bound.
const KNOWN_MINERS: usize = 10_000;

/// How long a poll trusts a miner read before it: a registration with new capabilities on
/// another instance shows within this.
pub(crate) const MINER_MEMORY: Duration = Duration::from_secs(2);

impl KnownMiners {
    pub(crate) fn get(&self, id: &str) -> Option<Miner> {
        let known = self.0.lock().ok()?;
        let (miner, at) = known.get(id)?;
        (at.elapsed() < MINER_MEMORY).then(|| miner.clone())
    }

    pub(crate) fn put(&self, miner: Miner) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() >= KNOWN_MINERS {
                known.clear();
            }
            known.insert(miner.id.clone(), (miner, Instant::now()));
        }
    }

    /// Forgets miner `id`: it changed, or cannot take jobs now.
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut known) = self.0.lock() {
            known.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, client: &str, priority: i32, requested_at: i64) -> Candidate {
        Candidate {
            id: id.into(),
            client_id: client.into(),
            constraints: Default::default(),
            paid: false,
            priority,
            requested_at,
        }
    }

    fn ids(queue: &KnownQueue, fits: impl Fn(&Candidate) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        let mut after = None;
        while let Some(job) = queue.next(after.as_ref(), &fits) {
            after = Some(queue_key(&job));
            seen.push(job.id);
        }
        seen
    }

    #[test]
    fn known_jobs_come_in_queue_order_and_a_reading_keeps_what_it_may_have_missed() {
        let queue = KnownQueue::default();
        queue.add([
            job("late", "a", 0, 30),
            job("urgent", "b", 5, 40),
            job("early", "a", 0, 10),
        ]);
        assert_eq!(ids(&queue, |_| true), ["urgent", "early", "late"]);
        assert_eq!(ids(&queue, |j| j.client_id == "a"), ["early", "late"]);

        // A reading of the database's queue starts; a job is queued here meanwhile; the
        // reading saw "early" (and one from elsewhere), not the others, which have ended.
        let round = queue.start_round();
        queue.add([job("new", "a", 0, 50)]);
        queue.replace(
            round,
            vec![job("early", "a", 0, 10), job("other", "c", 0, 20)],
        );
        assert_eq!(ids(&queue, |_| true), ["early", "other", "new"]);

        queue.remove(&job("other", "c", 0, 20));
        assert_eq!(ids(&queue, |_| true), ["early", "new"]);
    }
}
