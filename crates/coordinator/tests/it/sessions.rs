//! Browser sign-in on both databases: a signed challenge opens a session that expires; a replayed, forged, expired or foreign signature opens nothing.

use coordinator::Error;
use types::{Address, SecretKey, message};

use crate::db::{Clock, both, coordinator};

#[tokio::test]
async fn a_signed_challenge_opens_an_expiring_session_once() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let key = SecretKey::from_seed(&[21; 32]);
        let address = Address::of(&key.public_key());

        let challenge = coord.sign_in_challenge(address, "127.0.0.1:8080").await?;
        assert_eq!(
            message::SignIn::parse(&challenge.message()),
            Some(challenge.clone())
        );
        let signature = message::sign(&key, &challenge.message());
        let signed_in = coord
            .sign_in(address, key.public_key(), &challenge.nonce, &signature)
            .await?;
        let session = coord
            .session(&signed_in.token)
            .await?
            .expect("live session");
        assert_eq!(session.address, address, "{}", db.name);

        // The same signature again: the challenge is spent.
        let replay = coord
            .sign_in(address, key.public_key(), &challenge.nonce, &signature)
            .await;
        assert!(
            matches!(replay, Err(Error::Unauthorized(_))),
            "{}: {replay:?}",
            db.name
        );

        // An hour later the session is gone.
        clock.advance(60 * 60_000 + 1);
        assert_eq!(coord.session(&signed_in.token).await?, None, "{}", db.name);
    }
    Ok(())
}

#[tokio::test]
async fn forged_expired_and_foreign_signatures_open_nothing() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let key = SecretKey::from_seed(&[22; 32]);
        let thief = SecretKey::from_seed(&[23; 32]);
        let address = Address::of(&key.public_key());
        let refused = |outcome: Result<coordinator::sessions::SignedIn, Error>| {
            matches!(outcome, Err(Error::Unauthorized(_)))
        };

        // Signed by another key, presented with the victim's public key.
        let challenge = coord.sign_in_challenge(address, "example.org").await?;
        let forged = message::sign(&thief, &challenge.message());
        assert!(refused(
            coord
                .sign_in(address, key.public_key(), &challenge.nonce, &forged)
                .await
        ));
        // The failed attempt spent the challenge: the right signature no longer helps.
        let right = message::sign(&key, &challenge.message());
        assert!(refused(
            coord
                .sign_in(address, key.public_key(), &challenge.nonce, &right)
                .await
        ));

        // The thief's own key for the victim's address.
        let challenge = coord.sign_in_challenge(address, "example.org").await?;
        let theirs = message::sign(&thief, &challenge.message());
        assert!(refused(
            coord
                .sign_in(address, thief.public_key(), &challenge.nonce, &theirs)
                .await
        ));

        // A signature over other text (the raw message, without the domain tag).
        let challenge = coord.sign_in_challenge(address, "example.org").await?;
        let raw = key.sign(challenge.message().as_bytes());
        assert!(refused(
            coord
                .sign_in(address, key.public_key(), &challenge.nonce, &raw)
                .await
        ));

        // Too late.
        let challenge = coord.sign_in_challenge(address, "example.org").await?;
        let late = message::sign(&key, &challenge.message());
        clock.advance(5 * 60_000 + 1);
        assert!(refused(
            coord
                .sign_in(address, key.public_key(), &challenge.nonce, &late)
                .await
        ));

        // A nonce never handed out.
        assert!(refused(
            coord
                .sign_in(address, key.public_key(), "00ff", &late)
                .await
        ));
        assert!(matches!(
            coord.sign_in_challenge(address, "").await,
            Err(Error::Invalid {
                field: "domain",
                ..
            })
        ));
    }
    Ok(())
}
