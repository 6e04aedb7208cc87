//! The wallet daemon in a real server process: a wallet created, the process restarted, the wallet unlocked and a transfer sent that lands on chain; wrong passwords slowed down; bad input refused before anything is signed; and nothing secret in its database file.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{Options, Server, Site, stack};
use types::Address;

const PASSWORD: &str = "daemon test password";

/// A server with a data folder that outlives it.
async fn start(data: &std::path::Path) -> anyhow::Result<Server> {
    Server::start_with_options(
        Site::Default,
        Options {
            data_dir: Some(data.to_owned()),
            bind: None,
            args: Vec::new(),
        },
    )
    .await
}

/// Calls the daemon: the status and the JSON body.
async fn call(
    http: &reqwest::Client,
    server: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let url = server.at(&format!("/wallet/v1{path}"));
    let request = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await?;
    let status = response.status();
    Ok((status, response.json().await?))
}

/// The error code of a structured error body.
fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_survives_a_restart_unlocks_and_sends_a_transfer_that_lands_on_chain()
-> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let data = tempfile::tempdir()?;
    let server = start(data.path()).await?;

    // A new wallet: its recovery phrase is shown once, and it starts locked.
    let (status, created) = call(
        &http,
        &server,
        "POST",
        "/wallets",
        Some(json!({ "wallet_id": "alice", "password": PASSWORD, "metadata": {"label": "ops"} })),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let phrase = created["mnemonic"].as_str().unwrap_or_default().to_owned();
    assert_eq!(phrase.split(' ').count(), 12, "{created}");
    let alice: Address = created["wallet"]["address"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert_eq!(created["wallet"]["unlocked"], false);
    // A second wallet, imported from a recovery phrase, receives.
    let bob_phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let (status, bob) = call(
        &http,
        &server,
        "POST",
        "/wallets",
        Some(json!({ "wallet_id": "bob", "password": PASSWORD, "mnemonic": bob_phrase })),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    assert!(
        bob.get("mnemonic").is_none(),
        "an imported phrase is not echoed"
    );
    let bob: Address = bob["wallet"]["address"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (status, taken) = call(
        &http,
        &server,
        "POST",
        "/wallets",
        Some(json!({ "wallet_id": "alice", "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    stack::fund(&http, &server, alice, 5_000_000).await?;

    // Restarted on the same data: the wallets are there, locked.
    server.stop().await?;
    let server = start(data.path()).await?;
    let (_, list) = call(&http, &server, "GET", "/wallets", None).await?;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|w| w["wallet_id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, ["alice", "bob"], "{list}");
    assert_eq!(list["items"][0]["unlocked"], false);
    let (_, balance) = call(&http, &server, "GET", "/wallets/alice/balance", None).await?;
    assert_eq!(balance["balance"], 5_000_000, "{balance}");

    // A page whose name was rebound to 127.0.0.1 calls from this machine, but not as a local
    // caller: its Host is not loopback.
    let rebound = http
        .get(server.at("/wallet/v1/wallets"))
        .header("host", "evil.example:8080")
        .send()
        .await?;
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let rebound: Value = rebound.json().await?;
    assert_eq!(code(&rebound), "LOOPBACK_ONLY", "{rebound}");

    // Locked: no send, no export of the keystore.
    let (status, refused) = call(&http, &server, "GET", "/wallets/alice/keystore", None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let send = json!({ "to": bob.to_string(), "amount": "1.5", "wait_seconds": 30 });
    let (status, refused) = call(
        &http,
        &server,
        "POST",
        "/wallets/alice/send",
        Some(send.clone()),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(code(&refused), "WALLET_LOCKED");

    let (status, unlocked) = call(
        &http,
        &server,
        "POST",
        "/wallets/alice/unlock",
        Some(json!({ "password": PASSWORD, "timeout_seconds": 120 })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{unlocked}");
    let (status, exported) = call(&http, &server, "GET", "/wallets/alice/keystore", None).await?;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert_eq!(exported["address"], alice.to_string());
    assert!(exported["ciphertext"].is_string());

    // Bad transfers are refused before anything is signed.
    let mut typo = bob.to_string();
    let last = typo.pop().unwrap_or('q');
    typo.push(if last == 'q' { 'p' } else { 'q' });
    for (body, want, field) in [
        (
            json!({ "to": typo, "amount": "1" }),
            StatusCode::BAD_REQUEST,
            "to",
        ),
        (
            json!({ "to": bob.to_string(), "amount": "1.0000001" }),
            StatusCode::BAD_REQUEST,
            "amount",
        ),
        (
            json!({ "to": bob.to_string(), "amount": "5" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
    ] {
        let (status, refused) =
            call(&http, &server, "POST", "/wallets/alice/send", Some(body)).await?;
        assert_eq!(status, want, "{refused}");
        if !field.is_empty() {
            assert_eq!(refused["error"]["details"][0]["field"], field, "{refused}");
        } else {
            assert_eq!(code(&refused), "INSUFFICIENT_FUNDS", "{refused}");
        }
    }
    let (_, history) = call(&http, &server, "GET", "/wallets/alice/history", None).await?;
    assert_eq!(
        history["total_transactions_sent"], 0,
        "a refused transfer was sent: {history}"
    );

    // The preview, then the send, which waits for its block.
    let (status, preview) = call(
        &http,
        &server,
        "POST",
        "/wallets/alice/preview",
        Some(json!({ "to": bob.to_string(), "amount": "1.5" })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let fee = preview["preview"]["fee"].as_u64().unwrap_or_default();
    assert!(fee > 0, "{preview}");
    assert_eq!(
        preview["preview"]["balance_after"],
        5_000_000 - 1_500_000 - fee
    );
    let (status, sent) = call(&http, &server, "POST", "/wallets/alice/send", Some(send)).await?;
    assert_eq!(status, StatusCode::OK, "not included within 30 s: {sent}");
    assert_eq!(sent["status"], "included");
    let hash = sent["hash"].as_str().unwrap_or_default().to_owned();
    let tx = stack::included(&http, &server, &hash).await?;
    assert_eq!(tx["type"], "transfer", "{tx}");
    let (bob_balance, _) = stack::account(&http, &server, &bob).await?;
    assert_eq!(bob_balance, 1_500_000);
    let (alice_balance, _) = stack::account(&http, &server, &alice).await?;
    assert_eq!(alice_balance, 5_000_000 - 1_500_000 - fee);
    let (_, followed) = call(
        &http,
        &server,
        "GET",
        &format!("/wallets/alice/transactions/{hash}"),
        None,
    )
    .await?;
    assert_eq!(followed["status"], "included", "{followed}");

    // Locked again: signing needs the password once more.
    call(&http, &server, "POST", "/wallets/alice/lock", None).await?;
    let (status, _) = call(
        &http,
        &server,
        "POST",
        "/wallets/alice/sign",
        Some(json!({ "message": "hello" })),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, signed) = call(
        &http,
        &server,
        "POST",
        "/wallets/alice/sign",
        Some(json!({ "message": "hello", "password": PASSWORD })),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let key = types::PublicKey::from_hex(signed["public_key"].as_str().unwrap_or_default())?;
    let signature = types::Signature::from_hex(signed["signature"].as_str().unwrap_or_default())?;
    assert!(types::message::verify(&key, "hello", &signature).is_ok());
    assert_eq!(Address::of(&key), alice);

    // The database holds ciphertext only: no word of the phrase, no key.
    server.stop().await?;
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(data.path().join("wallet"))? {
        stored.extend(std::fs::read(entry?.path())?);
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains(&alice.to_string()), "the wallet is stored");
    for phrase in [phrase.as_str(), bob_phrase] {
        let run: String = phrase.split(' ').take(3).collect::<Vec<_>>().join(" ");
        assert!(!stored.contains(&run), "the phrase is stored in the clear");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_are_slowed_down_and_bad_imports_refused() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let data = tempfile::tempdir()?;
    let server = start(data.path()).await?;
    let (status, created) = call(
        &http,
        &server,
        "POST",
        "/wallets",
        Some(json!({ "wallet_id": "carol", "password": PASSWORD, "words": 24 })),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["mnemonic"].as_str().map(|p| p.split(' ').count()),
        Some(24)
    );

    // Three wrong passwords are answered 401; then every try waits, the right one included.
    let unlock = |password: &str| json!({ "password": password });
    for _ in 0..3 {
        let (status, body) = call(
            &http,
            &server,
            "POST",
            "/wallets/carol/unlock",
            Some(unlock("not the password")),
        )
        .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(code(&body), "INVALID_CREDENTIALS");
    }
    let response = http
        .post(server.at("/wallet/v1/wallets/carol/unlock"))
        .json(&unlock(PASSWORD))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!(
        (1..=30).contains(&retry),
        "Retry-After {retry} s after three failures"
    );

    // Imports that are not what they claim are refused with the reason.
    for (body, field, says) in [
        (
            json!({ "wallet_id": "d1", "password": PASSWORD, "mnemonic": "abandon ".repeat(12) }),
            "mnemonic",
            "checksum",
        ),
        (
            json!({ "wallet_id": "d2", "password": PASSWORD,
                    "mnemonic": "legal winner thank year wave sausage worth useful legal winnr thank yellow" }),
            "mnemonic",
            "winnr",
        ),
        (
            json!({ "wallet_id": "d3", "password": PASSWORD, "mnemonic": "legal winner thank" }),
            "mnemonic",
            "12 or 24 words",
        ),
        (
            json!({ "wallet_id": "d4", "password": PASSWORD, "secret_key": "c2hvcnQ=" }),
            "secret_key",
            "32-byte",
        ),
        (
            json!({ "wallet_id": "no spaces", "password": PASSWORD }),
            "wallet_id",
            "letters",
        ),
        (
            json!({ "wallet_id": "d6", "password": PASSWORD, "keystore": foreign_keystore()? }),
            "keystore",
            "scrypt",
        ),
    ] {
        let (status, refused) = call(&http, &server, "POST", "/wallets", Some(body)).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"]["details"][0]["field"], field, "{refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    let (status, weak) = call(
        &http,
        &server,
        "POST",
        "/wallets",
        Some(json!({ "wallet_id": "d5", "password": "short" })),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}");
    assert_eq!(code(&weak), "PASSWORD_TOO_WEAK");
    let (_, list) = call(&http, &server, "GET", "/wallets", None).await?;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "a refused import left a wallet: {list}"
    );

    // The earlier JSON-RPC answers with the earlier error codes.
    let rpc = |body: Value| {
        let http = http.clone();
        let url = server.at("/wallet/rpc");
        async move {
            anyhow::Ok(
                http.post(url)
                    .json(&body)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await?
                    .json::<Value>()
                    .await?,
            )
        }
    };
    let listed = rpc(json!({ "jsonrpc": "2.0", "id": 1, "method": "wallet.list" })).await?;
    assert_eq!(
        listed["result"]["items"][0]["wallet_id"], "carol",
        "{listed}"
    );
    let unknown = rpc(json!({ "jsonrpc": "2.0", "id": 2, "method": "wallet.nope" })).await?;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let missing = rpc(
        json!({ "jsonrpc": "2.0", "id": 3, "method": "wallet.unlock",
                              "params": { "wallet_id": "nobody", "password": PASSWORD } }),
    )
    .await?;
    assert_eq!(missing["error"]["code"], -32004, "{missing}");
    Ok(())
}

/// A keystore that reads as one but whose key derivation this wallet does not use.
fn foreign_keystore() -> anyhow::Result<Value> {
    let secret = wallet::Secret::key(&types::SecretKey::from_seed(&[3; 32]));
    let light = wallet::KdfParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    let mut keystore = wallet::Keystore::seal(
        &secret,
        secret.account(0)?.address(),
        PASSWORD,
        light,
        [1; 16],
        [2; 24],
    )?;
    keystore.kdf.name = "scrypt".into();
    Ok(serde_json::to_value(keystore)?)
}
