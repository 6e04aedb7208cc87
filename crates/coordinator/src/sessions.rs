//! Browser sign-in without passwords: the coordinator hands out a single-use challenge (`types::message::SignIn`: domain, account, chain, nonce, expiry), the wallet signs it with the account's key, and a valid signature buys an expiring session whose token is stored only as a hash. A session acts as a client of the coordinator, its identity the wallet address.

use types::{Address, PublicKey, Signature, message::SignIn};

use crate::{Coordinator, Error, keys, random_hex};

/// A signed-in browser user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub address: Address,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A new session and, this once, its token.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub token: String,
    pub session: Session,
}

/// Milliseconds since the epoch as RFC 3339 (UTC, whole seconds).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1_000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn refused(message: &str) -> Error {
    Error::Unauthorized(message.to_owned())
}

impl Coordinator {
    /// A fresh challenge for `address` to sign, asked for from `domain` (the request's host).
    pub async fn sign_in_challenge(&self, address: Address, domain: &str) -> Result<SignIn, Error> {
        if domain.is_empty() || domain.len() > 255 || domain.contains(char::is_whitespace) {
            return Err(Error::Invalid {
                field: "domain",
                message: "the request's host is missing or malformed".into(),
            });
        }
        let now = self.now();
        let expires = now + self.config.challenge_ttl_ms;
        let sign_in = SignIn {
            domain: domain.to_owned(),
            address,
            chain_id: self.config.chain_id.clone(),
            nonce: random_hex(16),
            issued_at: rfc3339(now),
            expires_at: rfc3339(expires),
        };
        self.store
            .insert_challenge(
                &sign_in.nonce,
                &address.to_string(),
                &sign_in.message(),
                expires,
            )
            .await?;
        Ok(sign_in)
    }

    /// Checks a signed challenge and opens a session. The challenge is used up by the first
    /// attempt, right or wrong, so a signature can never be replayed and a nonce never guessed
    /// at leisure.
    pub async fn sign_in(
        &self,
        address: Address,
        public_key: PublicKey,
        nonce: &str,
        signature: &Signature,
    ) -> Result<SignedIn, Error> {
        let now = self.now();
        let (challenged, message, expires_at) = self
            .store
            .take_challenge(nonce)
            .await?
            .ok_or_else(|| refused("unknown or already used challenge; ask for a new one"))?;
        if expires_at <= now {
            return Err(refused("the challenge expired; ask for a new one"));
        }
        if challenged != address.to_string() || Address::of(&public_key) != address {
            return Err(refused("the key does not belong to the challenged address"));
        }
        types::message::verify(&public_key, &message, signature)
            .map_err(|_| refused("the signature does not sign the challenge with this key"))?;
        let token = format!("aitbc_session_{}", random_hex(32));
        let session = Session {
            address,
            created_at: now,
            expires_at: now + self.config.session_ttl_ms,
        };
        self.store
            .insert_session(
                &keys::hash(&token),
                &address.to_string(),
                now,
                session.expires_at,
            )
            .await?;
        Ok(SignedIn { token, session })
    }

    /// The live session `token` opens, if any.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, Error> {
        let Some((address, created_at, expires_at)) =
            self.store.session(&keys::hash(token), self.now()).await?
        else {
            return Ok(None);
        };
        Ok(address.parse().ok().map(|address| Session {
            address,
            created_at,
            expires_at,
        }))
    }

    /// Ends the session `token` opens; false if there was none.
    pub async fn sign_out(&self, token: &str) -> Result<bool, Error> {
        Ok(self.store.delete_session(&keys::hash(token)).await?)
    }
}
