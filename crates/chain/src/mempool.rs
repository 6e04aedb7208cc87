//! Transactions waiting for a block: kept in nonce order per sender, chosen by fee across senders, replaceable by a higher fee, capped per account and in total, and expired after a while. Pure: the caller passes in the state and the clock.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use types::{Address, Amount, Hash, SignedTransaction};

use crate::state::{Rejection, State, spend};

/// Limits of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    pub max_total: usize,
    pub max_per_account: usize,
    /// A replacement must raise the fee by at least this many percent.
    pub min_bump_percent: u64,
    pub ttl_ms: u64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_total: 200_000,
            max_per_account: 1024,
            min_bump_percent: 10,
            ttl_ms: 10 * 60 * 1_000,
        }
    }
}

/// Why the pool refused a transaction that is otherwise valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Invalid(#[from] Rejection),
    #[error("a transaction with this nonce is pending; a replacement must pay at least {min_fee}")]
    ReplacementUnderpriced { min_fee: Amount },
    #[error("this account already has {0} pending transactions")]
    AccountFull(usize),
    #[error("the pool is full and this fee does not beat the cheapest pending transaction")]
    PoolFull,
}

impl PoolError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PoolError::Invalid(r) => r.code(),
            PoolError::ReplacementUnderpriced { .. } => "replacement_underpriced",
            PoolError::AccountFull(_) => "account_full",
            PoolError::PoolFull => "mempool_full",
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    tx: SignedTransaction,
    received_ms: u64,
    seq: u64,
}

/// What became of an admitted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admitted {
    New(Hash),
    /// Already pending; nothing changed.
    Duplicate(Hash),
    /// Replaced the pending transaction with this hash.
    Replaced {
        new: Hash,
        old: Hash,
    },
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    limits: MempoolLimits,
    by_hash: HashMap<Hash, (Address, u64)>,
    by_sender: HashMap<Address, BTreeMap<u64, Entry>>,
    next_seq: u64,
    dropped: Vec<Hash>,
}

