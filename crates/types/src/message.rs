//! Text a key signs that is not a transaction or a block (sign-in challenges, a wallet's "sign this message"): domain-separated so a signature over one can never pass as the other, and the sign-in challenge (the EIP-4361 idea: domain, account, chain, single-use nonce, expiry) as one fixed text that wallets show and parse.

use crate::{Address, KeyError, PublicKey, SecretKey, Signature, encoding::Writer};

const DOMAIN: &[u8] = b"AITBC/message";
const VERSION: u8 = 1;

/// The bytes signed for the message `text`.
pub fn signing_bytes(text: &str) -> Vec<u8> {
    let mut w = Writer::new(DOMAIN, VERSION);
    w.str(text);
    w.finish()
}

/// Signs the message `text`.
pub fn sign(key: &SecretKey, text: &str) -> Signature {
    key.sign(&signing_bytes(text))
}

/// Checks that `signature` signs the message `text` with `key`.
pub fn verify(key: &PublicKey, text: &str, signature: &Signature) -> Result<(), KeyError> {
    key.verify(&signing_bytes(text), signature)
}

/// A request to sign in: which site asks, for which account on which chain, with a nonce the
/// site hands out once, valid until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// The host the request comes from (`explorer.example.org`, `127.0.0.1:8080`).
    pub domain: String,
    pub address: Address,
    pub chain_id: String,
    pub nonce: String,
    /// RFC 3339.
    pub issued_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

const WANTS: &str = " wants you to sign in with your AITBC account:";

impl SignIn {
    /// The text the wallet shows and signs.
    pub fn message(&self) -> String {
        format!(
            "{domain}{WANTS}\n{address}\n\nChain ID: {chain}\nNonce: {nonce}\nIssued At: {issued}\nExpiration Time: {expires}",
            domain = self.domain,
            address = self.address,
            chain = self.chain_id,
            nonce = self.nonce,
            issued = self.issued_at,
            expires = self.expires_at,
        )
    }

    /// Reads a sign-in message back (what a wallet does before it asks its user); `None` for any
    /// other text.
    pub fn parse(text: &str) -> Option<SignIn> {
        let mut lines = text.split('\n');
        let domain = lines.next()?.strip_suffix(WANTS)?.to_owned();
        let address = lines.next()?.parse().ok()?;
        if !lines.next()?.is_empty() {
            return None;
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(": "))
                .map(str::to_owned)
        };
        let sign_in = SignIn {
            domain,
            address,
            chain_id: field("Chain ID")?,
            nonce: field("Nonce")?,
            issued_at: field("Issued At")?,
            expires_at: field("Expiration Time")?,
        };
        (lines.next().is_none() && sign_in.message() == text).then_some(sign_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (SecretKey, SignIn) {
        let key = SecretKey::from_seed(&[3; 32]);
        let sign_in = SignIn {
            domain: "127.0.0.1:8080".into(),
            address: Address::of(&key.public_key()),
            chain_id: "aitbc-devnet".into(),
            nonce: "6f1c0b8e2d4a4f5e9b7c3a1d0e2f4a6b".into(),
            issued_at: "2026-11-26T10:00:00Z".into(),
            expires_at: "2026-11-26T10:05:00Z".into(),
        };
        (key, sign_in)
    }

    #[test]
    fn a_sign_in_message_reads_back_and_nothing_else_does() {
        let (_, sign_in) = sample();
        let text = sign_in.message();
        assert!(
            text.starts_with("127.0.0.1:8080 wants you to sign in with your AITBC account:\nait1")
        );
        assert_eq!(SignIn::parse(&text), Some(sign_in));
        assert_eq!(SignIn::parse(&text.replace("Nonce", "Once")), None);
        assert_eq!(SignIn::parse(&format!("{text}\nextra")), None);
        assert_eq!(SignIn::parse("hello"), None);
    }

    #[test]
    fn a_message_signature_is_bound_to_its_text_and_is_no_transaction_signature() {
        let (key, sign_in) = sample();
        let text = sign_in.message();
        let signature = sign(&key, &text);
        assert!(verify(&key.public_key(), &text, &signature).is_ok());
        assert!(
            verify(
                &key.public_key(),
                &text.replace("10:05", "11:05"),
                &signature
            )
            .is_err()
        );
        // The raw text signed directly is a different signature: the domain tag separates them.
        assert_ne!(key.sign(text.as_bytes()), signature);
    }
}
