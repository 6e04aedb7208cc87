//! Wallet keys that stay with their owner: BIP-39 recovery phrases, SLIP-0010 Ed25519 accounts in the shared address format, an encrypted keystore (Argon2id, XChaCha20-Poly1305), and transfers checked and previewed before they are signed. Builds for wasm32 and native with no runtime: randomness comes from the caller (the browser's crypto, the operating system).

pub mod derive;
pub mod keystore;
pub mod mnemonic;
pub mod preview;

use types::{Address, PublicKey, SecretKey};
use zeroize::Zeroizing;

pub use keystore::{KdfParams, Keystore, KeystoreError, Secret};
pub use mnemonic::{Mnemonic, MnemonicError};
pub use preview::{FeeSchedule, Preview, PreviewError};

/// One account of a wallet: its key and address.
#[derive(Debug)]
pub struct Account {
    /// Its place in the wallet (the account level of its derivation path; 0 for an imported key).
    pub index: u32,
    pub key: SecretKey,
}

impl Account {
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    pub fn address(&self) -> Address {
        Address::of(&self.key.public_key())
    }
}

/// Why an account cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("an imported key is a single account; there is no account {0}")]
    SingleKey(u32),
    #[error("account numbers go up to {max}", max = derive::HARDENED - 1)]
    OutOfRange,
    /// A secret that no longer reads (the keystore's authentication makes this a bug in
    /// whatever wrote it).
    #[error("the wallet's secret is unreadable: {0}")]
    Unreadable(String),
}

impl Secret {
    /// The secret of a recovery phrase.
    pub fn mnemonic(mnemonic: &Mnemonic) -> Secret {
        Secret::Mnemonic {
            phrase: mnemonic.phrase().to_string(),
        }
    }

    /// The secret of one imported key.
    pub fn key(key: &SecretKey) -> Secret {
        Secret::Key {
            seed: hex::encode(*Zeroizing::new(key.seed())),
        }
    }

    /// The wallet's account `index`: derived from the recovery phrase along
    /// [`derive::account_path`], or the imported key itself (index 0 only).
    pub fn account(&self, index: u32) -> Result<Account, AccountError> {
        if index >= derive::HARDENED {
            return Err(AccountError::OutOfRange);
        }
        match self {
            Secret::Mnemonic { phrase } => {
                let mnemonic =
                    Mnemonic::parse(phrase).map_err(|e| AccountError::Unreadable(e.to_string()))?;
                Ok(Account {
                    index,
                    key: derive::account_key(&mnemonic.seed("")[..], index),
                })
            }
            Secret::Key { seed } if index == 0 => {
                let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(
                    hex::decode(seed).map_err(|e| AccountError::Unreadable(e.to_string()))?,
                );
                let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
                    bytes[..]
                        .try_into()
                        .map_err(|_| AccountError::Unreadable("a key seed has 32 bytes".into()))?,
                );
                Ok(Account {
                    index,
                    key: SecretKey::from_seed(&seed),
                })
            }
            Secret::Key { .. } => Err(AccountError::SingleKey(index)),
        }
    }
}
