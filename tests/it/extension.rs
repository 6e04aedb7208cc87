//! The Firefox extension in Chromium against its built files (`./x extension`). Chromium cannot run a Firefox extension, so pages play the extension APIs (runtime messages, storage, windows) with the same messages: around the built background, content and provider scripts, a site connects only after the popup approves, the approval is remembered and revocable, a signature and a declined request reach the site, the site hears of account changes, and a page cannot answer for the wallet; around the built popup (the WASM wallet UI), the approval screen names the asking site and answers a connect, a signature and a transfer that lands on chain.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use axum::{Router, response::Html};
use serde_json::{Value, json};
use tests::{Browser, Tab, stack};
use types::{Address, SecretKey};

const WAIT: Duration = Duration::from_secs(10);

/// The built extension: `AITBC_EXTENSION_DIR` (set by `./x test`), else where `./x extension`
/// puts it.
fn built() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("AITBC_EXTENSION_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/extension/aitbc-wallet"),
        PathBuf::from,
    );
    anyhow::ensure!(
        dir.join("manifest.json").exists(),
        "no built extension in {} (run ./x extension)",
        dir.display()
    );
    Ok(dir)
}

/// The page that plays the extension's APIs around the built scripts. The background answers
/// content-script messages as coming from this page's origin, and messages passed to
/// `fromPopup` as coming from the extension's own popup.
const HARNESS: &str = r##"<!doctype html>
<html><head><meta charset="utf-8"><title>extension harness</title><link rel="icon" href="data:,">
<script>
  globalThis.AITBC_WALLET_TEST = true;
  const EXT = location.origin + "/ext/";
  const store = {};
  const contentListeners = [];
  window.opened = [];
  globalThis.browser = {
    runtime: {
      getURL: (path) => EXT + path,
      sendMessage: (message) => window.background.handle(message, { url: location.href }),
      onMessage: { addListener: (listener) => contentListeners.push(listener) },
    },
    storage: { local: {
      get: async (keys) => Object.fromEntries([].concat(keys).filter((k) => k in store).map((k) => [k, store[k]])),
      set: async (values) => { Object.assign(store, JSON.parse(JSON.stringify(values))); },
    } },
    windows: { create: async ({ url }) => { window.opened.push(url); return { id: window.opened.length }; } },
    tabs: {
      query: async () => [{ id: 1, url: location.href }],
      sendMessage: async (_tab, message) => { contentListeners.forEach((l) => l(message)); },
    },
  };
  window.fromPopup = (message) => window.background.handle(message, { url: EXT + "popup.html" });
  window.lastRequest = () => new URL(window.opened[window.opened.length - 1]).hash.replace("#request=", "");
  window.settle = (promise) => promise.then((result) => ({ result }), (error) => ({ error: { code: error.code, message: error.message } }));
</script>
<script src="/ext/background.js"></script>
<script>window.background = createBackground(browser);</script>
<script src="/ext/content.js"></script>
</head><body><p>a site</p></body></html>"##;

/// The page that plays the popup's window: the extension APIs popup.js uses (its settings name
/// this origin as the node, whose `/rpc/` the harness passes on to the real server), the request
/// from the query string, and a record of what the popup sends the background.
const POPUP: &str = r##"<!doctype html>
<html lang="en" class="dark"><head><meta charset="utf-8"><title>popup harness</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/ext/wallet.css">
<script>
  const query = new URLSearchParams(location.search);
  const request = query.get("request") ? JSON.parse(query.get("request")) : null;
  window.sent = [];
  window.close = () => { window.closedByWallet = true; };
  globalThis.browser = {
    storage: { local: { get: async () => ({ node: location.origin }) } },
    runtime: { sendMessage: async (message) => {
      window.sent.push(JSON.parse(JSON.stringify(message)));
      if (message.kind === "pending") return request ? { result: request } : { error: { code: "NOT_FOUND" } };
      if (message.kind === "approvals") return { result: ["https://shop.example"] };
      return { result: true };
    } },
  };
  window.answer = () => window.sent.find((m) => m.kind === "respond") ?? null;
</script>
<script type="module" src="/ext/popup.js"></script>
</head><body></body></html>"##;

