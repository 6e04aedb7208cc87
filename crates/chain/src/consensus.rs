//! Proof-of-authority rules, as pure functions of the genesis and the clock: which authority is in turn for a slot, when a backup may step in, how much a block weighs for fork choice, and whether a header respects all of it.

use types::{BlockHeader, PublicKey};

use crate::genesis::Genesis;

/// Weight of a block proposed by the authority in turn; a backup's block weighs less, so the
/// chain that follows the schedule wins a fork.
pub const IN_TURN_WEIGHT: u64 = 2;
/// Weight of a block proposed by a backup authority.
pub const OUT_OF_TURN_WEIGHT: u64 = 1;
/// How far into the future a block's timestamp may be, to absorb clock skew.
pub const MAX_FUTURE_DRIFT_MS: u64 = 1_000;

/// The slot a timestamp falls in; slot 0 starts at genesis.
pub fn slot_of(genesis: &Genesis, timestamp_ms: u64) -> u64 {
    timestamp_ms.saturating_sub(genesis.timestamp_ms) / genesis.params.block_time_ms
}

/// When `slot` starts.
pub fn slot_start_ms(genesis: &Genesis, slot: u64) -> u64 {
    genesis
        .timestamp_ms
        .saturating_add(slot.saturating_mul(genesis.params.block_time_ms))
}

/// An authority's distance from the one in turn for `slot`: 0 in turn, 1 first backup, …;
/// `None` for a key that is no authority.
pub fn rank(genesis: &Genesis, key: &PublicKey, slot: u64) -> Option<u64> {
    let n = genesis.authorities.len() as u64;
    let index = genesis.authorities.iter().position(|a| a == key)? as u64;
    Some((index + n - slot % n) % n)
}

/// How long into its slot an authority of `rank` waits before proposing: the one in turn at
/// once, backups later and later, all within the slot.
pub fn delay_ms(genesis: &Genesis, rank: u64) -> u64 {
    let n = genesis.authorities.len() as u64;
    rank * genesis.params.block_time_ms / (n + 1)
}

/// The weight a block by `proposer` in `slot` adds to its chain.
pub fn weight(genesis: &Genesis, proposer: &PublicKey, slot: u64) -> u64 {
    if rank(genesis, proposer, slot) == Some(0) {
        IN_TURN_WEIGHT
    } else {
        OUT_OF_TURN_WEIGHT
    }
}

/// The weight `header` adds to its chain, from its proposer and the slot of its timestamp.
pub fn block_weight(genesis: &Genesis, header: &BlockHeader) -> u64 {
    weight(
        genesis,
        &header.proposer,
        slot_of(genesis, header.timestamp_ms),
    )
}

/// Fork choice: whether a chain with head `hash` and `weight` beats ours. The heavier chain
/// wins; between equal weights the lower head hash does, so two halves of a healed partition
/// agree on one chain instead of each keeping its own.
pub fn prefer(weight: u64, hash: &types::Hash, our_weight: u64, our_hash: &types::Hash) -> bool {
    weight > our_weight || (weight == our_weight && hash < our_hash)
}

/// Why a header breaks the consensus rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the proposer is not an authority of this chain")]
    NotAnAuthority,
    #[error("the block is not later than its parent's slot")]
    SlotNotAfterParent,
    #[error("the block's timestamp is in the future")]
    FromTheFuture,
    #[error("a backup authority proposed before its turn in the slot")]
    BackupTooEarly,
}

/// Checks `header` against its parent's header and the clock `now_ms`.
pub fn check_schedule(
    genesis: &Genesis,
    parent: &BlockHeader,
    header: &BlockHeader,
    now_ms: u64,
) -> Result<(), ScheduleError> {
    let slot = slot_of(genesis, header.timestamp_ms);
    let rank = rank(genesis, &header.proposer, slot).ok_or(ScheduleError::NotAnAuthority)?;
    if header.timestamp_ms <= parent.timestamp_ms
        || (parent.height > 0 && slot <= slot_of(genesis, parent.timestamp_ms))
    {
        return Err(ScheduleError::SlotNotAfterParent);
    }
    if header.timestamp_ms > now_ms.saturating_add(MAX_FUTURE_DRIFT_MS) {
        return Err(ScheduleError::FromTheFuture);
    }
    if header.timestamp_ms < slot_start_ms(genesis, slot) + delay_ms(genesis, rank) {
        return Err(ScheduleError::BackupTooEarly);
    }
    Ok(())
}

/// What one authority did over a run of blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub key: PublicKey,
    /// Blocks it made in its own slot.
    pub in_turn: u64,
    /// Blocks it made as a backup, in another authority's slot.
    pub as_backup: u64,
    /// Its slots in which a backup made the block instead.
    pub missed: u64,
    /// Heights of the last blocks it made, newest first (at most [`RECENT`]).
    pub recent: Vec<u64>,
    /// Timestamp of its latest block.
    pub last_ms: Option<u64>,
}

/// How many recent heights [`Activity::recent`] keeps.
pub const RECENT: usize = 5;

