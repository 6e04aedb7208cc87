//! API keys: random secrets handed out once, stored only as SHA-256 hashes (a 256-bit random secret needs no slow hash), each bound to a role and an identity; issued, listed, rotated and revoked by admins.

use sha2::{Digest, Sha256};

use crate::{
    model::{ApiKey, Role},
    store::{Store, StoreError},
};

/// A key as issued: the record and, this once, its secret.
#[derive(Clone, Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub secret: String,
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// Creates a key for `identity` acting as `role`.
pub async fn issue(
    store: &Store,
    role: Role,
    identity: &str,
    now: i64,
) -> Result<Issued, StoreError> {
    let secret = format!("aitbc_{}_{}", role.as_str(), random_hex(32));
    let key = ApiKey {
        id: format!("ak_{}", random_hex(8)),
        key_hash: hash(&secret),
        role,
        identity: identity.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    store.insert_key(&key).await?;
    Ok(Issued { key, secret })
}

/// The key a request presents, if it is known and not revoked.
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<ApiKey>, StoreError> {
    store.key_by_hash(&hash(secret)).await
}

/// Replaces key `id` with a new one for the same role and identity; `None` if there is no such
/// live key.
pub async fn rotate(store: &Store, id: &str, now: i64) -> Result<Option<Issued>, StoreError> {
    let Some(old) = store
        .keys()
        .await?
        .into_iter()
        .find(|k| k.id == id && k.revoked_at.is_none())
    else {
        return Ok(None);
    };
    let new = issue(store, old.role, &old.identity, now).await?;
    store.revoke_key(id, now).await?;
    Ok(Some(new))
}
