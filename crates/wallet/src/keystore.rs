//! The keystore: a wallet's secret (its recovery phrase, or one imported key) encrypted under a password, as versioned JSON. The key comes from Argon2id with its parameters stored beside the salt, so they can be raised for new keystores while old ones still open; XChaCha20-Poly1305 encrypts, and authenticates the header too, so an edited address or lowered parameters make the keystore fail to open rather than mislead.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use serde::{Deserialize, Serialize};
use types::Address;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The keystore format this code writes; it reads this one only.
pub const VERSION: u32 = 1;

/// The fewest characters a keystore password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What a keystore protects.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Secret {
    /// A BIP-39 recovery phrase: every account derives from it.
    Mnemonic { phrase: String },
    /// One imported Ed25519 key (its 32-byte seed, hex): a single account.
    Key { seed: String },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Mnemonic { .. } => f.write_str("Secret::Mnemonic(..)"),
            Secret::Key { .. } => f.write_str("Secret::Key(..)"),
        }
    }
}

/// Argon2id's costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// What new keystores use: 64 MiB, 3 passes, 1 lane (above every OWASP option).
    pub const RECOMMENDED: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// Whether these costs meet OWASP's Password Storage Cheat Sheet for Argon2id: 47 MiB with
    /// one pass, 19 MiB with two, 12 MiB with three, 9 MiB with four, 7 MiB with five or more
    /// (one lane).
    pub fn meets_owasp(&self) -> bool {
        let least_kib = match self.iterations {
            0 => return false,
            1 => 47_104,
            2 => 19_456,
            3 => 12_288,
            4 => 9_216,
            _ => 7_168,
        };
        self.memory_kib >= least_kib && self.parallelism >= 1
    }

    /// Costs no honest keystore needs: a file asking for them would only tie the device up.
    fn excessive(&self) -> bool {
        self.memory_kib > 1024 * 1024 || self.iterations > 64 || self.parallelism > 16
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kdf {
    /// Always `argon2id`.
    pub name: String,
    /// Argon2's version: 19 (0x13).
    pub version: u32,
    #[serde(flatten)]
    pub params: KdfParams,
    /// 16 bytes, hex.
    pub salt: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cipher {
    /// Always `xchacha20-poly1305`.
    pub name: String,
    /// 24 bytes, hex.
    pub nonce: String,
}

/// An encrypted wallet, as stored in the browser, by the daemon, or exported as a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keystore {
    pub version: u32,
    /// The first account's address, readable while the keystore is locked.
    pub address: Address,
    pub kdf: Kdf,
    pub cipher: Cipher,
    /// The encrypted secret with its 16-byte tag, hex.
    pub ciphertext: String,
}

/// Why a keystore could not be made or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    #[error("the password needs at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("the key derivation costs are below OWASP's recommendation for Argon2id")]
    WeakParams,
    #[error("the wrong password (or a damaged keystore)")]
    WrongPassword,
    #[error("not a keystore: {0}")]
    Malformed(String),
    #[error("keystore version {0} is not supported (this wallet reads version {VERSION})")]
    UnsupportedVersion(u32),
}

fn malformed(what: impl std::fmt::Display) -> KeystoreError {
    KeystoreError::Malformed(what.to_string())
}

/// The 32-byte key for `password`.
fn derive_key(
    password: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(malformed)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(password.as_bytes(), salt, &mut key[..])
        .map_err(malformed)?;
    Ok(key)
}

impl Keystore {
    /// Encrypts `secret` (whose first account has `address`) under `password`, with a fresh
    /// 16-byte `salt` and 24-byte `nonce` from the caller's random source.
    pub fn seal(
        secret: &Secret,
        address: Address,
        password: &str,
        params: KdfParams,
        salt: [u8; 16],
        nonce: [u8; 24],
    ) -> Result<Keystore, KeystoreError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(KeystoreError::WeakPassword);
        }
        if !params.meets_owasp() || params.excessive() {
            return Err(KeystoreError::WeakParams);
        }
        let mut keystore = Keystore {
            version: VERSION,
            address,
            kdf: Kdf {
                name: "argon2id".into(),
                version: 0x13,
                params,
                salt: hex::encode(salt),
            },
            cipher: Cipher {
                name: "xchacha20-poly1305".into(),
                nonce: hex::encode(nonce),
            },
            ciphertext: String::new(),
        };
        let key = derive_key(password, &salt, params)?;
        let plain = Zeroizing::new(serde_json::to_vec(secret).map_err(malformed)?);
        let sealed = XChaCha20Poly1305::new((&*key).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &keystore.header(),
                },
            )
            .map_err(|_| malformed("encryption failed"))?;
        keystore.ciphertext = hex::encode(sealed);
        Ok(keystore)
    }

    /// Decrypts the secret; [`KeystoreError::WrongPassword`] when the password (or anything
    /// in the keystore) is not what it was sealed with.
    pub fn open(&self, password: &str) -> Result<Secret, KeystoreError> {
        if self.version != VERSION {
            return Err(KeystoreError::UnsupportedVersion(self.version));
        }
        if self.kdf.name != "argon2id" || self.kdf.version != 0x13 {
            return Err(malformed(format!(
                "key derivation {} version {} (this wallet uses argon2id version 19)",
                self.kdf.name, self.kdf.version
            )));
        }
        if self.cipher.name != "xchacha20-poly1305" {
            return Err(malformed(format!("cipher {}", self.cipher.name)));
        }
        if self.kdf.params.excessive() {
            return Err(malformed(
                "key derivation costs beyond any this wallet writes",
            ));
        }
        let salt = hex::decode(&self.kdf.salt).map_err(|_| malformed("salt is not hex"))?;
        let nonce: [u8; 24] = hex::decode(&self.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| malformed("nonce is not 24 bytes of hex"))?;
        let sealed =
            hex::decode(&self.ciphertext).map_err(|_| malformed("ciphertext is not hex"))?;
        let key = derive_key(password, &salt, self.kdf.params)?;
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new((&*key).into())
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &sealed,
                        aad: &self.header(),
                    },
                )
                .map_err(|_| KeystoreError::WrongPassword)?,
        );
        serde_json::from_slice(&plain).map_err(|_| malformed("the decrypted secret is unreadable"))
    }

    /// Everything but the ciphertext, as the bytes the cipher authenticates: one field per
    /// line in a fixed order, the same on every platform.
    fn header(&self) -> Vec<u8> {
        let Kdf {
            name,
            version,
            params,
            salt,
        } = &self.kdf;
        format!(
            "aitbc-keystore\n{}\n{}\n{name}\n{version}\n{}\n{}\n{}\n{salt}\n{}\n{}",
            self.version,
            self.address,
            params.memory_kib,
            params.iterations,
            params.parallelism,
            self.cipher.name,
            self.cipher.nonce,
        )
        .into_bytes()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a keystore file.
    pub fn from_json(text: &str) -> Result<Keystore, KeystoreError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let versioned: Versioned = serde_json::from_str(text).map_err(malformed)?;
        if versioned.version != VERSION {
            return Err(KeystoreError::UnsupportedVersion(versioned.version));
        }
        serde_json::from_str(text).map_err(malformed)
    }
}
