//! Handing jobs to miners: a long poll first looks in the queue (the part its instance knows, `known.rs`, then the database's); if nothing there fits, the miner waits in an in-memory list, and each job that becomes ready is offered straight to the first waiting miner it matches (one claim in the database), instead of waking every waiting miner to search the queue at once. Other coordinator instances' jobs reach this instance's waiters through the sweep, once a second.

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
    known::queue_key,
    matching::matches,
    model::Miner,
    payments::PaymentStatus,
    store::{Candidate, Inserted, MinerLoad, ReceiptTerms},
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
    claimed: Mutex<Claims>,
}

/// Jobs claimed a moment ago, with when.
#[derive(Default)]
struct Claims {
    at: HashMap<String, Instant>,
    /// How many the last sweep of old claims kept: the next waits until there are twice as
    /// many (and at least 1,024), so sweeping costs a claim O(1) however many come a second.
    kept: usize,
}

/// How long a claimed job is passed over by polls that read it from the queue before the claim.
const CLAIM_MEMORY: Duration = Duration::from_secs(1);

/// Notes `job` as claimed at `now`, first forgetting claims older than [`CLAIM_MEMORY`] once
/// there are many: the notes stay about one or two seconds' claims.
fn remember(claimed: &mut Claims, job: &str, now: Instant) {
    if claimed.at.len() >= (2 * claimed.kept).max(1_024) {
        claimed
            .at
            .retain(|_, at| now.duration_since(*at) < CLAIM_MEMORY);
        claimed.kept = claimed.at.len();
    }
    claimed.at.insert(job.to_owned(), now);
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
            .at
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
            claimed.at.remove(job);
        }
    }

    /// Forgets every claim: jobs were queued again.
    pub(crate) fn forget_claims(&self) {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.at.clear();
            claimed.kept = 0;
        }
    }

    fn any(&self) -> bool {
        self.list.lock().map(|l| !l.is_empty()).unwrap_or(false)
    }

    /// Whether a poll of `miner_id` waits.
    fn waits(&self, miner_id: &str) -> bool {
        self.list
            .lock()
            .map(|l| l.iter().any(|w| w.miner.id == miner_id))
            .unwrap_or(false)
    }
}

/// What a claim of a job for a miner came to.
enum Claim {
    Taken(Box<Assigned>),
    /// Someone else took the job, or it ended.
    Gone,
    /// The miner's GPUs are booked by another client than the job's: this one.
    Booked(String),
    /// The miner may take no job now (deactivated, offline, or no free slot).
    MinerCannot,
}

/// What [`Coordinator::store_new`] came to.
pub(crate) enum Stored {
    /// Stored and handed to a waiting miner.
    Taken,
    /// Stored and queued.
    Queued,
    /// Not stored: its id is taken, or its client's idempotency key.
    Exists,
}

/// What a poll's look at the queue came to.
enum Look {
    Took(Box<Assigned>),
    NothingFits,
    /// A claim found the miner unable to take any job now.
    MinerCannot,
}

/// How far down the queue a miner's match is looked for: first the head, then further.
const QUEUE_HEAD: i64 = 8;
const QUEUE_WINDOW: i64 = 200;

