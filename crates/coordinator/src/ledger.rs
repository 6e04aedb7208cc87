//! The chain as the coordinator uses it: submit a transaction, see whether one is in a block, read the head height, an account's next nonce and the fee a transaction needs. A trait, so the coordinator runs beside the node in one process or on its own against the node's RPC.

use std::{future::Future, pin::Pin};

use types::{Address, Amount, Hash, SignedTransaction};

/// A boxed future, so the trait can be used as `dyn Ledger`.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// Why the chain did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The chain refused the transaction for good (bad nonce, no funds, empty escrow, …).
    #[error("the chain refused the transaction: {message} ({code})")]
    Refused { code: String, message: String },
    /// The chain could not be asked; trying again later may work.
    #[error("the chain is unavailable: {0}")]
    Unavailable(String),
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxState {
    /// Neither waiting nor in a block.
    Unknown,
    Pending,
    Included {
        height: u64,
    },
}

/// The chain.
pub trait Ledger: Send + Sync {
    fn chain_id(&self) -> String;
    /// Admits `tx` to the mempool (a transaction already there is not an error).
    fn submit(&self, tx: SignedTransaction) -> Pending<'_, ()>;
    fn status(&self, hash: Hash) -> Pending<'_, TxState>;
    fn head_height(&self) -> Pending<'_, u64>;
    /// The nonce the next transaction of `address` must carry, counting those waiting.
    fn next_nonce(&self, address: Address) -> Pending<'_, u64>;
    /// The smallest fee a transaction of `len` bytes may offer.
    fn required_fee(&self, len: usize) -> Amount;
}
