//! Building a block from pending transactions and verifying a block from a peer: both pure functions of the genesis, the parent, the parent's state and the clock.

use types::{Block, BlockHeader, Hash, SecretKey, SignedTransaction, merkle_root};

use crate::{
    consensus::{self, ScheduleError},
    genesis::Genesis,
    state::{Rejection, State},
};

/// A block ready to commit, with the state it produces.
#[derive(Debug)]
pub struct Built {
    pub block: Block,
    pub state: State,
    /// Candidates that no longer applied, with why; the mempool should drop them.
    pub dropped: Vec<(Hash, Rejection)>,
}

/// Builds the next block on `parent` from `candidates` (in the order to try them), within the
/// block limits, and seals it with `key`.
pub fn build(
    genesis: &Genesis,
    parent: &BlockHeader,
    parent_state: &State,
    candidates: impl IntoIterator<Item = SignedTransaction>,
    key: &SecretKey,
    timestamp_ms: u64,
) -> Built {
    let proposer = key.public_key();
    let mut state = parent_state.clone();
    let mut included = Vec::new();
    let mut dropped = Vec::new();
    let mut bytes = 0u64;
    for tx in candidates {
        if included.len() >= genesis.params.max_block_txs as usize {
            break;
        }
        let len = tx.encoded_len() as u64;
        if bytes + len > genesis.params.max_block_bytes {
            continue;
        }
        match state.apply(&tx, &proposer, parent.height + 1) {
            Ok(()) => {
                bytes += len;
                included.push(tx);
            }
            // A later nonce of the same sender is not wrong, only not yet includable.
            Err(Rejection::FutureNonce { .. }) => {}
            Err(rejection) => dropped.push((tx.hash(), rejection)),
        }
    }
    let hashes: Vec<Hash> = included.iter().map(SignedTransaction::hash).collect();
    let header = BlockHeader {
        chain_id: genesis.chain_id.clone(),
        height: parent.height + 1,
        parent_hash: parent.hash(),
        timestamp_ms,
        proposer,
        tx_root: merkle_root(&hashes),
        state_root: state.root(),
    };
    Built {
        block: Block::seal(header, included, key),
        state,
        dropped,
    }
}

/// Why a block from a peer was refused. Each has a stable code for metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("the block is for another chain")]
    WrongChain,
    #[error("the block does not follow its parent (height or parent hash)")]
    NotAChild,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("the proposer's signature does not verify")]
    BadSignature,
    #[error("the block exceeds the transaction or byte limit")]
    TooLarge,
    #[error("the transaction root does not match the transactions")]
    BadTxRoot,
    #[error("transaction {index} is invalid: {reason}")]
    BadTransaction { index: usize, reason: Rejection },
    #[error("the state root does not match the state after the transactions")]
    BadStateRoot,
}

impl BlockError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            BlockError::WrongChain => "wrong_chain",
            BlockError::NotAChild => "not_a_child",
            BlockError::Schedule(ScheduleError::NotAnAuthority) => "not_an_authority",
            BlockError::Schedule(ScheduleError::BackupTooEarly) => "wrong_turn",
            BlockError::Schedule(ScheduleError::SlotNotAfterParent) => "slot_not_after_parent",
            BlockError::Schedule(ScheduleError::FromTheFuture) => "from_the_future",
            BlockError::BadSignature => "bad_signature",
            BlockError::TooLarge => "too_large",
            BlockError::BadTxRoot => "bad_tx_root",
            BlockError::BadTransaction { .. } => "bad_transaction",
            BlockError::BadStateRoot => "bad_state_root",
        }
    }
}

/// Verifies everything about `block` as the child of `parent` and returns the state after it.
pub fn verify(
    genesis: &Genesis,
    parent: &BlockHeader,
    parent_state: &State,
    block: &Block,
    now_ms: u64,
) -> Result<State, BlockError> {
    let header = &block.header;
    if header.chain_id != genesis.chain_id {
        return Err(BlockError::WrongChain);
    }
    if header.height != parent.height + 1 || header.parent_hash != parent.hash() {
        return Err(BlockError::NotAChild);
    }
    consensus::check_schedule(genesis, parent, header, now_ms)?;
    block
        .verify_signature()
        .map_err(|_| BlockError::BadSignature)?;
    let bytes: u64 = block
        .transactions
        .iter()
        .map(|t| t.encoded_len() as u64)
        .sum();
    if block.transactions.len() > genesis.params.max_block_txs as usize
        || bytes > genesis.params.max_block_bytes
    {
        return Err(BlockError::TooLarge);
    }
    if block.computed_tx_root() != header.tx_root {
        return Err(BlockError::BadTxRoot);
    }
    check_all_standalone(&block.transactions, genesis)?;
    let mut state = parent_state.clone();
    for (index, tx) in block.transactions.iter().enumerate() {
        state
            .apply(tx, &header.proposer, header.height)
            .map_err(|reason| BlockError::BadTransaction { index, reason })?;
    }
    if state.root() != header.state_root {
        return Err(BlockError::BadStateRoot);
    }
    Ok(state)
}

