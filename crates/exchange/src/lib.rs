//! The AITBC/BTC exchange core (matching engine, accounts, settlement); no behaviour yet: a later issue fills it in.
