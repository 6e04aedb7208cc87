//! SLIP-0010 key derivation for Ed25519 (HMAC-SHA512, hardened children only, as the curve allows) and the path of a wallet's accounts.

use hmac::{Hmac, Mac};
use sha2::Sha512;
use types::SecretKey;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The bit that marks a hardened index.
pub const HARDENED: u32 = 1 << 31;

/// The coin type of AITBC accounts in their path (not registered in SLIP-0044; fixed forever
/// once wallets exist, since it decides which keys a phrase recovers).
pub const COIN_TYPE: u32 = 6174;

/// A private key with its chain code.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ExtendedKey {
    pub key: [u8; 32],
    pub chain_code: [u8; 32],
}

fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> ExtendedKey {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(key) else {
        unreachable!("HMAC accepts every key length")
    };
    for part in parts {
        mac.update(part);
    }
    let mut out = mac.finalize().into_bytes();
    let mut extended = ExtendedKey {
        key: [0; 32],
        chain_code: [0; 32],
    };
    extended.key.copy_from_slice(&out[..32]);
    extended.chain_code.copy_from_slice(&out[32..]);
    out.zeroize();
    extended
}

/// The master key of `seed` (16 to 64 bytes).
pub fn master(seed: &[u8]) -> ExtendedKey {
    hmac_sha512(b"ed25519 seed", &[seed])
}

impl ExtendedKey {
    /// The hardened child `index` (the hardened bit is set whether or not `index` has it).
    pub fn child(&self, index: u32) -> ExtendedKey {
        let index = (index | HARDENED).to_be_bytes();
        hmac_sha512(&self.chain_code, &[&[0], &self.key, &index])
    }

    /// The key at `path` below this one.
    pub fn derive(&self, path: &[u32]) -> ExtendedKey {
        path.iter()
            .fold(self.clone(), |key, &index| key.child(index))
    }
}

/// The path of account `index`: m/44'/6174'/index'/0'.
pub fn account_path(index: u32) -> [u32; 4] {
    [44, COIN_TYPE, index, 0]
}

/// The path as wallets print it.
pub fn path_text(path: &[u32]) -> String {
    path.iter().fold(String::from("m"), |text, i| {
        format!("{text}/{}'", i & !HARDENED)
    })
}

/// The signing key of account `index` of the wallet with BIP-39 seed `seed`.
pub fn account_key(seed: &[u8], index: u32) -> SecretKey {
    let key = master(seed).derive(&account_path(index));
    SecretKey::from_seed(&key.key)
}
