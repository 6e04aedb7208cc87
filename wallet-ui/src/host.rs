//! Where the wallet UI runs and whom it answers: the Firefox extension's popup (a node reached by its URL, a site's request relayed by the background, which also hears which account is current), or the `/wallet/` page, which another page of this site (the marketplace, the exchange) may open to sign its user in (`/wallet/#sign-in=<id>`), and which answers on a channel only this site's pages can hear.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A site's request that the popup was opened to answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteRequest {
    pub id: String,
    /// The asking site, as the background saw it (`https://example.org`).
    pub origin: String,
    /// `connect`, `signMessage` or `sendTransaction`.
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

/// The request this popup answers, if any; provided by the popup only.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    pub request: RwSignal<Option<SiteRequest>>,
}

/// The request the page or popup was opened for.
pub fn request() -> Option<RwSignal<Option<SiteRequest>>> {
    use_context::<Host>().map(|h| h.request)
}

#[cfg(feature = "csr")]
thread_local! {
    /// `browser.runtime.sendMessage`, handed over by popup.js.
    static BRIDGE: std::cell::RefCell<Option<js_sys::Function>> = const { std::cell::RefCell::new(None) };
}

#[cfg(feature = "csr")]
pub fn set_bridge(bridge: js_sys::Function) {
    BRIDGE.with(|b| *b.borrow_mut() = Some(bridge));
}

/// Sends `message` to the extension's background; nothing on the page.
pub fn tell(message: &Value) {
    #[cfg(feature = "csr")]
    BRIDGE.with(|bridge| {
        if let (Some(bridge), Ok(value)) = (
            bridge.borrow().as_ref(),
            js_sys::JSON::parse(&message.to_string()),
        ) {
            let _ = bridge.call1(&wasm_bindgen::JsValue::NULL, &value);
        }
    });
    #[cfg(not(feature = "csr"))]
    let _ = message;
}

/// A sign-in asked of this `/wallet/` page by another page of this site
/// (`/wallet/#sign-in=<id>`): always for this site's own origin, since only its pages hear the
/// answer.
pub fn page_request() -> Option<SiteRequest> {
    #[cfg(feature = "hydrate")]
    {
        let location = web_sys::window()?.location();
        let id = location.hash().ok()?.strip_prefix("#sign-in=")?.to_owned();
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(SiteRequest {
            id,
            origin: location.origin().ok()?,
            method: "signIn".into(),
            params: Value::Null,
        })
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The channel the `/wallet/` page answers on (a `BroadcastChannel`: only pages of this origin
/// hear it), and the type of its answers.
#[cfg(feature = "browser")]
pub const PAGE_CHANNEL: &str = "aitbc-wallet";
#[cfg(feature = "browser")]
pub const PAGE_ANSWER: &str = "aitbc-wallet-answer";

/// Asks the extension's background and returns its answer; an error on the page.
pub async fn ask(message: &Value) -> Result<Value, String> {
    #[cfg(feature = "csr")]
    {
        use wasm_bindgen::JsCast;
        let promise = BRIDGE
            .with(|bridge| {
                let value = js_sys::JSON::parse(&message.to_string()).ok()?;
                bridge
                    .borrow()
                    .as_ref()?
                    .call1(&wasm_bindgen::JsValue::NULL, &value)
                    .ok()
            })
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
            .ok_or("no extension to ask")?;
        let answer = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|_| "the extension did not answer")?;
        let text = js_sys::JSON::stringify(&answer)
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = message;
        Err("not in the extension".into())
    }
}

/// Answers the request `id` (to the extension's background, or to the page that opened this
/// one) and closes the window.
pub fn answer(id: &str, outcome: Result<Value, (&str, String)>) {
    let message = match outcome {
        Ok(result) => serde_json::json!({ "kind": "respond", "id": id, "result": result }),
        Err((code, message)) => {
            serde_json::json!({ "kind": "respond", "id": id, "error": { "code": code, "message": message } })
        }
    };
    // The extension: closed once the background took the answer, or its closing would reach
    // the site first, as a refusal of what was just done.
    #[cfg(feature = "csr")]
    leptos::task::spawn_local(async move {
        let _ = ask(&message).await;
        if let Some(window) = web_sys::window() {
            let _ = window.close();
        }
    });
    #[cfg(feature = "hydrate")]
    if let Ok(channel) = web_sys::BroadcastChannel::new(PAGE_CHANNEL) {
        let mut message = message;
        message["type"] = serde_json::json!(PAGE_ANSWER);
        if let Ok(value) = js_sys::JSON::parse(&message.to_string()) {
            // Delivered to this origin's pages as it is posted.
            let _ = channel.post_message(&value);
        }
        channel.close();
        if let Some(window) = web_sys::window() {
            let _ = window.close();
        }
    }
    #[cfg(not(feature = "browser"))]
    let _ = message;
}
