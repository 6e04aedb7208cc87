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

/// The terms of a job's escrow. They determine its address, so the chain keeps no record of an
/// escrow besides that account's balance: whoever releases or refunds it names the terms again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowTerms {
    /// Who locked the money, and gets back what is not paid out.
    pub client: Address,
    pub job_id: String,
    /// The only key that may release the escrow (or refund it early).
    pub coordinator: PublicKey,
    /// From this block height on, the client may refund the escrow itself.
    pub expiry_height: u64,
}

impl EscrowTerms {
    /// The account holding the escrowed money: the first 20 bytes of a domain-separated hash of
    /// the terms. No key exists for it, so only escrow transactions move its balance.
    pub fn address(&self) -> Address {
        let mut w = Writer::new(b"AITBC/escrow", 1);
        w.fixed(&self.client.0)
            .str(&self.job_id)
            .fixed(&self.coordinator.0)
            .u64(self.expiry_height);
        let hash = Hash::of(&[&w.finish()]);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&hash.0[..20]);
        Address(bytes)
    }

    fn encode(&self, w: &mut Writer) {
        w.fixed(&self.client.0)
            .str(&self.job_id)
            .fixed(&self.coordinator.0)
            .u64(self.expiry_height);
    }
}

/// What a transaction does. The encoding tag of each kind is fixed forever; 7 is reserved for
/// authority changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxBody {
    /// Moves `amount` from the sender to `to`. Tag 1.
    Transfer { to: Address, amount: Amount },
    /// Locks `amount` of the sender's in the escrow of `terms` (whose client must be the
    /// sender); the escrow must be empty. Tag 2.
    EscrowLock { terms: EscrowTerms, amount: Amount },
    /// Settles a job: pays `miner_amount` to `miner` and `fee_amount` to the coordinator (the
    /// sender, who must be the terms' coordinator), returns the rest to the client, and anchors
    /// the receipt's hash. Tag 3.
    EscrowRelease {
        terms: EscrowTerms,
        receipt_hash: Hash,
        miner: Address,
        miner_amount: Amount,
        fee_amount: Amount,
    },
    /// Returns the whole escrow to the client: sent by the coordinator at any time, or by the
    /// client from the expiry height on. Tag 4.
    EscrowRefund { terms: EscrowTerms },
    /// Commits the hash of a job receipt to the chain, with the job it settles; moves no money
    /// besides the fee. Tag 5.
    ReceiptAnchor { receipt_hash: Hash, job_id: String },
    /// Devnet only: mints `amount` to `to`; valid only when signed by the genesis faucet key. Tag 6.
    Faucet { to: Address, amount: Amount },
}

/// The longest job id a receipt anchor may carry.
pub const MAX_JOB_ID_LEN: usize = 128;

impl TxBody {
    /// Who receives money from this transaction, if anyone (for a release, the miner; the
    /// coordinator and client may receive a share too, see [`TxBody::credited`]).
    pub fn recipient(&self) -> Option<Address> {
        match self {
            TxBody::Transfer { to, .. } | TxBody::Faucet { to, .. } => Some(*to),
            TxBody::EscrowLock { terms, .. } => Some(terms.address()),
            TxBody::EscrowRelease { miner, .. } => Some(*miner),
            TxBody::EscrowRefund { terms } => Some(terms.client),
            TxBody::ReceiptAnchor { .. } => None,
        }
    }

    /// Every account besides the sender (and the proposer, who takes the fee) whose balance
    /// this transaction may change.
    pub fn credited(&self) -> Vec<Address> {
        match self {
            TxBody::EscrowRelease { terms, miner, .. } => {
                vec![terms.address(), *miner, terms.client]
            }
            TxBody::EscrowRefund { terms } => vec![terms.address(), terms.client],
            body => body.recipient().into_iter().collect(),
        }
    }

    /// What it does, in words people read.
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::Transfer { .. } => "transfer",
            TxBody::EscrowLock { .. } => "escrow lock",
            TxBody::EscrowRelease { .. } => "escrow release",
            TxBody::EscrowRefund { .. } => "escrow refund",
            TxBody::ReceiptAnchor { .. } => "receipt anchor",
            TxBody::Faucet { .. } => "faucet mint",
        }
    }

    /// The amount it moves or mints (zero for an anchor; for a release, the miner's share; for
    /// a refund, whatever the escrow holds, which the body does not say).
    pub fn amount(&self) -> Amount {
        match self {
            TxBody::Transfer { amount, .. }
            | TxBody::Faucet { amount, .. }
            | TxBody::EscrowLock { amount, .. } => *amount,
            TxBody::EscrowRelease { miner_amount, .. } => *miner_amount,
            TxBody::ReceiptAnchor { .. } | TxBody::EscrowRefund { .. } => Amount::ZERO,
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
            TxBody::EscrowLock { terms, amount } => {
                terms.encode(w.u8(2));
                w.u64(amount.0)
            }
            TxBody::EscrowRelease {
                terms,
                receipt_hash,
                miner,
                miner_amount,
                fee_amount,
            } => {
                terms.encode(w.u8(3));
                w.fixed(&receipt_hash.0)
                    .fixed(&miner.0)
                    .u64(miner_amount.0)
                    .u64(fee_amount.0)
            }
            TxBody::EscrowRefund { terms } => {
                terms.encode(w.u8(4));
                w
            }
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
