//! The proof-of-authority node's pure core: genesis, the account state machine with its state root, and the rules a block must satisfy. Storage, networking and the RPC build on it.

pub mod genesis;
pub mod state;

pub use genesis::{Genesis, Params};
pub use state::{Account, Rejection, State};
