//! The keystore: a round trip, and the refusals (wrong password, weak password or costs, edited header, unknown version).

use types::{Address, SecretKey};
use wallet::{KdfParams, Keystore, KeystoreError, Mnemonic, Secret};

const PASSWORD: &str = "correct horse battery";

fn sealed(params: KdfParams) -> anyhow::Result<(Secret, Keystore)> {
    let mnemonic = Mnemonic::from_entropy(&[0x5a; 16])?;
    let secret = Secret::mnemonic(&mnemonic);
    let address = secret.account(0)?.address();
    let keystore = Keystore::seal(&secret, address, PASSWORD, params, [1; 16], [2; 24])?;
    Ok((secret, keystore))
}

#[test]
fn a_keystore_opens_with_its_password_only_and_holds_no_secret_in_the_clear() -> anyhow::Result<()>
{
    let (secret, keystore) = sealed(KdfParams::RECOMMENDED)?;
    let json = keystore.to_json();
    let read = Keystore::from_json(&json)?;
    assert_eq!(read, keystore);
    assert_eq!(read.open(PASSWORD)?, secret);
    assert_eq!(read.address, secret.account(0)?.address());
    // The stored costs are the recommended ones, readable for a later raise.
    assert_eq!(read.kdf.params, KdfParams::RECOMMENDED);
    assert_eq!(read.kdf.name, "argon2id");
    // Nothing of the phrase or the key is in the file.
    let Secret::Mnemonic { phrase } = &secret else {
        anyhow::bail!("a phrase was sealed")
    };
    for word in phrase.split(' ') {
        assert!(!json.contains(&format!("\"{word}")), "{word} in {json}");
        assert!(!json.contains(&format!(" {word} ")), "{word} in {json}");
    }
    let key_hex = hex::encode(secret.account(0)?.key.seed());
    assert!(!json.contains(&key_hex));

    // A wrong password fails cleanly (what each try costs: `cargo bench -p wallet`).
    assert_eq!(
        read.open("correct horse battery!"),
        Err(KeystoreError::WrongPassword)
    );
    Ok(())
}

#[test]
fn an_imported_key_round_trips() -> anyhow::Result<()> {
    let key = SecretKey::from_seed(&[9; 32]);
    let secret = Secret::key(&key);
    let address = Address::of(&key.public_key());
    let keystore = Keystore::seal(
        &secret,
        address,
        PASSWORD,
        KdfParams::RECOMMENDED,
        [3; 16],
        [4; 24],
    )?;
    let opened = keystore.open(PASSWORD)?;
    assert_eq!(opened.account(0)?.key.seed(), key.seed());
    Ok(())
}

#[test]
fn weak_passwords_and_costs_below_owasp_are_refused() -> anyhow::Result<()> {
    let secret = Secret::key(&SecretKey::from_seed(&[9; 32]));
    let address = secret.account(0)?.address();
    let seal = |password: &str, params| {
        Keystore::seal(&secret, address, password, params, [0; 16], [0; 24]).map(|_| ())
    };
    assert_eq!(
        seal("short", KdfParams::RECOMMENDED),
        Err(KeystoreError::WeakPassword)
    );
    for weak in [
        KdfParams {
            memory_kib: 19_456,
            iterations: 1,
            parallelism: 1,
        },
        KdfParams {
            memory_kib: 4_096,
            iterations: 10,
            parallelism: 1,
        },
    ] {
        assert_eq!(seal(PASSWORD, weak), Err(KeystoreError::WeakParams));
    }
    // OWASP's lightest option (19 MiB, 2 passes) is accepted.
    assert!(
        KdfParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
        .meets_owasp()
    );
    Ok(())
}

#[test]
fn an_edited_keystore_does_not_open() -> anyhow::Result<()> {
    // The lightest accepted costs keep this test quick; the checks do not depend on them.
    let light = KdfParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    let (_, keystore) = sealed(light)?;
    // Another address shown for the same secret.
    let mut edited = keystore.clone();
    edited.address = Address::of(&SecretKey::from_seed(&[1; 32]).public_key());
    assert_eq!(edited.open(PASSWORD), Err(KeystoreError::WrongPassword));
    // A flipped ciphertext byte.
    let mut edited = keystore.clone();
    let mut bytes = hex::decode(&edited.ciphertext)?;
    bytes[0] ^= 1;
    edited.ciphertext = hex::encode(bytes);
    assert_eq!(edited.open(PASSWORD), Err(KeystoreError::WrongPassword));
    // Unknown versions and costs nobody writes are refused before any work.
    let mut edited = keystore.clone();
    edited.version = 2;
    assert_eq!(
        edited.open(PASSWORD),
        Err(KeystoreError::UnsupportedVersion(2))
    );
    let json = keystore
        .to_json()
        .replace("\"version\": 1", "\"version\": 7");
    assert_eq!(
        Keystore::from_json(&json),
        Err(KeystoreError::UnsupportedVersion(7))
    );
    let mut edited = keystore.clone();
    edited.kdf.params.memory_kib = 8 * 1024 * 1024;
    assert!(matches!(
        edited.open(PASSWORD),
        Err(KeystoreError::Malformed(_))
    ));
    assert!(matches!(
        Keystore::from_json("{\"version\": 1}"),
        Err(KeystoreError::Malformed(_))
    ));
    assert!(matches!(
        Keystore::from_json("not json"),
        Err(KeystoreError::Malformed(_))
    ));
    Ok(())
}
