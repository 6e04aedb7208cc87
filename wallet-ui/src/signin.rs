//! "Sign in with your wallet" for the other UIs (marketplace, exchange): the wallet signs the coordinator's sign-in challenge, through the extension when it is installed (`window.aitbcWallet`: connect, then signMessage, which its popup shows as a sign-in), else through the `/wallet/` page opened beside this one, which asks its user and answers on a channel only this site's pages hear, naming the request. The session token is kept for this tab.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::browser;

/// Where this tab keeps its session: the token and the address.
const SESSION: &str = "aitbc-session";

#[component]
pub fn SignIn() -> impl IntoView {
    let who = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(session) =
            browser::session_get(SESSION).and_then(|text| serde_json::from_str::<Value>(&text).ok())
            && let Some(address) = session["wallet_address"].as_str()
        {
            who.set(Some(address.to_owned()));
        }
    });
    let sign_in = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match sign_in().await {
                Ok(address) => who.set(Some(address)),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <div id="wallet-sign-in-box" class="mt-4 text-sm">
            {move || match who.get() {
                Some(address) => view! {
                    <p id="signed-in-as" data-address=address.clone()>
                        "Signed in as " <span class="font-mono">{address.clone()}</span>
                    </p>
                }
                .into_any(),
                None => view! {
                    <button
                        id="wallet-sign-in"
                        type="button"
                        class="rounded border border-line px-3 py-1"
                        disabled=move || busy.get()
                        on:click=sign_in
                    >
                        "Sign in with your wallet"
                    </button>
                }
                .into_any(),
            }}
            <p id="sign-in-error" class="mt-2 text-red-600" hidden=move || error.get().is_none()>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
}

/// The whole sign-in; returns the signed-in address.
async fn sign_in() -> Result<String, String> {
    let signed = match browser::extension_provider() {
        Some(_) => through_extension().await?,
        None => browser::ask_wallet_page().await?,
    };
    let field = |name: &str| signed[name].as_str().unwrap_or_default().to_owned();
    let session = browser::post(
        "/v1/users/login",
        &json!({
            "wallet_address": field("address"),
            "public_key": field("public_key"),
            "nonce": field("nonce"),
            "signature": field("signature"),
        }),
    )
    .await?;
    browser::session_set(SESSION, &session.to_string());
    Ok(field("address"))
}

/// Connect, fetch the challenge for the account, have the extension sign it.
async fn through_extension() -> Result<Value, String> {
    let connected = browser::extension_call("connect", &[]).await?;
    let address = connected["address"]
        .as_str()
        .ok_or("the wallet did not connect")?
        .to_owned();
    let challenge =
        browser::post("/v1/users/challenge", &json!({ "wallet_address": address })).await?;
    let message = challenge["message"].as_str().unwrap_or_default();
    let signed = browser::extension_call("signMessage", &[message]).await?;
    Ok(json!({
        "address": address,
        "public_key": signed["public_key"],
        "signature": signed["signature"],
        "nonce": challenge["nonce"],
    }))
}