/// Serves the harness at `/`, the popup's at `/popup`, the built extension under `/ext/`, and
/// `/rpc/…` passed on to `node` when given.
async fn serve(dir: PathBuf, node: Option<String>) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let proxy = move |method: axum::http::Method,
                      axum::extract::Path(rest): axum::extract::Path<String>,
                      axum::extract::RawQuery(query): axum::extract::RawQuery,
                      body: axum::body::Bytes| {
        let (http, node) = (http.clone(), node.clone());
        async move {
            let Some(node) = node else {
                return (axum::http::StatusCode::NOT_FOUND, String::new());
            };
            let mut url = format!("{node}/rpc/{rest}");
            if let Some(query) = query {
                url = format!("{url}?{query}");
            }
            let sent = http
                .request(method, url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = axum::http::StatusCode::from_u16(response.status().as_u16())
                        .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
                    (status, response.text().await.unwrap_or_default())
                }
                Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()),
            }
        }
    };
    let app = Router::new()
        .route("/", axum::routing::get(|| async { Html(HARNESS) }))
        .route("/popup", axum::routing::get(|| async { Html(POPUP) }))
        .route("/rpc/{*rest}", axum::routing::any(proxy))
        .route(
            "/ext/{file}",
            axum::routing::get(
                move |axum::extract::Path(file): axum::extract::Path<String>| {
                    let dir = dir.clone();
                    async move {
                        let kind = if file.ends_with(".js") {
                            "text/javascript"
                        } else if file.ends_with(".wasm") {
                            "application/wasm"
                        } else if file.ends_with(".css") {
                            "text/css"
                        } else {
                            "application/octet-stream"
                        };
                        match std::fs::read(dir.join(file.replace('/', ""))) {
                            Ok(bytes) => (
                                axum::http::StatusCode::OK,
                                [(axum::http::header::CONTENT_TYPE, kind)],
                                bytes,
                            ),
                            Err(_) => (
                                axum::http::StatusCode::NOT_FOUND,
                                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                                Vec::new(),
                            ),
                        }
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Starts `call` (a provider call, JavaScript) in the page; returns a name to await it by.
async fn start(tab: &Tab, name: &str, call: &str) -> anyhow::Result<()> {
    tab.eval::<Value>(&format!("window.{name} = settle({call}); true"))
        .await?;
    Ok(())
}

async fn outcome(tab: &Tab, name: &str) -> anyhow::Result<Value> {
    tab.eval(&format!("window.{name}")).await
}

/// What the popup would do: read the pending request, then answer it with `answer`.
async fn popup_answers(tab: &Tab, answer: Value) -> anyhow::Result<Value> {
    let request: Value = tab
        .eval("window.fromPopup({ kind: 'pending', id: lastRequest() })")
        .await?;
    let id = request["result"]["id"]
        .as_str()
        .context("no pending request")?
        .to_owned();
    let mut message = answer;
    message["kind"] = json!("respond");
    message["id"] = json!(id);
    tab.eval::<Value>(&format!("window.fromPopup({message})"))
        .await?;
    Ok(request["result"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_asks_the_popup_before_it_connects_signs_or_sends() -> anyhow::Result<()> {
    let dir = built()?;
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    assert_eq!(manifest["manifest_version"], 3);
    assert!(manifest["browser_specific_settings"]["gecko"]["id"].is_string());
    assert_eq!(
        manifest["content_security_policy"]["extension_pages"],
        "script-src 'self' 'wasm-unsafe-eval'; object-src 'none'"
    );
    for file in [
        "popup.html",
        "popup.js",
        "wallet_ui.js",
        "wallet_ui_bg.wasm",
        "wallet.css",
    ] {
        assert!(dir.join(file).exists(), "{file} is not in the package");
    }
    assert!(
        dir.parent().map(|p| p.join("aitbc-wallet.xpi").exists()) == Some(true),
        "no .xpi beside the built folder"
    );

    let url = serve(dir, None).await?;
    let browser = Browser::launch(1024, 768).await?;
    let tab = browser.open(&format!("{url}/")).await?;
    tab.wait_for("typeof window.aitbcWallet === 'object'", WAIT)
        .await?;
    assert!(tab.eval::<bool>("window.aitbcWallet.isAvailable()").await?);

    // Nothing before the site is connected.
    start(&tab, "account", "aitbcWallet.getAccount()").await?;
    let refused = wait_outcome(&tab, "account").await?;
    assert_eq!(refused["error"]["code"], "NOT_CONNECTED", "{refused}");

    // connect() opens the popup, which names the site; the approval gives the site the address.
    let key = SecretKey::from_seed(&[5; 32]);
    let address = Address::of(&key.public_key()).to_string();
    start(&tab, "connected", "aitbcWallet.connect()").await?;
    tab.wait_for("window.opened.length === 1", WAIT).await?;
    let asked = popup_answers(&tab, json!({ "result": { "address": address } })).await?;
    assert_eq!(
        asked["origin"],
        url.as_str(),
        "the popup is told which site asks"
    );
    assert_eq!(asked["method"], "connect");
    let connected = wait_outcome(&tab, "connected").await?;
    assert_eq!(
        connected["result"]["address"],
        address.as_str(),
        "{connected}"
    );
    // Remembered: no second popup.
    start(&tab, "again", "aitbcWallet.connect()").await?;
    let again = wait_outcome(&tab, "again").await?;
    assert_eq!(again["result"]["address"], address.as_str());
    assert_eq!(tab.eval::<u64>("window.opened.length").await?, 1);
    start(&tab, "account", "aitbcWallet.getAccount()").await?;
    assert_eq!(
        wait_outcome(&tab, "account").await?["result"]["address"],
        address.as_str()
    );

    // signMessage: the popup shows the message and answers with the signature.
    start(
        &tab,
        "signed",
        "aitbcWallet.signMessage('pay 3 AITBC to Bob')",
    )
    .await?;
    tab.wait_for("window.opened.length === 2", WAIT).await?;
    let signature = types::message::sign(&key, "pay 3 AITBC to Bob").to_hex();
    let asked = popup_answers(
        &tab,
        json!({ "result": { "signature": signature, "public_key": key.public_key().to_hex() } }),
    )
    .await?;
    assert_eq!(asked["params"]["message"], "pay 3 AITBC to Bob");
    let signed = wait_outcome(&tab, "signed").await?;
    assert_eq!(signed["result"]["signature"], signature.as_str());

    // A declined transfer reaches the site as a rejection.
    start(
        &tab,
        "sent",
        "aitbcWallet.sendTransaction('ait1xyz', '2.5')",
    )
    .await?;
    tab.wait_for("window.opened.length === 3", WAIT).await?;
    let asked = popup_answers(
        &tab,
        json!({ "error": { "code": "REJECTED", "message": "the person declined" } }),
    )
    .await?;
    assert_eq!(asked["params"]["amount"], "2.5");
    let sent = wait_outcome(&tab, "sent").await?;
    assert_eq!(sent["error"]["code"], "REJECTED", "{sent}");

    // The wallet switches account: the connected site hears of it.
    tab.eval::<Value>(
        "window.changed = null; window.addEventListener('aitbcAccountsChanged', (e) => { window.changed = e.detail.address; }); true",
    )
    .await?;
    let other = Address::of(&SecretKey::from_seed(&[6; 32]).public_key()).to_string();
    tab.eval::<Value>(&format!(
        "window.fromPopup({{ kind: 'account', address: '{other}' }})"
    ))
    .await?;
    tab.wait_for(&format!("window.changed === '{other}'"), WAIT)
        .await?;

    // The page cannot answer for the wallet, nor list or revoke approvals.
    let forged: Value = tab
        .eval("browser.runtime.sendMessage({ kind: 'respond', id: '1', result: { address: 'x' } })")
        .await?;
    assert_eq!(forged["error"]["code"], "FORBIDDEN", "{forged}");

    // Revoked in the wallet: the site is disconnected.
    let approved: Value = tab.eval("window.fromPopup({ kind: 'approvals' })").await?;
    assert_eq!(approved["result"], json!([url]));
    tab.eval::<Value>(&format!(
        "window.fromPopup({{ kind: 'revoke', origin: '{url}' }})"
    ))
    .await?;
    start(&tab, "account", "aitbcWallet.getAccount()").await?;
    assert_eq!(
        wait_outcome(&tab, "account").await?["error"]["code"],
        "NOT_CONNECTED"
    );
    let problems = tab.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    Ok(())
}

/// The settled outcome of the call started as `name`.
async fn wait_outcome(tab: &Tab, name: &str) -> anyhow::Result<Value> {
    tab.eval::<Value>(&format!(
        "window.{name}.then((o) => {{ window.{name}_done = o; }}); true"
    ))
    .await?;
    tab.wait_for(&format!("window.{name}_done !== undefined"), WAIT)
        .await?;
    let done = outcome(tab, &format!("{name}_done")).await?;
    tab.eval::<Value>(&format!("window.{name}_done = undefined; true"))
        .await?;
    Ok(done)
}

/// Opens the popup as the background would for `method` with `params`, asked by a shop's site.
async fn popup(browser: &Browser, url: &str, method: &str, params: Value) -> anyhow::Result<Tab> {
    let request =
        json!({ "id": "7", "origin": "https://shop.example", "method": method, "params": params });
    let query: String = request
        .to_string()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    browser
        .open(&format!("{url}/popup?request={query}#request=7"))
        .await
}

/// The popup's answer to its request, once sent; it then closes itself.
async fn popup_answer(tab: &Tab) -> anyhow::Result<Value> {
    tab.wait_for("window.answer() !== null", WAIT).await?;
    tab.wait_for("window.closedByWallet === true", WAIT).await?;
    tab.eval("window.answer()").await
}

/// Unlocks the popup's wallet.
async fn unlock(tab: &Tab, password: &str) -> anyhow::Result<()> {
    tab.wait_for("document.querySelector('#unlock-password') !== null", WAIT)
        .await?;
    tab.type_into("#unlock-password", password).await?;
    tab.click("#unlock-submit").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_popup_shows_who_asks_and_answers_with_the_key_it_holds() -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let server = tests::Server::start().await?;
    let url = serve(built()?, Some(server.url.clone())).await?;
    let browser = Browser::launch(480, 800).await?;
    let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
    let secret = wallet::Secret::mnemonic(&wallet::Mnemonic::parse(phrase)?);
    let account = secret.account(0)?;
    let password = "popup test password";

    // A site asks to connect; the popup holds no wallet yet: one is imported, then approved.
    let tab = popup(&browser, &url, "connect", json!({})).await?;
    tab.wait_for(
        "document.querySelector('#wallet-tab-import') !== null",
        WAIT,
    )
    .await?;
    tab.click("#wallet-tab-import").await?;
    tab.type_into("#import-phrase", phrase).await?;
    tab.type_into("#import-password", password).await?;
    tab.click("#import-submit").await?;
    tab.wait_for("document.querySelector('#approval') !== null", WAIT)
        .await?;
    assert_eq!(tab.text("#approval-origin").await?, "https://shop.example");
    tab.click("#approval-accept").await?;
    let answer = popup_answer(&tab).await?;
    assert_eq!(answer["id"], "7");
    assert_eq!(
        answer["result"]["address"],
        account.address().to_string(),
        "{answer}"
    );
    let told: Value = tab
        .eval("window.sent.filter((m) => m.kind === 'account')")
        .await?;
    assert_eq!(
        told[0]["address"],
        account.address().to_string(),
        "the background hears which account is current"
    );
    let problems = tab.problems();
    assert!(problems.is_empty(), "console problems: {problems:#?}");

    // A message to sign: shown, then signed with the account's key once unlocked.
    let tab = popup(
        &browser,
        &url,
        "signMessage",
        json!({ "message": "order 42: pay 3 AITBC" }),
    )
    .await?;
    unlock(&tab, password).await?;
    tab.wait_for("document.querySelector('#approval-message') !== null", WAIT)
        .await?;
    assert_eq!(
        tab.text("#approval-message").await?.trim(),
        "order 42: pay 3 AITBC"
    );
    tab.click("#approval-accept").await?;
    let answer = popup_answer(&tab).await?;
    let signature =
        types::Signature::from_hex(answer["result"]["signature"].as_str().unwrap_or_default())?;
    assert!(
        types::message::verify(&account.public_key(), "order 42: pay 3 AITBC", &signature).is_ok()
    );

    // The connected sites, listed in the popup, each revocable.
    tab.wait_for(
        "document.querySelector('#connected-sites li[data-origin=\"https://shop.example\"] button') !== null",
        WAIT,
    )
    .await?;
    tab.click("#connected-sites li[data-origin=\"https://shop.example\"] button")
        .await?;
    tab.wait_for(
        "window.sent.some((m) => m.kind === 'revoke' && m.origin === 'https://shop.example')",
        WAIT,
    )
    .await?;

    // A sign-in challenge of another site, passed on by this one: shown as a sign-in, and
    // refused (a site could otherwise sign its visitors in elsewhere).
    let foreign = types::message::SignIn {
        domain: "bank.example".into(),
        address: account.address(),
        chain_id: "aitbc-devnet".into(),
        nonce: "0123456789abcdef".into(),
        issued_at: "2026-11-26T12:00:00Z".into(),
        expires_at: "2026-11-26T12:05:00Z".into(),
    }
    .message();
    let tab = popup(&browser, &url, "signMessage", json!({ "message": foreign })).await?;
    unlock(&tab, password).await?;
    tab.wait_for("document.querySelector('#approval-warning') !== null", WAIT)
        .await?;
    assert!(
        tab.text("#approval-sign-in")
            .await?
            .contains("bank.example")
    );
    assert!(
        tab.eval::<bool>("document.querySelector('#approval-accept').disabled")
            .await?,
        "a foreign sign-in can be approved"
    );

    // A transfer: its fee shown, then signed here and sent to the node; it lands on chain.
    stack::fund(&http, &server, account.address(), 10_000_000).await?;
    let to = Address::of(&SecretKey::from_seed(&[8; 32]).public_key());
    let tab = popup(
        &browser,
        &url,
        "sendTransaction",
        json!({ "to": to.to_string(), "amount": "3" }),
    )
    .await?;
    unlock(&tab, password).await?;
    tab.wait_for("document.querySelector('#approval-fee') !== null", WAIT)
        .await?;
    tab.click("#approval-accept").await?;
    let answer = popup_answer(&tab).await?;
    let hash = answer["result"]["hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    stack::included(&http, &server, &hash).await?;
    assert_eq!(stack::account(&http, &server, &to).await?.0, 3_000_000);
    Ok(())
}
