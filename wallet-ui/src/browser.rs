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
