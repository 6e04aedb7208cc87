//! Shared primitives of AITBC (amounts, keys, addresses, hashes, transactions, blocks, Merkle proofs, job receipts) and their canonical encodings; builds for wasm32 so the browser verifies what the server serves.

pub mod address;
pub mod amount;
pub mod block;
pub mod encoding;
pub mod hash;
pub mod id;
pub mod keyfile;
pub mod keys;
pub mod merkle;
pub mod message;
pub mod receipt;
pub mod tx;

pub use address::{Address, AddressError};
pub use amount::{Amount, AmountError};
pub use block::{Block, BlockHeader};
pub use hash::Hash;
pub use keys::{KeyError, PublicKey, SecretKey, Signature};
pub use merkle::{MerkleProof, account_leaf, merkle_root};
pub use tx::{SignedTransaction, Transaction, TxBody, TxError};
