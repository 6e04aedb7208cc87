//! The proof-of-authority node's pure core: genesis, the account state machine with its state root, and the rules a block must satisfy. Storage, networking and the RPC build on it.

pub mod block;
pub mod consensus;
pub mod devnet;
pub mod genesis;
/// Key files (`types::keyfile`) and fresh keys for them.
pub mod keyfile {
    pub use types::keyfile::*;

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> types::SecretKey {
        let seed: [u8; 32] = rand::random();
        types::SecretKey::from_seed(&seed)
    }
}
pub mod mempool;
pub mod node;
pub mod state;
pub mod store;

pub use genesis::{Genesis, Params};
pub use mempool::{Mempool, MempoolLimits, PoolError};
pub use node::{Clock, Event, ImportOutcome, Node, NodeConfig, SystemClock};
pub use state::{Account, Rejection, State};
