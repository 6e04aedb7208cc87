//! API keys: random secrets handed out once, stored only as SHA-256 hashes (a 256-bit random secret needs no slow hash), each bound to a role and an identity; issued, listed, rotated and revoked by admins.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

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

/// How long a looked-up key is trusted without asking the database again. A key revoked on this
/// instance stops working at once; one revoked through another instance sharing the database
/// stops here within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// Keys cap: beyond it the cache starts afresh rather than grow without bound.
const CACHE_CAP: usize = 10_000;

/// Live keys recently presented, by hash: most requests then need no key query.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (ApiKey, Instant)>>,
    /// Moves on every revocation: a lookup that began before one does not cache what it read.
    revocations: AtomicU64,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

impl KeyCache {
    /// The key a request presents, if it is known and not revoked.
    pub async fn authenticate(
        &self,
        store: &Store,
        secret: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash(secret);
        if let Ok(entries) = self.entries.lock()
            && let Some((key, at)) = entries.get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(key.clone()));
        }
        let revocations = self.revocations.load(Ordering::SeqCst);
        let key = store.key_by_hash(&hash).await?;
        if let Ok(mut entries) = self.entries.lock() {
            match &key {
                // Read before a revocation that has happened since: maybe revoked already.
                Some(_) if self.revocations.load(Ordering::SeqCst) != revocations => {}
                Some(key) => {
                    if entries.len() >= CACHE_CAP {
                        entries.clear();
                    }
                    entries.insert(hash, (key.clone(), Instant::now()));
                }
                None => {
                    entries.remove(&hash);
                }
            }
        }
        Ok(key)
    }

    /// Revokes key `id`; false if there is no such unrevoked key.
    pub async fn revoke(&self, store: &Store, id: &str, now: i64) -> Result<bool, StoreError> {
        let revoked = store.revoke_key(id, now).await?;
        // Under the lock, so no lookup caches between the count moving and the entries going.
        if let Ok(mut entries) = self.entries.lock() {
            self.revocations.fetch_add(1, Ordering::SeqCst);
            entries.retain(|_, (key, _)| key.id != id);
        }
        Ok(revoked)
    }

    /// Replaces key `id` with a new one for the same role and identity; `None` if there is no
    /// such live key.
    pub async fn rotate(
        &self,
        store: &Store,
        id: &str,
        now: i64,
    ) -> Result<Option<Issued>, StoreError> {
        let Some(old) = store
            .keys()
            .await?
            .into_iter()
            .find(|k| k.id == id && k.revoked_at.is_none())
        else {
            return Ok(None);
        };
        let new = issue(store, old.role, &old.identity, now).await?;
        self.revoke(store, id, now).await?;
        Ok(Some(new))
    }
}
