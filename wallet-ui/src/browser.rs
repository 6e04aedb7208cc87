//! What the wallet page needs from the browser: secure randomness, the page's storage (where the keystore, ciphertext only, is kept), the clock, and the chain's RPC over HTTP. Outside the browser (the server's render) these answer "not here": no handler that calls them runs there.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wallet::Keystore;

/// What this page keeps in the browser's storage: the encrypted keystore and how many accounts
/// the person made. Nothing secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub keystore: Keystore,
    pub accounts: u32,
}

/// The storage key.
const KEY: &str = "aitbc-wallet";

/// `N` bytes from the browser's cryptographic random source.
pub fn random<const N: usize>() -> Option<[u8; N]> {
    #[cfg(feature = "browser")]
    {
        let mut bytes = [0u8; N];
        let crypto = web_sys::window()?.crypto().ok()?;
        crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
        Some(bytes)
    }
    #[cfg(not(feature = "browser"))]
    None
}

#[cfg(feature = "browser")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The stored wallet, if this browser holds one.
pub fn load() -> Option<Stored> {
    #[cfg(feature = "browser")]
    {
        let text = storage()?.get_item(KEY).ok()??;
        serde_json::from_str(&text).ok()
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = KEY;
        None
    }
}

/// Keeps `stored`; false if the browser refused (private mode, storage full).
pub fn save(stored: &Stored) -> bool {
    #[cfg(feature = "browser")]
    {
        let Ok(text) = serde_json::to_string(stored) else {
            return false;
        };
        storage().is_some_and(|s| s.set_item(KEY, &text).is_ok())
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = stored;
        false
    }
}

/// Removes the stored wallet.
pub fn forget() {
    #[cfg(feature = "browser")]
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "browser"))]
    0.0
}

#[cfg(feature = "browser")]
thread_local! {
    /// Where the chain's RPC is: empty on the page (its own origin), a node's URL in the
    /// extension's popup.
    static BASE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Sends the RPC calls to the node at `url` rather than to this page's origin.
#[cfg(feature = "csr")]
pub fn set_base(url: &str) {
    BASE.with(|b| *b.borrow_mut() = url.trim_end_matches('/').to_owned());
}

#[cfg(feature = "browser")]
fn at(path: &str) -> String {
    BASE.with(|b| format!("{}{path}", b.borrow()))
}

/// `GET path` of the chain's RPC as JSON.
pub async fn get(path: &str) -> Result<Value, String> {
    #[cfg(feature = "browser")]
    {
        let response = gloo_net::http::Request::get(&at(path))
            .send()
            .await
            .map_err(|e| format!("the server cannot be reached: {e}"))?;
        answer(response).await
    }
    #[cfg(not(feature = "browser"))]
    Err(format!("{path}: only in the browser"))
}

/// `POST path` of the chain's RPC with a JSON body.
pub async fn post(path: &str, body: &Value) -> Result<Value, String> {
    #[cfg(feature = "browser")]
    {
        let response = gloo_net::http::Request::post(&at(path))
            .json(body)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| format!("the server cannot be reached: {e}"))?;
        answer(response).await
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = body;
        Err(format!("{path}: only in the browser"))
    }
}

/// A response's JSON, or the message of its structured error.
#[cfg(feature = "browser")]
async fn answer(response: gloo_net::http::Response) -> Result<Value, String> {
    let ok = response.ok();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if ok {
        Ok(body)
    } else {
        Err(body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the server answered {status}"), str::to_owned))
    }
}

/// The text of the file chosen in the file input of `event`.
pub async fn chosen_file(event: &leptos::ev::Event) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        use wasm_bindgen::JsCast;
        let input: web_sys::HtmlInputElement = event.target()?.dyn_into().ok()?;
        let file = input.files()?.get(0)?;
        let text = wasm_bindgen_futures::JsFuture::from(file.text())
            .await
            .ok()?;
        text.as_string()
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = event;
        None
    }
}

/// A value of this tab's session storage.
pub fn session_get(key: &str) -> Option<String> {
    #[cfg(feature = "browser")]
    {
        web_sys::window()?
            .session_storage()
            .ok()??
            .get_item(key)
            .ok()?
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = key;
        None
    }
}

pub fn session_set(key: &str, value: &str) {
    #[cfg(feature = "browser")]
    if let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = storage.set_item(key, value);
    }
    #[cfg(not(feature = "browser"))]
    let _ = (key, value);
}

