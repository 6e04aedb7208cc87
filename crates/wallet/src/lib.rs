//! Key derivation, keystore encryption and signing for wallets; no behaviour yet: the wallet issue fills it in.