impl Mempool {
    pub fn new(limits: MempoolLimits) -> Self {
        Mempool {
            limits,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// How many transactions of `sender` wait.
    pub fn pending_of(&self, sender: &Address) -> usize {
        self.by_sender.get(sender).map_or(0, BTreeMap::len)
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub fn get(&self, hash: &Hash) -> Option<&SignedTransaction> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|e| &e.tx)
    }

    /// Admits `tx` (already checked with [`State::check_standalone`]) against `state`.
    pub fn admit(
        &mut self,
        tx: SignedTransaction,
        state: &State,
        now_ms: u64,
    ) -> Result<Admitted, PoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Ok(Admitted::Duplicate(hash));
        }
        let sender = tx.tx.sender_address();
        let account = state.account(&sender);
        let pending = self.by_sender.get(&sender);
        let pending_count = pending.map_or(0, BTreeMap::len) as u64;
        let next = account.nonce + pending_count;
        let nonce = tx.tx.nonce;
        if nonce < account.nonce {
            return Err(Rejection::StaleNonce {
                expected: account.nonce,
                got: nonce,
            }
            .into());
        }
        if nonce > next {
            return Err(Rejection::FutureNonce {
                expected: next,
                got: nonce,
            }
            .into());
        }
        let replacing = pending.and_then(|p| p.get(&nonce));
        if let Some(old) = replacing {
            let min_fee = Amount(
                old.tx
                    .tx
                    .fee
                    .0
                    .saturating_mul(100 + self.limits.min_bump_percent)
                    .div_ceil(100),
            );
            if tx.tx.fee < min_fee {
                return Err(PoolError::ReplacementUnderpriced { min_fee });
            }
        } else if pending_count as usize >= self.limits.max_per_account {
            return Err(PoolError::AccountFull(pending_count as usize));
        }
        // The sender must afford everything pending before this one, plus this one.
        let before: Option<Amount> = pending
            .into_iter()
            .flat_map(|p| p.range(..nonce))
            .try_fold(Amount::ZERO, |sum, (_, e)| sum.checked_add(spend(&e.tx)?));
        let needed = before
            .and_then(|b| b.checked_add(spend(&tx)?))
            .ok_or(Rejection::Overflow)?;
        if account.balance < needed {
            return Err(Rejection::InsufficientFunds {
                balance: account.balance,
                needed,
            }
            .into());
        }
        if replacing.is_none() && self.len() >= self.limits.max_total {
            self.evict_for(&tx)?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            tx,
            received_ms: now_ms,
            seq,
        };
        let old = self
            .by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, entry);
        self.by_hash.insert(hash, (sender, nonce));
        Ok(match old {
            Some(old) => {
                let old = old.tx.hash();
                self.by_hash.remove(&old);
                Admitted::Replaced { new: hash, old }
            }
            None => Admitted::New(hash),
        })
    }

    /// Makes room by dropping the cheapest last-in-line transaction, if `incoming` pays more.
    fn evict_for(&mut self, incoming: &SignedTransaction) -> Result<(), PoolError> {
        let cheapest = self
            .by_sender
            .iter()
            .filter_map(|(sender, txs)| {
                txs.last_key_value()
                    .map(|(nonce, e)| (e.tx.tx.fee, *sender, *nonce))
            })
            .min();
        match cheapest {
            Some((fee, sender, nonce)) if fee < incoming.tx.fee => {
                self.remove_from(&sender, nonce);
                Ok(())
            }
            _ => Err(PoolError::PoolFull),
        }
    }

    /// Removes the transaction of `sender` at `nonce` and every later one of that sender.
    fn remove_from(&mut self, sender: &Address, nonce: u64) -> usize {
        let Some(txs) = self.by_sender.get_mut(sender) else {
            return 0;
        };
        let dropped = txs.split_off(&nonce);
        for entry in dropped.values() {
            let hash = entry.tx.hash();
            self.by_hash.remove(&hash);
            self.dropped.push(hash);
        }
        if txs.is_empty() {
            self.by_sender.remove(sender);
        }
        dropped.len()
    }

    /// Removes the transaction `hash` and every later one of its sender (they cannot be
    /// included without it).
    pub fn remove(&mut self, hash: &Hash) -> usize {
        match self.by_hash.get(hash).copied() {
            Some((sender, nonce)) => self.remove_from(&sender, nonce),
            None => 0,
        }
    }

    /// The hashes of every transaction that left the pool without being replaced (included,
    /// stale, evicted, expired or removed) since the last call, so the stored copy can follow.
    pub fn take_dropped(&mut self) -> Vec<Hash> {
        std::mem::take(&mut self.dropped)
    }

    /// After a block: drops what `state` has made stale, and what can no longer be paid for.
    pub fn revalidate(&mut self, state: &State) {
        let senders: Vec<Address> = self.by_sender.keys().copied().collect();
        for sender in senders {
            let account = state.account(&sender);
            let Some(txs) = self.by_sender.get_mut(&sender) else {
                continue;
            };
            let mut stale = txs.split_off(&account.nonce);
            std::mem::swap(txs, &mut stale);
            for entry in stale.values() {
                let hash = entry.tx.hash();
                self.by_hash.remove(&hash);
                self.dropped.push(hash);
            }
            // A gap (the first pending is not the next nonce) or funds that ran out end the line.
            let mut expected = account.nonce;
            let mut budget = account.balance;
            let mut cut = None;
            for (nonce, entry) in txs.iter() {
                let fits = spend(&entry.tx).and_then(|s| budget.checked_sub(s));
                match fits {
                    Some(rest) if *nonce == expected => {
                        budget = rest;
                        expected += 1;
                    }
                    _ => {
                        cut = Some(*nonce);
                        break;
                    }
                }
            }
            if let Some(nonce) = cut {
                self.remove_from(&sender, nonce);
            } else if txs.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }

    /// Drops transactions older than the pool's time to live, with their successors.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let ttl = self.limits.ttl_ms;
        let expired: Vec<(Address, u64)> = self
            .by_sender
            .iter()
            .filter_map(|(sender, txs)| {
                txs.iter()
                    .find(|(_, e)| now_ms.saturating_sub(e.received_ms) > ttl)
                    .map(|(n, _)| (*sender, *n))
            })
            .collect();
        expired
            .iter()
            .map(|(sender, nonce)| self.remove_from(sender, *nonce))
            .sum()
    }

    /// Pending transactions in the order a block should take them: each sender's in nonce order,
    /// senders interleaved by fee (highest first, then earliest arrival).
    pub fn ordered(&self) -> Vec<SignedTransaction> {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct Head {
            fee: Amount,
            earlier: std::cmp::Reverse<u64>,
            sender: Address,
            nonce: u64,
        }
        let head_of = |sender: &Address, nonce: u64| {
            let entry = self.by_sender.get(sender)?.get(&nonce)?;
            Some(Head {
                fee: entry.tx.tx.fee,
                earlier: std::cmp::Reverse(entry.seq),
                sender: *sender,
                nonce,
            })
        };
        let mut heap: BinaryHeap<Head> = self
            .by_sender
            .iter()
            .filter_map(|(sender, txs)| txs.keys().next().and_then(|n| head_of(sender, *n)))
            .collect();
        let mut out = Vec::with_capacity(self.len());
        while let Some(head) = heap.pop() {
            if let Some(entry) = self
                .by_sender
                .get(&head.sender)
                .and_then(|t| t.get(&head.nonce))
            {
                out.push(entry.tx.clone());
            }
            if let Some(next) = head_of(&head.sender, head.nonce + 1) {
                heap.push(next);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use types::{SecretKey, Transaction};

    use super::*;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_seed(&[b; 32])
    }

    fn addr(b: u8) -> Address {
        Address::of(&key(b).public_key())
    }

    fn tx(from: u8, nonce: u64, fee: u64) -> SignedTransaction {
        Transaction {
            chain_id: "test".into(),
            sender: key(from).public_key(),
            nonce,
            fee: Amount(fee),
            body: types::TxBody::Transfer {
                to: addr(99),
                amount: Amount(1_000),
            },
        }
        .sign(&key(from))
    }

    fn state() -> State {
        State::from_balances([
            (addr(1), Amount(1_000_000)),
            (addr(2), Amount(1_000_000)),
            (addr(3), Amount(12_000)),
        ])
    }

    #[test]
    fn nonce_order_per_sender_and_fee_order_across_senders() {
        let mut pool = Mempool::default();
        let s = state();
        for t in [
            tx(1, 0, 5_000),
            tx(1, 1, 9_000),
            tx(2, 0, 7_000),
            tx(2, 1, 1_000),
        ] {
            pool.admit(t, &s, 0).expect("admitted");
        }
        let order: Vec<(u64, u64)> = pool
            .ordered()
            .iter()
            .map(|t| (t.tx.fee.0, t.tx.nonce))
            .collect();
        // Sender 2 pays more for its first; sender 1's second can only follow its first.
        assert_eq!(order, vec![(7_000, 0), (5_000, 0), (9_000, 1), (1_000, 1)]);
    }

    #[test]
    fn admission_rules() {
        let mut pool = Mempool::new(MempoolLimits {
            max_per_account: 2,
            max_total: 3,
            ..Default::default()
        });
        let s = state();
        assert_eq!(
            pool.admit(tx(1, 1, 5_000), &s, 0).map_err(|e| e.code()),
            Err("future_nonce")
        );
        pool.admit(tx(1, 0, 5_000), &s, 0).expect("first");
        assert!(matches!(
            pool.admit(tx(1, 0, 5_000), &s, 0),
            Ok(Admitted::Duplicate(_))
        ));
        assert_eq!(
            pool.admit(tx(1, 0, 5_400), &s, 0).map_err(|e| e.code()),
            Err("replacement_underpriced")
        );
        assert!(matches!(
            pool.admit(tx(1, 0, 5_500), &s, 0),
            Ok(Admitted::Replaced { .. })
        ));
        pool.admit(tx(1, 1, 5_000), &s, 0).expect("second");
        assert_eq!(
            pool.admit(tx(1, 2, 5_000), &s, 0).map_err(|e| e.code()),
            Err("account_full")
        );
        // Sender 3 can pay for one transfer (6,000) twice, not three times.
        assert!(matches!(
            pool.admit(tx(3, 0, 5_000), &s, 0),
            Ok(Admitted::New(_))
        ));
        assert_eq!(
            pool.admit(tx(3, 1, 5_000), &s, 0).map_err(|e| e.code()),
            Err("mempool_full")
        );
        assert!(
            pool.admit(tx(2, 0, 50_000), &s, 0).is_ok(),
            "a higher fee evicts the cheapest tail"
        );
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn insufficient_funds_count_what_is_pending() {
        let mut pool = Mempool::default();
        let s = state();
        // Sender 3 holds 12,000; each of these spends 1,000 plus a 6,000 fee.
        pool.admit(tx(3, 0, 6_000), &s, 0).expect("first");
        assert_eq!(
            pool.admit(tx(3, 1, 6_000), &s, 0).map_err(|e| e.code()),
            Err("insufficient_funds")
        );
    }

    #[test]
    fn revalidate_and_expire() {
        let mut pool = Mempool::new(MempoolLimits {
            ttl_ms: 1_000,
            ..Default::default()
        });
        let mut s = state();
        for n in 0..3 {
            pool.admit(tx(1, n, 5_000), &s, 0).expect("admitted");
        }
        pool.admit(tx(2, 0, 5_000), &s, 900).expect("admitted");
        s.apply(&tx(1, 0, 5_000), &key(9).public_key(), 1)
            .expect("included elsewhere");
        pool.revalidate(&s);
        assert_eq!(pool.len(), 3);
        assert!(!pool.contains(&tx(1, 0, 5_000).hash()));
        assert_eq!(
            pool.expire(1_500),
            2,
            "sender 1's two expire, sender 2's is young"
        );
        assert_eq!(pool.len(), 1);
    }
}