/// The extension's provider (`window.aitbcWallet`), when the extension is installed.
#[cfg(feature = "browser")]
pub fn extension_provider() -> Option<wasm_bindgen::JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"aitbcWallet".into())
        .ok()
        .filter(|p| p.is_object())
}

#[cfg(not(feature = "browser"))]
pub fn extension_provider() -> Option<()> {
    None
}

/// Calls `method` of the extension's provider with `args`; its answer as JSON.
pub async fn extension_call(method: &str, args: &[&str]) -> Result<Value, String> {
    #[cfg(feature = "browser")]
    {
        use wasm_bindgen::JsCast;
        let provider = extension_provider().ok_or("no wallet extension")?;
        let function: js_sys::Function = js_sys::Reflect::get(&provider, &method.into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| format!("the wallet extension has no {method}"))?;
        let list = js_sys::Array::new();
        for arg in args {
            list.push(&(*arg).into());
        }
        let promise: js_sys::Promise = function
            .apply(&provider, &list)
            .ok()
            .and_then(|p| p.dyn_into().ok())
            .ok_or("the wallet extension did not answer")?;
        let answer = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| {
                js_sys::Reflect::get(&e, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "the wallet declined".into())
            })?;
        let text = js_sys::JSON::stringify(&answer)
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = (method, args);
        Err("only in the browser".into())
    }
}

/// Opens the `/wallet/` page beside this one to sign in, and waits for its answer (on a channel
/// only this origin's pages hear, naming this request), or for it to be closed unanswered.
pub async fn ask_wallet_page() -> Result<Value, String> {
    #[cfg(feature = "browser")]
    {
        use std::{cell::RefCell, rc::Rc};

        use wasm_bindgen::{JsCast, closure::Closure};
        let window = web_sys::window().ok_or("no window")?;
        let id = hex_id().ok_or("this browser offers no secure random numbers")?;
        let channel = web_sys::BroadcastChannel::new(crate::host::PAGE_CHANNEL)
            .map_err(|_| "this browser cannot hear the wallet's answer")?;
        let popup = window
            .open_with_url_and_target_and_features(
                &format!("/wallet/#sign-in={id}"),
                "_blank",
                "popup,width=480,height=760",
            )
            .ok()
            .flatten()
            .ok_or("the browser blocked the wallet's window: allow pop-ups for this site")?;
        let (sender, answer) = futures::channel::oneshot::channel::<Result<Value, String>>();
        let sender = Rc::new(RefCell::new(Some(sender)));
        let on_message = {
            let sender = sender.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let text = js_sys::JSON::stringify(&event.data())
                    .ok()
                    .and_then(|t| t.as_string())
                    .unwrap_or_default();
                let Ok(message) = serde_json::from_str::<Value>(&text) else {
                    return;
                };
                if message["type"] != crate::host::PAGE_ANSWER || message["id"] != id.as_str() {
                    return;
                }
                let outcome = match message.get("result") {
                    Some(result) if !result.is_null() => Ok(result.clone()),
                    _ => Err(message["error"]["message"]
                        .as_str()
                        .unwrap_or("the wallet declined")
                        .to_owned()),
                };
                if let Some(sender) = sender.borrow_mut().take() {
                    let _ = sender.send(outcome);
                }
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Closed without an answer: stop waiting.
        let watcher = {
            let sender = sender.clone();
            leptos::prelude::set_interval_with_handle(
                move || {
                    if popup.closed().unwrap_or(true)
                        && let Some(sender) = sender.borrow_mut().take()
                    {
                        let _ = sender.send(Err("the wallet was closed without signing".into()));
                    }
                },
                std::time::Duration::from_millis(500),
            )
        };
        let outcome = answer
            .await
            .unwrap_or_else(|_| Err("no answer from the wallet".into()));
        if let Ok(watcher) = watcher {
            watcher.clear();
        }
        channel.set_onmessage(None);
        channel.close();
        outcome
    }
    #[cfg(not(feature = "browser"))]
    Err("only in the browser".into())
}

/// 16 random bytes in hex: a request's id.
#[cfg(feature = "browser")]
fn hex_id() -> Option<String> {
    Some(random::<16>()?.iter().map(|b| format!("{b:02x}")).collect())
}
