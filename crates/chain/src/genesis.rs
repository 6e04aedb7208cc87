//! The genesis document: the chain's id and start time, its authorities, initial balances, consensus and fee parameters, and the optional devnet faucet key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use types::{Address, Amount, BlockHeader, Hash, PublicKey, amount::BASE_UNITS_PER_AITBC};

use crate::state::State;

/// Consensus, fee and size parameters, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Length of one proposer slot.
    pub block_time_ms: u64,
    /// Smallest fee any transaction pays.
    pub min_fee: Amount,
    /// Additional fee per encoded byte, in base units.
    pub fee_per_byte: u64,
    pub max_block_txs: u32,
    pub max_block_bytes: u64,
    pub max_tx_bytes: u64,
    /// An empty block is produced at least this often, so liveness is visible.
    pub heartbeat_ms: u64,
    /// Blocks deeper than this below the head are final.
    pub max_reorg_depth: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            block_time_ms: 2_000,
            min_fee: Amount(1_000),
            fee_per_byte: 10,
            max_block_txs: 20_000,
            max_block_bytes: 4 * 1024 * 1024,
            max_tx_bytes: 1_024,
            heartbeat_ms: 30_000,
            max_reorg_depth: 64,
        }
    }
}

impl Params {
    /// The smallest fee a transaction of `len` bytes must pay.
    pub fn required_fee(&self, len: usize) -> Amount {
        Amount(
            self.min_fee
                .0
                .saturating_add(self.fee_per_byte.saturating_mul(len as u64)),
        )
    }
}

/// The devnet faucet: its key signs faucet transactions, which mint at most `max_per_tx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faucet {
    pub key: PublicKey,
    pub max_per_tx: Amount,
}

/// The genesis document, as JSON on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    pub timestamp_ms: u64,
    pub authorities: Vec<PublicKey>,
    pub balances: BTreeMap<Address, Amount>,
    pub params: Params,
    #[serde(default)]
    pub faucet: Option<Faucet>,
}

/// Why a genesis document cannot start a chain.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("the chain id must be 1 to 64 characters of a-z, 0-9 and '-'")]
    BadChainId,
    #[error("a chain needs at least one authority")]
    NoAuthorities,
    #[error("authority {0} is listed twice")]
    DuplicateAuthority(PublicKey),
    #[error("the initial balances add up to more than the largest amount")]
    SupplyOverflow,
    #[error("block_time_ms must be at least 100")]
    BadBlockTime,
}

impl Genesis {
    /// Checks the document before a node trusts it.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let id_ok = !self.chain_id.is_empty()
            && self.chain_id.len() <= 64
            && self
                .chain_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(GenesisError::BadChainId);
        }
        if self.authorities.is_empty() {
            return Err(GenesisError::NoAuthorities);
        }
        for (i, a) in self.authorities.iter().enumerate() {
            if self.authorities[..i].contains(a) {
                return Err(GenesisError::DuplicateAuthority(*a));
            }
        }
        if self.params.block_time_ms < 100 {
            return Err(GenesisError::BadBlockTime);
        }
        self.supply().ok_or(GenesisError::SupplyOverflow)?;
        Ok(())
    }

    /// The sum of the initial balances.
    pub fn supply(&self) -> Option<Amount> {
        self.balances
            .values()
            .try_fold(Amount::ZERO, |sum, a| sum.checked_add(*a))
    }

    /// The state before block 1.
    pub fn initial_state(&self) -> State {
        State::from_balances(self.balances.iter().map(|(a, b)| (*a, *b)))
    }

    /// The hash of the whole document in its canonical JSON (fields in declaration order,
    /// balances sorted by address), so every rule of the chain is part of its identity.
    pub fn document_hash(&self) -> Hash {
        Hash::of(&[&serde_json::to_vec(self).unwrap_or_default()])
    }

    /// Block 0's header: unsigned, proposed by no one, committing to the initial state; its
    /// parent hash is the genesis document's hash, so chains that differ in any parameter,
    /// authority or faucet key differ from block 0 on.
    pub fn header(&self) -> BlockHeader {
        BlockHeader {
            chain_id: self.chain_id.clone(),
            height: 0,
            parent_hash: self.document_hash(),
            timestamp_ms: self.timestamp_ms,
            proposer: PublicKey([0; 32]),
            tx_root: Hash::ZERO,
            state_root: self.initial_state().root(),
        }
    }
}

impl Genesis {
    /// A development chain: `authorities` take turns, `faucet` may mint up to 1,000 AITBC per
    /// transaction, and `treasury` starts with 1,000,000 AITBC.
    pub fn devnet(
        chain_id: &str,
        timestamp_ms: u64,
        authorities: Vec<PublicKey>,
        faucet: PublicKey,
        treasury: Address,
    ) -> Genesis {
        Genesis {
            chain_id: chain_id.to_owned(),
            timestamp_ms,
            authorities,
            balances: BTreeMap::from([(treasury, Amount(1_000_000 * BASE_UNITS_PER_AITBC))]),
            params: Params::default(),
            faucet: Some(Faucet {
                key: faucet,
                max_per_tx: Amount(1_000 * BASE_UNITS_PER_AITBC),
            }),
        }
    }
}