/// Each authority's share of `blocks` (`(height, proposer, timestamp_ms)`, any order), in
/// genesis order. A slot without any block counts for no one: a node may skip a slot with nothing
/// to include.
pub fn activity(genesis: &Genesis, blocks: &[(u64, PublicKey, u64)]) -> Vec<Activity> {
    let n = genesis.authorities.len() as u64;
    let mut out: Vec<Activity> = genesis
        .authorities
        .iter()
        .map(|key| Activity {
            key: *key,
            in_turn: 0,
            as_backup: 0,
            missed: 0,
            recent: Vec::new(),
            last_ms: None,
        })
        .collect();
    let mut newest_first: Vec<&(u64, PublicKey, u64)> = blocks.iter().collect();
    newest_first.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (height, proposer, timestamp_ms) in newest_first {
        if *height == 0 || n == 0 {
            continue;
        }
        let slot = slot_of(genesis, *timestamp_ms);
        let in_turn = (slot % n) as usize;
        let Some(by) = genesis.authorities.iter().position(|a| a == proposer) else {
            continue;
        };
        let who = &mut out[by];
        if by == in_turn {
            who.in_turn += 1;
        } else {
            who.as_backup += 1;
            out[in_turn].missed += 1;
        }
        let who = &mut out[by];
        if who.recent.len() < RECENT {
            who.recent.push(*height);
        }
        who.last_ms = who.last_ms.max(Some(*timestamp_ms));
    }
    out
}

#[cfg(test)]
mod tests {
    use types::{Hash, SecretKey};

    use super::*;
    use crate::genesis::Params;

    fn key(b: u8) -> PublicKey {
        SecretKey::from_seed(&[b; 32]).public_key()
    }

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "test".into(),
            timestamp_ms: 1_000_000,
            authorities: vec![key(1), key(2), key(3)],
            balances: Default::default(),
            params: Params::default(),
            faucet: None,
        }
    }

    fn header(height: u64, timestamp_ms: u64, proposer: PublicKey) -> BlockHeader {
        BlockHeader {
            chain_id: "test".into(),
            height,
            parent_hash: Hash::ZERO,
            timestamp_ms,
            proposer,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
        }
    }

    #[test]
    fn activity_counts_turns_backups_and_missed_slots() {
        let g = genesis();
        let slot = |s: u64| slot_start_ms(&g, s) + 10;
        // Slots 1..=6: key 1 is in turn in slots 3 and 6, key 2 in 1 and 4, key 3 in 2 and 5.
        // Key 3 is down: key 1 takes slot 2 and key 2 slot 5 as backups; slot 6 has no block.
        let blocks = vec![
            (1, key(2), slot(1)),
            (2, key(1), slot(2)),
            (3, key(1), slot(3)),
            (4, key(2), slot(4)),
            (5, key(2), slot(5)),
            (0, key(1), g.timestamp_ms),
        ];
        let activity = activity(&g, &blocks);
        let summary: Vec<(u64, u64, u64)> = activity
            .iter()
            .map(|a| (a.in_turn, a.as_backup, a.missed))
            .collect();
        assert_eq!(summary, vec![(1, 1, 0), (2, 1, 0), (0, 0, 2)]);
        assert_eq!(activity[1].recent, vec![5, 4, 1], "newest first");
        assert_eq!(activity[1].last_ms, Some(slot(5)));
        assert_eq!(activity[2].last_ms, None);
    }

    #[test]
    fn authorities_take_turns_by_slot() {
        let g = genesis();
        let in_turn: Vec<u64> = (0..6)
            .map(|slot| {
                (0..3)
                    .find(|&i| rank(&g, &g.authorities[i], slot) == Some(0))
                    .expect("one") as u64
            })
            .collect();
        assert_eq!(in_turn, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(rank(&g, &key(9), 0), None);
        assert_eq!(weight(&g, &key(2), 1), IN_TURN_WEIGHT);
        assert_eq!(weight(&g, &key(3), 1), OUT_OF_TURN_WEIGHT);
    }

    #[test]
    fn fork_choice_prefers_weight_then_the_lower_hash() {
        let (low, high) = (Hash([1; 32]), Hash([2; 32]));
        assert!(prefer(5, &high, 4, &low));
        assert!(!prefer(4, &low, 5, &high));
        assert!(prefer(5, &low, 5, &high));
        assert!(!prefer(5, &high, 5, &low));
        assert!(
            !prefer(5, &low, 5, &low),
            "our own chain never replaces itself"
        );
    }

    #[test]
    fn schedule_rules() {
        let g = genesis();
        let parent = header(1, slot_start_ms(&g, 3), key(1));
        let slot4 = slot_start_ms(&g, 4);
        let now = slot4 + 1_500;
        let cases = [
            (header(2, slot4, key(2)), Ok(())),
            (header(2, slot4 + delay_ms(&g, 1), key(3)), Ok(())),
            (
                header(2, slot4 + 10, key(3)),
                Err(ScheduleError::BackupTooEarly),
            ),
            (header(2, slot4, key(9)), Err(ScheduleError::NotAnAuthority)),
            (
                header(2, slot_start_ms(&g, 3) + 1_000, key(1)),
                Err(ScheduleError::SlotNotAfterParent),
            ),
            (
                header(2, now + 5_000, key(1)),
                Err(ScheduleError::FromTheFuture),
            ),
        ];
        for (h, want) in cases {
            assert_eq!(check_schedule(&g, &parent, &h, now), want, "{h:?}");
        }
    }
}
