//! The GPU miner client and its inference backends; no behaviour yet: the miner issue fills it in.
