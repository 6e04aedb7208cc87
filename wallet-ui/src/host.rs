//! Where the wallet UI runs: the `/wallet/` page (the chain's RPC on its own origin, nobody else to answer), or the Firefox extension's popup, which reaches a node by its URL, may have been opened to answer a site's request, and tells the extension's background which account is current.

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

/// Answers the site's request `id` and closes the popup.
pub fn answer(id: &str, outcome: Result<Value, (&str, String)>) {
    let message = match outcome {
        Ok(result) => serde_json::json!({ "kind": "respond", "id": id, "result": result }),
        Err((code, message)) => {
            serde_json::json!({ "kind": "respond", "id": id, "error": { "code": code, "message": message } })
        }
    };
    tell(&message);
    #[cfg(feature = "csr")]
    if let Some(window) = web_sys::window() {
        // After the message is on its way.
        set_timeout(
            move || {
                let _ = window.close();
            },
            std::time::Duration::from_millis(200),
        );
    }
}