/// Below this many transactions, checking them on one thread is faster than starting others.
const PARALLEL_CHECK_MIN: usize = 256;

/// The stateless checks (signatures above all) of every transaction, spread over the cores:
/// they do not depend on each other, unlike applying the transactions.
fn check_all_standalone(txs: &[SignedTransaction], genesis: &Genesis) -> Result<(), BlockError> {
    let check = |offset: usize, chunk: &[SignedTransaction]| {
        chunk.iter().enumerate().try_for_each(|(i, tx)| {
            State::check_standalone(tx, genesis).map_err(|reason| BlockError::BadTransaction {
                index: offset + i,
                reason,
            })
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if txs.len() < PARALLEL_CHECK_MIN || threads == 1 {
        return check(0, txs);
    }
    let chunk_len = txs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = txs
            .chunks(chunk_len)
            .enumerate()
            .map(|(n, chunk)| scope.spawn(move || check(n * chunk_len, chunk)))
            .collect();
        // The first failure in block order is the one reported.
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<()>, _>>()
            .map(drop)
    })
}

#[cfg(test)]
mod tests {
    use types::{Address, Amount, Transaction, TxBody};

    use super::*;
    use crate::genesis::Params;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_seed(&[b; 32])
    }

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "test".into(),
            timestamp_ms: 0,
            authorities: vec![key(1).public_key(), key(2).public_key()],
            balances: [(Address::of(&key(5).public_key()), Amount(1_000_000_000_000))].into(),
            params: Params::default(),
            faucet: None,
        }
    }

    fn transfer(nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: "test".into(),
            sender: key(5).public_key(),
            nonce,
            fee: Amount(10_000),
            body: TxBody::Transfer {
                to: Address::of(&key(6).public_key()),
                amount: Amount(1_000_000),
            },
        }
        .sign(&key(5))
    }

    fn check(block: &Block, want: Result<(), &str>) {
        let g = genesis();
        let got = verify(&g, &g.header(), &g.initial_state(), block, 10_000)
            .map(drop)
            .map_err(|e| e.code());
        assert_eq!(got, want);
    }

    #[test]
    fn a_built_block_verifies_and_tampering_is_caught() {
        let g = genesis();
        // Slot 1 belongs to authority 2.
        let built = build(
            &g,
            &g.header(),
            &g.initial_state(),
            [transfer(0), transfer(2), transfer(1)],
            &key(2),
            2_000,
        );
        assert_eq!(
            built.block.transactions.len(),
            2,
            "nonce 2 waits for a block where it follows 1"
        );
        check(&built.block, Ok(()));

        let mut bad_sig = built.block.clone();
        bad_sig.signature = key(1).sign(&bad_sig.header.signing_bytes());
        check(&bad_sig, Err("bad_signature"));

        let wrong_turn = build(&g, &g.header(), &g.initial_state(), [], &key(1), 2_000).block;
        check(&wrong_turn, Err("wrong_turn"));

        let mut bad_root = built.block.clone();
        bad_root.header.state_root = Hash::ZERO;
        let bad_root = Block::seal(bad_root.header, bad_root.transactions, &key(2));
        check(&bad_root, Err("bad_state_root"));

        let mut bad_txs = built.block.clone();
        bad_txs.transactions.pop();
        check(&bad_txs, Err("bad_tx_root"));

        let outsider = build(&g, &g.header(), &g.initial_state(), [], &key(9), 2_000).block;
        check(&outsider, Err("not_an_authority"));
    }

    #[test]
    fn a_bad_signature_deep_in_a_large_block_is_found_and_located() {
        let g = genesis();
        let txs: Vec<SignedTransaction> = (0..300).map(transfer).collect();
        let built = build(&g, &g.header(), &g.initial_state(), txs, &key(2), 2_000);
        assert_eq!(built.block.transactions.len(), 300);
        check(&built.block, Ok(()));
        let mut bad = built.block.clone();
        bad.transactions[290].signature = bad.transactions[289].signature;
        // A consistent transaction root, so only the signature is wrong.
        bad.header.tx_root = bad.computed_tx_root();
        let bad = Block::seal(bad.header, bad.transactions, &key(2));
        let g = genesis();
        let got = verify(&g, &g.header(), &g.initial_state(), &bad, 10_000);
        assert!(
            matches!(
                got,
                Err(BlockError::BadTransaction {
                    index: 290,
                    reason: Rejection::BadSignature
                })
            ),
            "{got:?}"
        );
    }
}
