//! Handing jobs to miners: a long poll first looks in the queue; if nothing there fits, the miner waits in an in-memory list, and each job that becomes ready is offered straight to the first waiting miner it matches (one claim in the database), instead of waking every waiting miner to search the queue at once. Other coordinator instances' jobs reach this instance's waiters through the sweep, once a second.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::{
    Assigned, Coordinator, Error, Job, MinerStatus,
    matching::matches,
    model::Miner,
    payments::PaymentStatus,
    store::{Candidate, MinerLoad},
};

/// A miner waiting in a long poll.
struct Waiter {
    token: u64,
    miner: Miner,
    send: oneshot::Sender<Assigned>,
}

/// The miners waiting for work on this instance.
#[derive(Default)]
pub(crate) struct Waiters {
    list: Mutex<Vec<Waiter>>,
    next_token: AtomicU64,
    /// Counts jobs made ready; a poll that sees it move while it looked at the queue looks
    /// again, so no job slips between its look and its wait.
    ready: AtomicU64,
    /// Jobs this instance's polls claimed (or tried to) a moment ago, with when: polls reading
    /// the queue at once pass over them instead of all racing for the queue's head.
    claimed: Mutex<HashMap<String, Instant>>,
}

/// How long a claimed job is passed over by polls that read it from the queue before the claim.
const CLAIM_MEMORY: Duration = Duration::from_secs(1);

/// Notes `job` as claimed at `now`, first forgetting claims older than [`CLAIM_MEMORY`] once
/// there are many: the notes stay about one second's claims.
fn remember(claimed: &mut HashMap<String, Instant>, job: &str, now: Instant) {
    if claimed.len() >= 1_024 {
        claimed.retain(|_, at| now.duration_since(*at) < CLAIM_MEMORY);
    }
    claimed.insert(job.to_owned(), now);
}

impl Waiters {
    fn push(&self, miner: Miner, send: oneshot::Sender<Assigned>) -> u64 {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut list) = self.list.lock() {
            list.push(Waiter { token, miner, send });
        }
        token
    }

    /// Takes waiter `token` out; false if a job was handed to it meanwhile.
    fn remove(&self, token: u64) -> bool {
        let Ok(mut list) = self.list.lock() else {
            return false;
        };
        match list.iter().position(|w| w.token == token) {
            Some(i) => {
                list.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Returns waiters taken out but not served, ahead of the others (they waited longer).
    fn put_back(&self, waiters: Vec<Waiter>) {
        if let Ok(mut list) = self.list.lock() {
            list.splice(0..0, waiters);
        }
    }

    /// Takes out the longest-waiting miner that `fits` (and is still listening).
    fn take(&self, fits: impl Fn(&Miner) -> bool) -> Option<Waiter> {
        let mut list = self.list.lock().ok()?;
        list.retain(|w| !w.send.is_closed());
        let i = list.iter().position(|w| fits(&w.miner))?;
        Some(list.remove(i))
    }

    /// Notes that `job` is being claimed; false if a poll of this instance claimed it a moment
    /// ago.
    fn reserve(&self, job: &str) -> bool {
        let Ok(mut claimed) = self.claimed.lock() else {
            return true;
        };
        let now = Instant::now();
        if claimed
            .get(job)
            .is_some_and(|at| now.duration_since(*at) < CLAIM_MEMORY)
        {
            return false;
        }
        remember(&mut claimed, job, now);
        true
    }

    /// Notes that `job` was claimed.
    fn note(&self, job: &str) {
        if let Ok(mut claimed) = self.claimed.lock() {
            remember(&mut claimed, job, Instant::now());
        }
    }

    /// Forgets a claim: the job is queued again.
    fn forget(&self, job: &str) {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.remove(job);
        }
    }

    /// Forgets every claim: jobs were queued again.
    pub(crate) fn forget_claims(&self) {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.clear();
        }
    }

    fn any(&self) -> bool {
        self.list.lock().map(|l| !l.is_empty()).unwrap_or(false)
    }
}

