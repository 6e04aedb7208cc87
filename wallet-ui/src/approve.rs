//! The approval screen of the extension's popup: which site asks, and what (to connect and see the current address, to sign a message, to send a transfer with its fee and the balance after); approved, the answer is made here with the key (a signature, a signed and sent transfer) and goes back to the site through the background; declined, the site hears so.

use leptos::prelude::*;
use serde_json::json;
use types::{Address, Amount};
use wallet::{FeeSchedule, preview};

use crate::{
    BUTTON, SECONDARY, browser,
    host::{self, SiteRequest},
    open::Funds,
    state,
};

#[component]
pub fn Approve(
    request: SiteRequest,
    funds: RwSignal<Option<Funds>>,
    chain: RwSignal<Option<(String, FeeSchedule)>>,
    address: Memo<Option<Address>>,
) -> impl IntoView {
    let state = state();
    let done = RwSignal::new(false);
    let id = request.id.clone();
    let message = request.params["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let to = request.params["to"].as_str().unwrap_or_default().to_owned();
    let amount = request.params["amount"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| request.params["amount"].as_f64().map(|a| a.to_string()))
        .unwrap_or_default();
    let method = request.method.clone();
    // A sign-in challenge (to sign in with the `/wallet/` page, fetched here; through the
    // extension, the message the site sends), read as the fixed text it is.
    let challenge = RwSignal::new(None::<Result<(types::message::SignIn, String), String>>);
    let address_now = move || address.get_untracked();
    if method == "signIn" {
        Effect::new(move |_| {
            let Some(address) = address.get() else {
                return;
            };
            leptos::task::spawn_local(async move {
                let asked = browser::post(
                    "/v1/users/challenge",
                    &json!({ "wallet_address": address.to_string() }),
                )
                .await
                .and_then(|c| {
                    let message = c["message"].as_str().unwrap_or_default().to_owned();
                    types::message::SignIn::parse(&message)
                        .map(|parsed| (parsed, message))
                        .ok_or_else(|| "the server's challenge is not a sign-in".to_owned())
                });
                // An answer for an account no longer shown is dropped.
                if address_now() == Some(address) {
                    challenge.set(Some(asked));
                }
            });
        });
    } else if method == "signMessage"
        && let Some(parsed) = types::message::SignIn::parse(&message)
    {
        challenge.set(Some(Ok((parsed, message.clone()))));
    }
    // A sign-in for another site than the one asking is refused: a site could otherwise pass
    // on another's challenge and sign in there as this account.
    // Also refused: a sign-in as another account than the one shown.
    let foreign = {
        let origin = request.origin.clone();
        move || {
            challenge.with(|c| match c {
                Some(Ok((sign_in, _))) => {
                    let host = origin.split_once("://").map_or(origin.as_str(), |(_, h)| h);
                    if sign_in.domain != host {
                        Some(format!(
                            "Refused: this sign-in is for {}, not for the site that asks.",
                            sign_in.domain
                        ))
                    } else if Some(sign_in.address) != address.get() {
                        Some(format!(
                            "Refused: this sign-in is for the account {}, not the one open here.",
                            sign_in.address
                        ))
                    } else {
                        None
                    }
                }
                _ => None,
            })
        }
    };
    // What a transfer would do, for the person to see before approving.
    let transfer = Memo::new({
        let (to, amount, method) = (to.clone(), amount.clone(), method.clone());
        move |_| {
            if method != "sendTransaction" {
                return None;
            }
            let (funds, (chain_id, fees)) = (funds.get()?, chain.get()?);
            let session = state.session.get()?;
            let account = session.secret.account(session.current as u32).ok()?;
            Some(
                preview::transfer(
                    &chain_id,
                    account.public_key(),
                    Amount(funds.balance),
                    funds.next_nonce,
                    &to,
                    &amount,
                    fees,
                )
                .map_err(|e| e.to_string()),
            )
        }
    });
    let accept = {
        let (id, method, message) = (id.clone(), method.clone(), message.clone());
        let foreign = foreign.clone();
        move |_| {
            if done.get_untracked() {
                return;
            }
            let Some(session) = state.session.get_untracked() else {
                return;
            };
            let Ok(account) = session.secret.account(session.current as u32) else {
                return;
            };
            if foreign().is_some() {
                return;
            }
            done.set(true);
            match method.as_str() {
                "connect" => host::answer(&id, Ok(json!({ "address": account.address() }))),
                "signIn" => {
                    let Some(Ok((sign_in, text))) = challenge.get_untracked() else {
                        return done.set(false);
                    };
                    let signature = types::message::sign(&account.key, &text);
                    host::answer(
                        &id,
                        Ok(json!({
                            "address": account.address(),
                            "public_key": account.public_key().to_hex(),
                            "signature": signature.to_hex(),
                            "nonce": sign_in.nonce,
                        })),
                    );
                }
                "signMessage" => {
                    let signature = types::message::sign(&account.key, &message);
                    host::answer(
                        &id,
                        Ok(json!({
                            "signature": signature.to_hex(),
                            "public_key": account.public_key().to_hex(),
                            "address": account.address(),
                        })),
                    );
                }
                "sendTransaction" => {
                    let signed = match transfer.get_untracked() {
                        Some(Ok(preview)) => preview.sign(&account.key),
                        _ => return done.set(false),
                    };
                    let Ok(signed) = signed else {
                        return done.set(false);
                    };
                    let Ok(body) = serde_json::to_value(&signed) else {
                        return;
                    };
                    let id = id.clone();
                    leptos::task::spawn_local(async move {
                        match browser::post("/rpc/sendTx", &body).await {
                            Ok(sent) => host::answer(
                                &id,
                                Ok(json!({ "hash": sent["tx_hash"], "status": "pending" })),
                            ),
                            Err(e) => {
                                done.set(false);
                                state.fail(e);
                            }
                        }
                    });
                }
                other => host::answer(
                    &id,
                    Err(("UNKNOWN_METHOD", format!("unknown method {other}"))),
                ),
            }
        }
    };
    let decline = {
        let id = id.clone();
        move |_| {
            done.set(true);
            host::answer(&id, Err(("REJECTED", "the person declined".to_owned())));
        }
    };
    let what = match method.as_str() {
        "connect" => view! {
            <p>
                "wants to connect: it will see your address "
                <span class="font-mono">{move || address.get().map(|a| a.to_string())}</span>
                " and may ask you to sign and send."
            </p>
        }
        .into_any(),
        "signIn" | "signMessage" if challenge.with_untracked(|c| matches!(c, Some(Ok(_)))) || method == "signIn" => view! {
            {move || match challenge.get() {
                Some(Ok((sign_in, _))) => view! {
                    <p id="approval-sign-in" data-domain=sign_in.domain.clone()>
                        {format!(
                            "asks you to sign in to {} as {} (until {})",
                            sign_in.domain, sign_in.address, sign_in.expires_at
                        )}
                    </p>
                }
                .into_any(),
                Some(Err(e)) => view! { <p class="text-red-600">{e}</p> }.into_any(),
                None => view! { <p class="text-muted">"Asking the server for a sign-in challenge…"</p> }.into_any(),
            }}
        }
        .into_any(),
        "signMessage" => view! {
            <p>"asks you to sign this message:"</p>
            <pre id="approval-message" class="mt-2 whitespace-pre-wrap rounded border border-line p-2 text-sm">
                {message.clone()}
            </pre>
        }
        .into_any(),
        "sendTransaction" => view! {
            <p>{format!("asks you to send {amount} AITBC to")}</p>
            <p class="font-mono break-all">{to.clone()}</p>
            {move || match transfer.get() {
                Some(Ok(p)) => view! {
                    <p id="approval-fee" data-fee=p.fee.0.to_string()>
                        {format!("Fee {} · total {} · balance after {}", p.fee, p.total, p.balance_after)}
                    </p>
                }
                .into_any(),
                Some(Err(e)) => view! { <p class="text-red-600">{e}</p> }.into_any(),
                None => view! { <p class="text-muted">"Reading the balance…"</p> }.into_any(),
            }}
        }
        .into_any(),
        other => view! { <p>{format!("asks for {other}, which this wallet does not do")}</p> }.into_any(),
    };
    view! {
        <section id="approval" class="mt-4 rounded border border-brand p-4" data-method=method.clone()>
            <h2 class="text-lg font-semibold">
                <span id="approval-origin" class="font-mono">{request.origin.clone()}</span>
            </h2>
            {what}
            {
                let foreign = foreign.clone();
                move || {
                foreign()
                    .map(|domain| {
                        view! {
                            <p id="approval-warning" class="mt-2 font-semibold text-red-600">
                                {domain}
                            </p>
                        }
                    })
                }
            }
            <div class="flex gap-3">
                <button
                    id="approval-accept"
                    type="button"
                    class=BUTTON
                    disabled={
                        let foreign = foreign.clone();
                        move || done.get() || foreign().is_some()
                    }
                    on:click=accept
                >
                    "Approve"
                </button>
                <button id="approval-reject" type="button" class=SECONDARY disabled=move || done.get() on:click=decline>
                    "Decline"
                </button>
            </div>
        </section>
    }
}
