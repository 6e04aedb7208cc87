//! The wallet crate against the published test vectors (BIP-39, SLIP-0010), the address format, the keystore's round trip and refusals, and transfer previews.

mod accounts;
mod keystore;
mod preview;
