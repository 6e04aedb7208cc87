//! Blocks: a header (chain, height, parent, time, proposer, transaction and state roots) signed by its proposer, and the transactions it orders.

use serde::{Deserialize, Serialize};

use crate::{
    encoding::Writer,
    hash::Hash,
    keys::{KeyError, PublicKey, SecretKey, Signature},
    merkle::merkle_root,
    tx::SignedTransaction,
};

const DOMAIN: &[u8] = b"AITBC/block";
const VERSION: u8 = 1;

/// What the proposer signs about a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: u64,
    pub parent_hash: Hash,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub proposer: PublicKey,
    /// Merkle root of the transaction hashes, in block order.
    pub tx_root: Hash,
    /// Commitment to every account after this block's transactions.
    pub state_root: Hash,
}

impl BlockHeader {
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(DOMAIN, VERSION);
        w.str(&self.chain_id)
            .u64(self.height)
            .fixed(&self.parent_hash.0)
            .u64(self.timestamp_ms)
            .fixed(&self.proposer.0)
            .fixed(&self.tx_root.0)
            .fixed(&self.state_root.0);
        w.finish()
    }

    /// The block's identity: SHA-256 of the header's signing bytes. The signature is not part of
    /// it, so a block has one hash whoever relays it.
    pub fn hash(&self) -> Hash {
        Hash::of(&[&self.signing_bytes()])
    }
}

/// A signed header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub signature: Signature,
    pub transactions: Vec<SignedTransaction>,
}

impl Block {
    /// Signs `header` with the proposer's key.
    pub fn seal(
        header: BlockHeader,
        transactions: Vec<SignedTransaction>,
        key: &SecretKey,
    ) -> Block {
        let signature = key.sign(&header.signing_bytes());
        Block {
            header,
            signature,
            transactions,
        }
    }

    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Checks the proposer's signature over the header.
    pub fn verify_signature(&self) -> Result<(), KeyError> {
        self.header
            .proposer
            .verify(&self.header.signing_bytes(), &self.signature)
    }

    /// The Merkle root of this block's transaction hashes, to compare with the header's.
    pub fn computed_tx_root(&self) -> Hash {
        let hashes: Vec<Hash> = self
            .transactions
            .iter()
            .map(SignedTransaction::hash)
            .collect();
        merkle_root(&hashes)
    }
}
