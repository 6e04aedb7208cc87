//! Transactions: who sends (public key), on which chain, with which nonce and fee, and what they do (a typed body); signed over the canonical, versioned, domain-separated encoding.

use serde::{Deserialize, Serialize};

use crate::{
    address::Address,
    amount::Amount,
    encoding::Writer,
    hash::Hash,
    keys::{KeyError, PublicKey, SecretKey, Signature},
};

const DOMAIN: &[u8] = b"AITBC/tx";
const VERSION: u8 = 1;

/// What a transaction does. The encoding tag of each kind is fixed forever; these are reserved
/// for kinds still to come: 2 escrow lock, 3 escrow release, 4 escrow refund, 7 authority change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxBody {
    /// Moves `amount` from the sender to `to`. Tag 1.
    Transfer { to: Address, amount: Amount },
    /// Commits the hash of a job receipt to the chain, with the job it settles; moves no money
    /// besides the fee. Tag 5.
    ReceiptAnchor { receipt_hash: Hash, job_id: String },
    /// Devnet only: mints `amount` to `to`; valid only when signed by the genesis faucet key. Tag 6.
    Faucet { to: Address, amount: Amount },
}

/// The longest job id a receipt anchor may carry.
pub const MAX_JOB_ID_LEN: usize = 128;

impl TxBody {
    /// Who receives money from this transaction, if anyone.
    pub fn recipient(&self) -> Option<Address> {
        match self {
            TxBody::Transfer { to, .. } | TxBody::Faucet { to, .. } => Some(*to),
            TxBody::ReceiptAnchor { .. } => None,
        }
    }

    /// What it does, in words people read.
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::Transfer { .. } => "transfer",
            TxBody::ReceiptAnchor { .. } => "receipt anchor",
            TxBody::Faucet { .. } => "faucet mint",
        }
    }

    /// The amount it moves or mints (zero for an anchor).
    pub fn amount(&self) -> Amount {
        match self {
            TxBody::Transfer { amount, .. } | TxBody::Faucet { amount, .. } => *amount,
            TxBody::ReceiptAnchor { .. } => Amount::ZERO,
        }
    }
}

impl TxBody {
    fn encode(&self, w: &mut Writer) {
        match self {
            TxBody::Transfer { to, amount } => w.u8(1).fixed(&to.0).u64(amount.0),
            TxBody::ReceiptAnchor {
                receipt_hash,
                job_id,
            } => w.u8(5).fixed(&receipt_hash.0).str(job_id),
            TxBody::Faucet { to, amount } => w.u8(6).fixed(&to.0).u64(amount.0),
        };
    }
}

/// An unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub chain_id: String,
    pub sender: PublicKey,
    pub nonce: u64,
    pub fee: Amount,
    #[serde(flatten)]
    pub body: TxBody,
}

/// A transaction with its sender's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    #[serde(flatten)]
    pub tx: Transaction,
    pub signature: Signature,
}

/// Why a transaction is not valid on its own, before any state is consulted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("the transaction is for chain `{got}`, this is `{want}`")]
    WrongChain { want: String, got: String },
    #[error("the signature does not verify against the sender's key")]
    BadSignature(#[from] KeyError),
}

impl Transaction {
    /// The bytes the sender signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(DOMAIN, VERSION);
        w.str(&self.chain_id)
            .fixed(&self.sender.0)
            .u64(self.nonce)
            .u64(self.fee.0);
        self.body.encode(&mut w);
        w.finish()
    }

    /// The sender's address.
    pub fn sender_address(&self) -> Address {
        Address::of(&self.sender)
    }

    /// Signs with `key`, which must be the sender's.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

impl SignedTransaction {
    /// The transaction's identity: SHA-256 of its signing bytes followed by the signature.
    pub fn hash(&self) -> Hash {
        Hash::of(&[&self.tx.signing_bytes(), &self.signature.0])
    }

    /// Size in bytes, the measure for fees per byte and block limits.
    pub fn encoded_len(&self) -> usize {
        self.tx.signing_bytes().len() + self.signature.0.len()
    }

    /// Checks what needs no state: the chain and the signature.
    pub fn verify(&self, chain_id: &str) -> Result<(), TxError> {
        if self.tx.chain_id != chain_id {
            return Err(TxError::WrongChain {
                want: chain_id.to_owned(),
                got: self.tx.chain_id.clone(),
            });
        }
        self.tx
            .sender
            .verify(&self.tx.signing_bytes(), &self.signature)?;
        Ok(())
    }
}
