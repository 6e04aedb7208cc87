//! Committed test vectors for the canonical encodings: a change of key derivation, address format, transaction or header encoding, or hashing fails here instead of passing silently. `AITBC_BLESS=1` rewrites `vectors.json` after a deliberate change.

use serde_json::{Value, json};
use types::{
    Address, Amount, Block, BlockHeader, Hash, SecretKey, Transaction, TxBody, merkle_root,
};

fn key(byte: u8) -> SecretKey {
    SecretKey::from_seed(&[byte; 32])
}

fn computed() -> Value {
    let keys: Vec<Value> = [0u8, 1, 2, 0x42, 0xff]
        .iter()
        .map(|&b| {
            let k = key(b);
            json!({
                "seed": hex::encode([b; 32]),
                "public_key": k.public_key().to_hex(),
                "address": Address::of(&k.public_key()).to_string(),
            })
        })
        .collect();

    let transfer = Transaction {
        chain_id: "aitbc-devnet".into(),
        sender: key(1).public_key(),
        nonce: 7,
        fee: Amount(1_000),
        body: TxBody::Transfer {
            to: Address::of(&key(2).public_key()),
            amount: Amount(1_500_000),
        },
    };
    let faucet = Transaction {
        chain_id: "aitbc-devnet".into(),
        sender: key(0xff).public_key(),
        nonce: 0,
        fee: Amount(0),
        body: TxBody::Faucet {
            to: Address::of(&key(2).public_key()),
            amount: Amount(100_000_000),
        },
    };
    let anchor = Transaction {
        chain_id: "aitbc-devnet".into(),
        sender: key(1).public_key(),
        nonce: 8,
        fee: Amount(2_000),
        body: TxBody::ReceiptAnchor {
            receipt_hash: Hash::of(&[b"receipt"]),
            job_id: "job-42".into(),
        },
    };
    let txs = vec![transfer.sign(&key(1)), faucet.sign(&key(0xff))];
    let anchors = [anchor.sign(&key(1))];
    let tx_vectors: Vec<Value> = txs
        .iter()
        .map(|tx| {
            json!({
                "json": serde_json::to_value(tx).expect("json"),
                "signing_bytes": hex::encode(tx.tx.signing_bytes()),
                "signature": tx.signature.to_hex(),
                "hash": tx.hash().to_hex(),
            })
        })
        .collect();

    let hashes: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
    let header = BlockHeader {
        chain_id: "aitbc-devnet".into(),
        height: 1,
        parent_hash: Hash::ZERO,
        timestamp_ms: 1_700_000_000_000,
        proposer: key(0x42).public_key(),
        tx_root: merkle_root(&hashes),
        state_root: Hash::of(&[b"state"]),
    };
    let block = Block::seal(header, txs.clone(), &key(0x42));
    json!({
        "keys": keys,
        "transactions": tx_vectors,
        "receipt_anchors": anchors.iter().map(|tx| json!({
            "json": serde_json::to_value(tx).expect("json"),
            "signing_bytes": hex::encode(tx.tx.signing_bytes()),
            "signature": tx.signature.to_hex(),
            "hash": tx.hash().to_hex(),
        })).collect::<Vec<_>>(),
        "block": {
            "header": serde_json::to_value(&block.header).expect("json"),
            "signing_bytes": hex::encode(block.header.signing_bytes()),
            "hash": block.hash().to_hex(),
            "signature": block.signature.to_hex(),
        },
        "merkle": {
            "leaves": hashes.iter().map(Hash::to_hex).collect::<Vec<_>>(),
            "root": merkle_root(&hashes).to_hex(),
        },
    })
}

#[test]
fn encodings_match_the_committed_vectors() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors.json");
    let got = computed();
    if std::env::var_os("AITBC_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&got).expect("json") + "\n";
        std::fs::write(&path, text).expect("write vectors");
    }
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vectors.json")).expect("json");
    assert_eq!(
        got, want,
        "an encoding changed; if on purpose, bump its version and rerun with AITBC_BLESS=1"
    );
}

#[test]
fn committed_vectors_verify_and_round_trip() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors.json");
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json")).expect("json");
    for tx in vectors["transactions"].as_array().expect("array") {
        let parsed: types::SignedTransaction =
            serde_json::from_value(tx["json"].clone()).expect("parse tx");
        assert_eq!(parsed.hash().to_hex(), tx["hash"]);
        parsed.verify("aitbc-devnet").expect("signature verifies");
        assert!(
            parsed.verify("aitbc-mainnet").is_err(),
            "replay on another chain accepted"
        );
        let mut tampered = parsed.clone();
        tampered.tx.nonce += 1;
        assert!(
            tampered.verify("aitbc-devnet").is_err(),
            "tampered nonce accepted"
        );
    }
    for k in vectors["keys"].as_array().expect("array") {
        let address: Address = k["address"]
            .as_str()
            .expect("str")
            .parse()
            .expect("address parses");
        assert_eq!(address.to_string(), k["address"]);
    }
}
