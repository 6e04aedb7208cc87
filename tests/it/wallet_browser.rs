//! The browser wallet in a real Chromium against a real server: a wallet created on /wallet/ (its phrase shown once and confirmed), funded by the faucet, a transfer to its second account previewed, confirmed and seen in a block; after a reload it unlocks to the same state; and the browser's storage holds ciphertext only.

use std::time::Duration;

use anyhow::Context;

use tests::{Browser, Server, stack};
use types::Address;
use wallet::{Keystore, Mnemonic, Secret};

const PASSWORD: &str = "browser wallet password";
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_made_in_the_browser_receives_sends_and_survives_a_reload() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = Server::start().await?;
    let browser = Browser::launch(1280, 900).await?;
    let tab = browser.open(&server.at("/wallet/")).await?;
    tab.hydrated().await?;

    // Create: two passwords, the phrase shown once, two of its words asked back.
    tab.type_into("#create-password", PASSWORD).await?;
    tab.type_into("#create-password-again", PASSWORD).await?;
    tab.click("#create-submit").await?;
    tab.wait_for(
        "document.querySelectorAll('#wallet-mnemonic li').length === 12",
        WAIT,
    )
    .await?;
    let words: Vec<String> = tab
        .eval("[...document.querySelectorAll('#wallet-mnemonic li')].map(li => li.dataset.word)")
        .await?;
    let phrase = words.join(" ");
    let mnemonic = Mnemonic::parse(&phrase)?;
    tab.click("#mnemonic-saved").await?;
    for input in ["#confirm-word-1", "#confirm-word-2"] {
        let position: usize = tab
            .eval::<String>(&format!(
                "document.querySelector('{input}').dataset.position"
            ))
            .await?
            .parse()?;
        tab.type_into(input, &words[position - 1]).await?;
    }
    tab.click("#confirm-submit").await?;
    tab.wait_for("document.querySelector('#wallet-address') !== null", WAIT)
        .await?;
    let first: Address = tab
        .text("#wallet-address")
        .await?
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The page's first account is the phrase's account 0.
    let secret = Secret::mnemonic(&mnemonic);
    assert_eq!(first, secret.account(0)?.address());
    assert!(
        tab.eval::<bool>("document.querySelector('#wallet-qr').naturalWidth >= 160")
            .await?,
        "no QR code for the address"
    );

    // Funded by the faucet: 100 AITBC.
    tab.click("#wallet-faucet").await?;
    tab.wait_for(
        "document.querySelector('#wallet-balance').dataset.baseUnits === '100000000'",
        WAIT,
    )
    .await?;

    // A second account, then a transfer to it from the first.
    tab.click("#account-add").await?;
    tab.wait_for(
        "document.querySelectorAll('#account-select option').length === 2",
        WAIT,
    )
    .await?;
    let second: Address = tab
        .eval::<String>(
            "document.querySelector('#account-select option[value=\"1\"]').dataset.address",
        )
        .await?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert_eq!(second, secret.account(1)?.address());
    tab.type_into("#send-to", &second.to_string()).await?;
    tab.type_into("#send-amount", "12.5").await?;
    tab.click("#send-review").await?;
    tab.wait_for("document.querySelector('#send-preview') !== null", WAIT)
        .await?;
    let fee: u64 = tab
        .eval::<String>("document.querySelector('#send-preview').dataset.fee")
        .await?
        .parse()?;
    assert!(fee > 0);
    tab.click("#send-confirm").await?;
    tab.wait_for(
        "document.querySelector('#send-status')?.dataset.status === 'included'",
        WAIT,
    )
    .await?;
    let left = 100_000_000 - 12_500_000 - fee;
    tab.wait_for(
        &format!("document.querySelector('#wallet-balance').dataset.baseUnits === '{left}'"),
        WAIT,
    )
    .await?;
    assert_eq!(stack::account(&http, &server, &second).await?.0, 12_500_000);
    tab.wait_for(
        "document.querySelectorAll('#wallet-history li').length === 2",
        WAIT,
    )
    .await?;

    // What the browser stores: the keystore (it opens with the password to this phrase) and the
    // account count; no word of the phrase, no key.
    let stored: String = tab
        .eval("JSON.stringify(Object.assign({}, localStorage))")
        .await?;
    for pair in words.windows(2) {
        assert!(
            !stored.contains(&pair.join(" ")),
            "the phrase is in the browser's storage"
        );
    }
    // No word alone among the stored values either (a word may be a field's name: "address"
    // is one of the 2,048).
    let values = string_values(&serde_json::from_str(&stored)?);
    for word in &words {
        assert!(!values.contains(word), "{word} stored");
    }
    for index in 0..2 {
        let seed = hex::encode(secret.account(index)?.key.seed());
        assert!(!stored.contains(&seed), "a key is in the browser's storage");
    }
    let kept: serde_json::Value = serde_json::from_str(
        &tab.eval::<String>("localStorage.getItem('aitbc-wallet')")
            .await?,
    )?;
    assert_eq!(kept["accounts"], 2);
    let keystore: Keystore = serde_json::from_value(kept["keystore"].clone())?;
    assert_eq!(keystore.open(PASSWORD)?, secret);

    // Reloaded: locked; the password opens the same wallet with both accounts and the balance.
    let tab = browser.open(&server.at("/wallet/")).await?;
    tab.hydrated().await?;
    tab.wait_for("document.querySelector('#unlock-password') !== null", WAIT)
        .await?;
    assert_eq!(tab.text("#locked-address").await?.trim(), first.to_string());
    tab.type_into("#unlock-password", "not the password")
        .await?;
    tab.click("#unlock-submit").await?;
    tab.wait_for(
        "document.querySelector('#wallet-error')?.textContent.includes('wrong password')",
        WAIT,
    )
    .await?;
    tab.eval::<serde_json::Value>("document.querySelector('#unlock-password').value = ''")
        .await
        .ok();
    tab.type_into("#unlock-password", PASSWORD).await?;
    tab.click("#unlock-submit").await?;
    tab.wait_for("document.querySelector('#wallet-address') !== null", WAIT)
        .await?;
    assert_eq!(tab.text("#wallet-address").await?.trim(), first.to_string());
    tab.wait_for(
        "document.querySelectorAll('#account-select option').length === 2",
        WAIT,
    )
    .await?;
    tab.wait_for(
        &format!("document.querySelector('#wallet-balance').dataset.baseUnits === '{left}'"),
        WAIT,
    )
    .await?;
    let problems = tab.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");

    // The exported keystore, imported in another browser with its password: the same wallet.
    let href: String = tab
        .eval("document.querySelector('#wallet-export').getAttribute('href')")
        .await?;
    let encoded = href
        .strip_prefix("data:application/json;charset=utf-8,")
        .context("the export is not a JSON data URL")?;
    let file = tempfile::tempdir()?;
    let path = file.path().join("aitbc-keystore.json");
    std::fs::write(&path, percent_decoded(encoded)?)?;
    let other = Browser::launch(1280, 900).await?;
    let tab = other.open(&server.at("/wallet/")).await?;
    tab.hydrated().await?;
    tab.click("#wallet-tab-import").await?;
    tab.choose_file("#import-file", &path).await?;
    tab.type_into("#import-password", PASSWORD).await?;
    tab.click("#import-submit").await?;
    tab.wait_for("document.querySelector('#wallet-address') !== null", WAIT)
        .await?;
    assert_eq!(tab.text("#wallet-address").await?.trim(), first.to_string());
    Ok(())
}