/// How far down the queue a miner's match is looked for: first the head, then further.
const QUEUE_HEAD: i64 = 8;
const QUEUE_WINDOW: i64 = 200;

/// Whether `miner` may run `job`; a paid job goes only to a miner the escrow can pay.
fn fits(miner: &Miner, job: &Candidate) -> bool {
    matches(&job.constraints, &miner.capabilities) && (!job.paid || miner.payout_address.is_some())
}

/// Whether a job may go to miners now: unpaid, or paid with its lock in a block.
fn ready(job: &Job) -> bool {
    job.payment.is_none() || job.payment_status == Some(PaymentStatus::Locked)
}

impl Coordinator {
    /// Waits up to `max_wait` for a job this miner can run, taking it as soon as one exists.
    pub async fn poll(
        &self,
        miner_id: &str,
        max_wait: Duration,
    ) -> Result<Option<Assigned>, Error> {
        let deadline = tokio::time::Instant::now() + max_wait.min(self.config.max_poll_wait);
        loop {
            let seen = self.waiters.ready.load(Ordering::SeqCst);
            let now = self.now();
            let load = self.active_miner(miner_id, now).await?;
            if let Some(load) = &load
                && let Some(job) = self.try_assign(load, now).await?
            {
                return Ok(Some(job));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            let Some(MinerLoad { miner, .. }) = load else {
                // Deactivated or offline: look again in a second (a heartbeat may bring it back).
                let again = tokio::time::Instant::now() + Duration::from_secs(1);
                tokio::time::sleep_until(deadline.min(again)).await;
                continue;
            };
            let (send, receive) = oneshot::channel();
            let token = self.waiters.push(miner, send);
            if self.waiters.ready.load(Ordering::SeqCst) != seen && self.waiters.remove(token) {
                // A job became ready while this poll looked at the queue: look again.
                continue;
            }
            let assigned = tokio::time::timeout_at(deadline, receive).await;
            self.waiters.remove(token);
            return Ok(match assigned {
                Ok(Ok(job)) => Some(job),
                _ => None,
            });
        }
    }

    /// The miner and its load, if it is registered, enabled and online.
    async fn active_miner(&self, miner_id: &str, now: i64) -> Result<Option<MinerLoad>, Error> {
        let Some(load) = self.store.miner_load(miner_id, now).await? else {
            return Err(Error::NotFound(format!(
                "miner {miner_id} (register first)"
            )));
        };
        Ok((load.miner.enabled && load.miner.status == MinerStatus::Online).then_some(load))
    }

    /// The miner as it is now, if it may take a job of `client`: enabled and online, with a
    /// free slot, and no booking of its GPUs by another client.
    async fn can_take(
        &self,
        miner_id: &str,
        client: &str,
        now: i64,
    ) -> Result<Option<Miner>, Error> {
        let Some(load) = self.active_miner(miner_id, now).await? else {
            return Ok(None);
        };
        let free = load.running < i64::from(load.miner.concurrency);
        let allowed = load.booked_for.is_none_or(|c| c == client);
        Ok((free && allowed).then_some(load.miner))
    }

    /// Claims the first queued job that the miner can run.
    async fn try_assign(&self, load: &MinerLoad, now: i64) -> Result<Option<Assigned>, Error> {
        let miner = &load.miner;
        if load.running >= i64::from(miner.concurrency) {
            return Ok(None);
        }
        // Most miners fit one of the first few jobs; only if none does is the queue read further.
        for window in [QUEUE_HEAD, QUEUE_WINDOW] {
            let jobs = self.store.queued(now, window).await?;
            let whole_queue = (jobs.len() as i64) < window;
            for job in jobs {
                if !fits(miner, &job)
                    || load
                        .booked_for
                        .as_ref()
                        .is_some_and(|c| *c != job.client_id)
                    || !self.waiters.reserve(&job.id)
                {
                    continue;
                }
                match self.claim(miner, &job.id, now, false).await {
                    Ok(Some(assigned)) => return Ok(Some(assigned)),
                    Ok(None) => {}
                    Err(e) => {
                        self.waiters.forget(&job.id);
                        return Err(e);
                    }
                }
            }
            if whole_queue {
                break;
            }
        }
        Ok(None)
    }

    /// Takes job `id` for `miner` in the database (and notes it, so that polls reading the
    /// queue pass over it); `None` if another took it first. With `check_miner`, the miner's
    /// state is checked in the same statement (a waiting miner's may have changed since its
    /// poll read it), and `None` may also mean that it cannot take the job now.
    async fn claim(
        &self,
        miner: &Miner,
        id: &str,
        now: i64,
        check_miner: bool,
    ) -> Result<Option<Assigned>, Error> {
        let lease = now + self.config.heartbeat_timeout_ms;
        let claimed = if check_miner {
            self.store.claim_if_free(id, &miner.id, lease, now).await?
        } else {
            self.store.claim(id, &miner.id, lease, now).await?
        };
        let Some(job) = claimed else {
            return Ok(None);
        };
        self.waiters.note(id);
        Ok(Some(Assigned {
            job_id: id.to_owned(),
            payload: job.payload,
            constraints: job.constraints,
            client: job.client_id,
            started_at: now / 1_000,
            unit_price: miner.capabilities.price_per_unit,
            chain_id: self.config.chain_id.clone(),
        }))
    }

    /// Offers a job that just became ready to the miners waiting for one.
    pub(crate) async fn offer(&self, job: Job) -> Result<(), Error> {
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        if !ready(&job) {
            return Ok(());
        }
        self.hand_out(&Candidate::from(&job)).await.map(drop)
    }

    /// Hands `job` to a waiting miner that fits; false when none took it.
    async fn hand_out(&self, job: &Candidate) -> Result<bool, Error> {
        let now = self.now();
        // Miners that fit the job but cannot take it now wait on, in their turn.
        let mut passed = Vec::new();
        let outcome = loop {
            let Some(waiter) = self.waiters.take(|m| fits(m, job)) else {
                break Ok(false);
            };
            // One statement claims the job if the miner may still take it; only when it did
            // not is the miner read, to tell which of the two stood in the way.
            match self.claim(&waiter.miner, &job.id, now, true).await {
                Ok(Some(assigned)) => match waiter.send.send(assigned) {
                    Ok(()) => break Ok(true),
                    // The poll ended a moment ago: give the job back, try the next miner.
                    Err(_) => {
                        if let Err(e) = self.store.unclaim(&job.id, &waiter.miner.id).await {
                            break Err(e.into());
                        }
                        self.waiters.forget(&job.id);
                    }
                },
                Ok(None) => {
                    let can_take = self.can_take(&waiter.miner.id, &job.client_id, now).await;
                    passed.push(waiter);
                    match can_take {
                        // The miner may take it: the job was taken meanwhile (by another
                        // instance's miner, or it expired).
                        Ok(Some(_)) => break Ok(true),
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                }
                Err(e) => {
                    passed.push(waiter);
                    break Err(e);
                }
            }
        };
        self.waiters.put_back(passed);
        outcome
    }

    /// Offers the queue to the waiting miners: after anything that may let a waiting miner
    /// take a queued job (a lock reached a block, a lease lapsed, a slot or a GPU was freed),
    /// and once a second for jobs other instances queued.
    pub(crate) async fn dispatch(&self) -> Result<(), Error> {
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        if !self.waiters.any() {
            return Ok(());
        }
        for job in self.store.queued(self.now(), QUEUE_WINDOW).await? {
            if !self.waiters.any() {
                break;
            }
            self.hand_out(&job).await?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiters").finish_non_exhaustive()
    }
}