/// Jobs a poll finds gone among those its instance knows (another instance's miner took them,
/// or they ended) before it reads the database's queue instead.
const MISSES_IN_MEMORY: usize = 3;

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
            let mut miner = self.polling_miner(miner_id, now).await?;
            if let Some(known) = &miner {
                match self.try_assign(known, now).await? {
                    Look::Took(job) => return Ok(Some(*job)),
                    Look::NothingFits => {}
                    // As it is now (its memory was dropped): inactive, or full.
                    Look::MinerCannot => miner = self.polling_miner(miner_id, now).await?,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            let Some(miner) = miner else {
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

    /// The polling miner as recently read, or read now: `None` if it is deactivated or
    /// offline, [`Error::NotFound`] if it never registered.
    async fn polling_miner(&self, miner_id: &str, now: i64) -> Result<Option<Miner>, Error> {
        if let Some(miner) = self.miners.get(miner_id) {
            return Ok(Some(miner));
        }
        let miner = self
            .active_miner(miner_id, now)
            .await?
            .map(|load| load.miner);
        if let Some(miner) = &miner {
            self.miners.put(miner.clone());
        }
        Ok(miner)
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

    /// Why the miner could not take a job of `client` that it fits (read now): it may take no
    /// job (deactivated, offline, no free slot), its GPUs are booked by another client, or
    /// nothing stood in its way, so the job was gone.
    async fn why_not(&self, miner_id: &str, client: &str, now: i64) -> Result<Claim, Error> {
        let Some(load) = self.active_miner(miner_id, now).await? else {
            return Ok(Claim::MinerCannot);
        };
        Ok(if load.running >= i64::from(load.miner.concurrency) {
            Claim::MinerCannot
        } else if let Some(booker) = load.booked_for.filter(|c| c != client) {
            Claim::Booked(booker)
        } else {
            Claim::Gone
        })
    }

    /// Claims the first queued job that the miner can run: among the jobs this instance knows
    /// first (up to [`MISSES_IN_MEMORY`] of them gone), then in the database's queue.
    async fn try_assign(&self, miner: &Miner, now: i64) -> Result<Look, Error> {
        // Once a claim shows the miner booked, only its booker's jobs are tried.
        let mut booked_for = None;
        let may_take = |job: &Candidate, booked_for: &Option<String>| {
            fits(miner, job) && booked_for.as_ref().is_none_or(|c| *c == job.client_id)
        };
        let mut after = None;
        let mut misses = 0;
        while let Some(job) = self
            .queue
            .next(after.as_ref(), |job| may_take(job, &booked_for))
        {
            after = Some(queue_key(&job));
            match self.reserve_and_claim(miner, &job, now).await? {
                None => {}
                Some(Claim::Taken(assigned)) => {
                    self.queue.remove(&job);
                    return Ok(Look::Took(assigned));
                }
                Some(Claim::Gone) => {
                    self.queue.remove(&job);
                    misses += 1;
                    if misses == MISSES_IN_MEMORY {
                        break;
                    }
                }
                Some(Claim::Booked(booker)) => booked_for = Some(booker),
                Some(Claim::MinerCannot) => return Ok(Look::MinerCannot),
            }
        }
        // Most miners fit one of the first few jobs; only if none does is the queue read further.
        for window in [QUEUE_HEAD, QUEUE_WINDOW] {
            let jobs = self.store.queued(now, window).await?;
            let whole_queue = (jobs.len() as i64) < window;
            for job in jobs {
                if !may_take(&job, &booked_for) {
                    continue;
                }
                match self.reserve_and_claim(miner, &job, now).await? {
                    None => {}
                    Some(Claim::Taken(assigned)) => {
                        self.queue.remove(&job);
                        return Ok(Look::Took(assigned));
                    }
                    Some(Claim::Gone) => self.queue.remove(&job),
                    Some(Claim::Booked(booker)) => booked_for = Some(booker),
                    Some(Claim::MinerCannot) => return Ok(Look::MinerCannot),
                }
            }
            if whole_queue {
                break;
            }
        }
        Ok(Look::NothingFits)
    }

    /// A poll's claim of `job`: `None` if a poll of this instance claimed it a moment ago.
    /// Polls that passed over the job while this one held it look again if the claim failed
    /// for this miner's sake, and a waiting miner is offered it.
    async fn reserve_and_claim(
        &self,
        miner: &Miner,
        job: &Candidate,
        now: i64,
    ) -> Result<Option<Claim>, Error> {
        if !self.waiters.reserve(&job.id) {
            return Ok(None);
        }
        let claim = self.claim(miner, job, now).await;
        if !matches!(claim, Ok(Claim::Taken(_) | Claim::Gone)) {
            self.waiters.forget(&job.id);
        }
        if matches!(claim, Ok(Claim::Booked(_) | Claim::MinerCannot)) {
            self.waiters.ready.fetch_add(1, Ordering::SeqCst);
            if self.waiters.any() && self.hand_out(job).await? {
                self.queue.remove(job);
            }
        }
        claim.map(Some)
    }

    /// Takes `job` for `miner` in the database, if it is still queued and the miner may take it
    /// now (checked in the same statement: the miner may have changed since it was read), and
    /// notes it, so that polls reading the queue pass over it. Only when the claim fails is the
    /// miner read, to tell which of the two stood in the way.
    async fn claim(&self, miner: &Miner, job: &Candidate, now: i64) -> Result<Claim, Error> {
        let lease = now + self.config.heartbeat_timeout_ms;
        let Some(claimed) = self.store.claim(&job.id, &miner.id, lease, now).await? else {
            let why = self.why_not(&miner.id, &job.client_id, now).await?;
            if matches!(why, Claim::MinerCannot) {
                // Read afresh at its next look (see `poll`).
                self.miners.forget(&miner.id);
            }
            return Ok(why);
        };
        Ok(Claim::Taken(Box::new(self.taken(miner, claimed, now))))
    }

    /// What `miner` is told of `claimed`, a job just claimed for it at `now`, noted so that
    /// polls reading the queue pass over the job, and remembered with its receipt terms.
    fn taken(&self, miner: &Miner, claimed: Job, now: i64) -> Assigned {
        self.waiters.note(&claimed.id);
        let assigned = Assigned {
            job_id: claimed.id.clone(),
            payload: claimed.payload.clone(),
            constraints: claimed.constraints.clone(),
            client: claimed.client_id.clone(),
            started_at: now / 1_000,
            unit_price: miner.capabilities.price_per_unit,
            chain_id: self.config.chain_id.clone(),
        };
        // The miner's report is checked against the terms it was told here.
        let terms = ReceiptTerms {
            public_key: miner.public_key.clone(),
            price_per_unit: miner.capabilities.price_per_unit,
        };
        self.running.put(claimed, terms);
        assigned
    }

    /// Stores a new job. One that may go to miners now (unpaid) is claimed in the same write
    /// for the longest-waiting miner it fits, if one waits and may take it; the caller offers
    /// a job that stays queued (see [`Coordinator::offer`]).
    pub(crate) async fn store_new(&self, job: &Job) -> Result<Stored, Error> {
        let candidate = Candidate::from(job);
        let waiter = if ready(job) {
            self.waiters.take(|m| fits(m, &candidate))
        } else {
            None
        };
        let Some(waiter) = waiter else {
            return Ok(match self.store.insert_job(job).await? {
                true => Stored::Queued,
                false => Stored::Exists,
            });
        };
        let now = job.requested_at;
        let lease = now + self.config.heartbeat_timeout_ms;
        let inserted = self
            .store
            .insert_and_claim(job, &waiter.miner.id, lease)
            .await;
        let claimed = match inserted {
            Ok(Inserted::Claimed(claimed)) => *claimed,
            other => {
                if matches!(other, Ok(Inserted::Queued)) {
                    // It may take no job now, as its next look reads afresh (see `poll`).
                    self.miners.forget(&waiter.miner.id);
                }
                self.waiters.put_back(vec![waiter]);
                return Ok(match other? {
                    Inserted::Exists => Stored::Exists,
                    _ => Stored::Queued,
                });
            }
        };
        let assigned = self.taken(&waiter.miner, claimed, now);
        if waiter.send.send(assigned).is_ok() {
            return Ok(Stored::Taken);
        }
        // The poll ended a moment ago: the job is given back, queued like any other.
        self.running.take(&job.id, &waiter.miner.id);
        self.store.unclaim(&job.id, &waiter.miner.id).await?;
        self.waiters.forget(&job.id);
        Ok(Stored::Queued)
    }

    /// Offers a job that just became ready to the miners waiting for one; if none takes it,
    /// it is known to this instance's polls.
    pub(crate) async fn offer(&self, job: Job) -> Result<(), Error> {
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        if !ready(&job) {
            return Ok(());
        }
        self.offer_queue(vec![Candidate::from(&job)]).await
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
            match self.claim(&waiter.miner, job, now).await {
                Ok(Claim::Taken(assigned)) => match waiter.send.send(*assigned) {
                    Ok(()) => break Ok(true),
                    // The poll ended a moment ago: give the job back, try the next miner.
                    Err(_) => {
                        self.running.take(&job.id, &waiter.miner.id);
                        if let Err(e) = self.store.unclaim(&job.id, &waiter.miner.id).await {
                            break Err(e.into());
                        }
                        self.waiters.forget(&job.id);
                    }
                },
                // Taken meanwhile (by another instance's miner), or it ended; or the miner's
                // slot filled and freed between the claim and the read. Polls find out which.
                Ok(Claim::Gone) => {
                    passed.push(waiter);
                    break Ok(false);
                }
                Ok(Claim::Booked(_) | Claim::MinerCannot) => passed.push(waiter),
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
    /// take a queued job (a lock reached a block, a lease lapsed, a slot or a GPU was freed).
    pub(crate) async fn dispatch(&self) -> Result<(), Error> {
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        if !self.waiters.any() {
            return Ok(());
        }
        let jobs = self.store.queued(self.now(), QUEUE_WINDOW).await?;
        self.offer_queue(jobs).await
    }

    /// Offers the queue to the waiting polls of `miner_id`, one of whose slots a result or a
    /// failure just freed. Other waiting miners gain nothing by it (each was offered every job
    /// it fits that became ready while it waited, and looked at the queue before), so unless a
    /// poll of this miner waits, the queue is not read.
    pub(crate) async fn slot_freed(&self, miner_id: &str) {
        // A poll of this miner about to wait looks again (see `poll`).
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        if self.waiters.waits(miner_id) {
            self.redispatch().await;
        }
    }

    /// Reads the head of the database's queue, which this instance's polls then know instead
    /// of what they knew (jobs other instances queued or gave back, and without those that
    /// ended), and offers it to the waiting miners: once a second, from the sweep.
    pub(crate) async fn refresh_queue(&self) -> Result<(), Error> {
        self.waiters.ready.fetch_add(1, Ordering::SeqCst);
        let round = self.queue.start_round();
        let jobs = self.store.queued(self.now(), QUEUE_WINDOW).await?;
        self.queue.replace(round, jobs.clone());
        self.offer_queue(jobs).await
    }

    /// Offers `jobs`, in order, to the waiting miners; those none took are known to polls.
    async fn offer_queue(&self, jobs: Vec<Candidate>) -> Result<(), Error> {
        for job in jobs {
            if self.waiters.any() && self.hand_out(&job).await? {
                self.queue.remove(&job);
            } else {
                self.queue.add([job]);
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiters").finish_non_exhaustive()
    }
}
