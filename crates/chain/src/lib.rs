//! The proof-of-authority node (state machine, mempool, consensus, storage, sync, RPC); no behaviour yet: the chain issue fills it in.