/// The bytes of `%XX`-encoded text.
fn percent_decoded(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2).context("a cut %-escape")?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex)?, 16)?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_marketplace_signs_its_user_in_through_the_wallet_page() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = Server::start().await?;
    let browser = Browser::launch(1280, 900).await?;
    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let address = Secret::mnemonic(&Mnemonic::parse(phrase)?)
        .account(0)?
        .address();

    // A wallet kept in this browser.
    let wallet = browser.open(&server.at("/wallet/")).await?;
    wallet.hydrated().await?;
    wallet.click("#wallet-tab-import").await?;
    wallet.type_into("#import-phrase", phrase).await?;
    wallet.type_into("#import-password", PASSWORD).await?;
    wallet.click("#import-submit").await?;
    wallet
        .wait_for("document.querySelector('#wallet-address') !== null", WAIT)
        .await?;

    // No extension here: the marketplace opens the wallet page, which asks its user.
    let market = browser.open(&server.at("/marketplace/")).await?;
    market.hydrated().await?;
    // The window the marketplace opens is taken over by the test (headless Chromium's new
    // windows cannot be driven reliably): the same address, opened in a tab of this browser.
    market
        .eval::<serde_json::Value>(
            "window.open = (url) => { window.walletUrl = url; return { closed: false }; }; true",
        )
        .await?;
    market.click("#wallet-sign-in").await?;
    market
        .wait_for("typeof window.walletUrl === 'string'", WAIT)
        .await?;
    let asked: String = market.eval("window.walletUrl").await?;
    assert!(asked.starts_with("/wallet/#sign-in="), "{asked}");
    let popup = browser.open(&server.at(&asked)).await?;
    popup.hydrated().await?;
    popup
        .wait_for("document.querySelector('#unlock-password') !== null", WAIT)
        .await?;
    popup.type_into("#unlock-password", PASSWORD).await?;
    popup.click("#unlock-submit").await?;
    popup
        .wait_for("document.querySelector('#approval-sign-in') !== null", WAIT)
        .await?;
    let host = server.url.trim_start_matches("http://").to_owned();
    let domain: String = popup
        .eval("document.querySelector('#approval-sign-in').dataset.domain")
        .await?;
    assert_eq!(domain, host, "the approval names the site signing in");
    assert!(
        popup
            .text("#approval-sign-in")
            .await?
            .contains(&address.to_string())
    );
    popup.click("#approval-accept").await?;

    // Signed in: the session is the wallet's address.
    if let Err(e) = market
        .wait_for("document.querySelector('#signed-in-as') !== null", WAIT)
        .await
    {
        let said: String = market
            .eval("document.querySelector('#sign-in-error')?.textContent ?? 'none'")
            .await
            .unwrap_or_default();
        anyhow::bail!("{e}; the marketplace says {said:?}");
    }
    let shown: String = market
        .eval("document.querySelector('#signed-in-as').dataset.address")
        .await?;
    assert_eq!(shown, address.to_string());
    let session: serde_json::Value = serde_json::from_str(
        &market
            .eval::<String>("sessionStorage.getItem('aitbc-session')")
            .await?,
    )?;
    let token = session["session_token"].as_str().unwrap_or_default();
    let me: serde_json::Value = http
        .get(server.at("/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["wallet_address"], address.to_string(), "{me}");
    let problems = market.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    Ok(())
}

/// Every string value in `value`, at any depth, reading strings that hold JSON as JSON (as
/// localStorage holds the wallet); names of fields are not values.
fn string_values(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(text) => match serde_json::from_str(text) {
            Ok(inner @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                string_values(&inner)
            }
            _ => vec![text.clone()],
        },
        serde_json::Value::Array(items) => items.iter().flat_map(string_values).collect(),
        serde_json::Value::Object(fields) => fields.values().flat_map(string_values).collect(),
        _ => Vec::new(),
    }
}
