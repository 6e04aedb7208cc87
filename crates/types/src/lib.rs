//! Shared primitives of AITBC (addresses, amounts, keys, transactions, blocks, receipts); no behaviour yet: the chain issue fills it in.
