//! The Firefox extension's provider protocol, in Chromium against the built files (`./x extension`): Chromium cannot run a Firefox extension, so a page plays the extension APIs (runtime messages, storage, windows) with the same messages, and loads the built background, content and provider scripts. A site connects only after the popup approves, the approval is remembered and revocable, a signature and a declined request reach the site as they should, the site is told of account changes, and a page cannot answer for the wallet.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use axum::{Router, response::Html};
use serde_json::{Value, json};
use tests::{Browser, Tab};
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

/// Serves the harness at `/` and the built extension under `/ext/`.
async fn serve(dir: PathBuf) -> anyhow::Result<String> {
    let app = Router::new()
        .route("/", axum::routing::get(|| async { Html(HARNESS) }))
        .route(
            "/ext/{file}",
            axum::routing::get(
                move |axum::extract::Path(file): axum::extract::Path<String>| {
                    let dir = dir.clone();
                    async move {
                        let kind = if file.ends_with(".js") {
                            "text/javascript"
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

    let url = serve(dir).await?;
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
