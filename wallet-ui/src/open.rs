//! The open wallet: its accounts, the current one's address (with a QR code), balance and history refreshed every two seconds, the devnet faucet, a transfer previewed then confirmed and followed to its block, the keystore's export, and the lock.

use leptos::prelude::*;
use serde_json::{Value, json};
use types::{Address, Amount};
use wallet::{FeeSchedule, Preview, preview};

use crate::{BUTTON, INPUT, SECONDARY, Session, browser, state};

/// How often the balance and history are read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// The current account's balance and the nonce its next transfer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Funds {
    pub balance: u64,
    pub next_nonce: u64,
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    hash: String,
    sent: bool,
    counterparty: String,
    amount: u64,
    status: String,
    kind: String,
}

/// A transfer on its way.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sending {
    hash: String,
    status: String,
    height: Option<u64>,
}

fn current(session: &Option<Session>) -> Option<Address> {
    session
        .as_ref()
        .and_then(|s| s.accounts.get(s.current).copied())
}

/// The QR code of `text`, as a `data:` URL of an SVG image (an image, not markup put into the
/// page).
fn qr_image(text: &str) -> String {
    qrcode::QrCode::new(text.as_bytes())
        .map(|code| {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(160, 160)
                .build();
            data_url("image/svg+xml", &svg)
        })
        .unwrap_or_default()
}

/// `text` as a `data:` URL of type `kind`.
fn data_url(kind: &str, text: &str) -> String {
    let mut url = format!("data:{kind};charset=utf-8,");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

fn line_of(item: &Value) -> Line {
    Line {
        hash: item["tx_hash"].as_str().unwrap_or_default().to_owned(),
        sent: item["direction"] == "sent",
        counterparty: item["counterparty"].as_str().unwrap_or_default().to_owned(),
        amount: item["amount"].as_u64().unwrap_or_default(),
        status: item["status"].as_str().unwrap_or_default().to_owned(),
        kind: item["type"].as_str().unwrap_or_default().to_owned(),
    }
}

#[component]
pub fn OpenWallet() -> impl IntoView {
    let state = state();
    let funds = RwSignal::new(None::<Funds>);
    let history = RwSignal::new(Vec::<Line>::new());
    let chain = RwSignal::new(None::<(String, FeeSchedule)>);
    let note = RwSignal::new(None::<String>);
    let address = Memo::new(move |_| state.session.with(current));

    // Balance and history of the current account, now and every two seconds.
    let refresh = move || {
        let Some(account) = address.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Ok(answer) = browser::get(&format!("/rpc/getBalance/{account}")).await
                && address.get_untracked() == Some(account)
            {
                funds.set(Some(Funds {
                    balance: answer["balance"].as_u64().unwrap_or_default(),
                    next_nonce: answer["next_nonce"].as_u64().unwrap_or_default(),
                }));
            }
            if let Ok(answer) = browser::get(&format!("/rpc/address/{account}?limit=20")).await
                && address.get_untracked() == Some(account)
            {
                let lines = answer["transactions"]
                    .as_array()
                    .map(|items| items.iter().map(line_of).collect())
                    .unwrap_or_default();
                history.set(lines);
            }
        });
    };
    Effect::new(move |_| {
        // Again whenever the account changes; the extension's background hears of it too.
        if let Some(account) = address.get() {
            crate::host::tell(&json!({ "kind": "account", "address": account.to_string() }));
        }
        funds.set(None);
        history.set(Vec::new());
        refresh();
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
            on_cleanup(move || handle.clear());
        }
        leptos::task::spawn_local(async move {
            let status = browser::get("/rpc/syncStatus").await;
            let fee = browser::post("/rpc/estimateFee", &json!({})).await;
            match (status, fee) {
                (Ok(status), Ok(fee)) => chain.set(Some((
                    status["chain_id"].as_str().unwrap_or_default().to_owned(),
                    FeeSchedule {
                        base_fee: fee["base_fee"].as_u64().unwrap_or_default(),
                        fee_per_byte: fee["fee_per_byte"].as_u64().unwrap_or_default(),
                    },
                ))),
                (Err(e), _) | (_, Err(e)) => state.fail(e),
            }
        });
    });

    let choose = move |ev: leptos::ev::Event| {
        if let Ok(index) = event_target_value(&ev).parse::<usize>() {
            state.session.update(|s| {
                if let Some(s) = s
                    && index < s.accounts.len()
                {
                    s.current = index;
                }
            });
        }
    };
    let add = move |_| {
        let Some(mut stored) = state.stored.get_untracked() else {
            return;
        };
        let next = stored.accounts;
        let Some(account) = state
            .session
            .with_untracked(|s| s.as_ref().and_then(|s| s.secret.account(next).ok()))
        else {
            return;
        };
        stored.accounts += 1;
        if !browser::save(&stored) {
            return state.fail("this browser would not store the new account");
        }
        state.stored.set(Some(stored));
        state.session.update(|s| {
            if let Some(s) = s {
                s.accounts.push(account.address());
            }
        });
    };
    let faucet = move |_| {
        let Some(account) = address.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match browser::post("/rpc/faucet", &json!({ "address": account.to_string() })).await {
                Ok(answer) => note.set(Some(format!(
                    "{} on its way from the faucet",
                    Amount(answer["amount"].as_u64().unwrap_or_default())
                ))),
                Err(e) => state.fail(e),
            }
        });
    };
    let keystore_url = move || {
        state
            .stored
            .get()
            .map(|s| data_url("application/json", &s.keystore.to_json()))
            .unwrap_or_default()
    };

    let asked = crate::host::request();
    view! {
        <section class="mt-6 max-w-3xl">
            {move || {
                asked
                    .and_then(|r| r.get())
                    .map(|request| view! { <crate::approve::Approve request funds chain address /> })
            }}
            <div class="flex flex-wrap items-end gap-3">
                <label class="text-sm" for="account-select">
                    "Account"
                    <select id="account-select" class=INPUT on:change=choose>
                        {move || {
                            state
                                .session
                                .get()
                                .map(|s| {
                                    s.accounts
                                        .iter()
                                        .enumerate()
                                        .map(|(i, a)| {
                                            view! {
                                                <option
                                                    value=i.to_string()
                                                    data-address=a.to_string()
                                                    selected=i == s.current
                                                >
                                                    {format!("Account {} · {}…", i + 1, &a.to_string()[..12])}
                                                </option>
                                            }
                                        })
                                        .collect_view()
                                })
                        }}
                    </select>
                </label>
                <button id="account-add" type="button" class=SECONDARY on:click=add>
                    "Add an account"
                </button>
                <button id="wallet-lock" type="button" class=SECONDARY on:click=move |_| state.lock()>
                    "Lock"
                </button>
            </div>

            <div class="mt-6 flex flex-wrap gap-6">
                <div>
                    <h2 class="text-sm text-muted">"Receive at"</h2>
                    <p id="wallet-address" class="break-all font-mono">
                        {move || address.get().map(|a| a.to_string()).unwrap_or_default()}
                    </p>
                    <img
                        id="wallet-qr"
                        class="mt-2 w-40 bg-white p-2"
                        alt="QR code of the address"
                        src=move || address.get().map(|a| qr_image(&a.to_string())).unwrap_or_default()
                    />
                </div>
                <div>
                    <h2 class="text-sm text-muted">"Balance"</h2>
                    <p
                        id="wallet-balance"
                        class="text-2xl font-semibold"
                        data-base-units=move || funds.get().map(|f| f.balance.to_string()).unwrap_or_default()
                    >
                        {move || funds.get().map_or_else(|| "…".to_owned(), |f| Amount(f.balance).to_string())}
                    </p>
                    <button id="wallet-faucet" type="button" class=SECONDARY on:click=faucet>
                        "Get devnet AITBC from the faucet"
                    </button>
                    <p id="wallet-note" class="mt-2 text-sm text-muted">{move || note.get()}</p>
                    <a
                        id="wallet-export"
                        class="mt-4 block text-sm underline"
                        download="aitbc-keystore.json"
                        href=keystore_url
                    >
                        "Export the encrypted keystore"
                    </a>
                </div>
            </div>

            <Send funds chain />

            <h2 class="mt-8 text-xl font-semibold">"History"</h2>
            <ul id="wallet-history" class="mt-2 divide-y divide-line">
                {move || {
                    history
                        .get()
                        .into_iter()
                        .map(|line| {
                            let sign = if line.sent { "−" } else { "+" };
                            view! {
                                <li class="flex flex-wrap gap-3 py-2 text-sm" data-hash=line.hash.clone() data-status=line.status.clone()>
                                    <span>{format!("{sign}{}", Amount(line.amount))}</span>
                                    <span class="text-muted">{line.kind.clone()}</span>
                                    <span class="font-mono text-muted">
                                        {if line.sent { "to " } else { "from " }}
                                        {line.counterparty.clone()}
                                    </span>
                                    <a class="underline" href=format!("/explorer/tx/{}", line.hash)>
                                        {line.status.clone()}
                                    </a>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <crate::sites::ConnectedSites />
        </section>
    }
}

/// A transfer: typed, previewed (fee and balance after), confirmed, signed here, sent and
/// followed to its block.
#[component]
fn Send(
    funds: RwSignal<Option<Funds>>,
    chain: RwSignal<Option<(String, FeeSchedule)>>,
) -> impl IntoView {
    let state = state();
    let to = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    let previewed = RwSignal::new(None::<Preview>);
    let sending = RwSignal::new(None::<Sending>);
    let review = move |_| {
        state.error.set(None);
        sending.set(None);
        let (Some(funds), Some((chain_id, fees)), Some(session)) = (
            funds.get_untracked(),
            chain.get_untracked(),
            state.session.get_untracked(),
        ) else {
            return state.fail("the balance is still loading; try again in a moment");
        };
        let Ok(account) = session.secret.account(session.current as u32) else {
            return;
        };
        match preview::transfer(
            &chain_id,
            account.public_key(),
            Amount(funds.balance),
            funds.next_nonce,
            &to.get_untracked(),
            &amount.get_untracked(),
            fees,
        ) {
            Ok(preview) => previewed.set(Some(preview)),
            Err(e) => state.fail(e),
        }
    };
    let confirm = move |_| {
        let (Some(preview), Some(session)) =
            (previewed.get_untracked(), state.session.get_untracked())
        else {
            return;
        };
        let Ok(account) = session.secret.account(session.current as u32) else {
            return;
        };
        let signed = match preview.sign(&account.key) {
            Ok(signed) => signed,
            Err(e) => return state.fail(e),
        };
        let Ok(body) = serde_json::to_value(&signed) else {
            return;
        };
        previewed.set(None);
        leptos::task::spawn_local(async move {
            let hash = match browser::post("/rpc/sendTx", &body).await {
                Ok(answer) => answer["tx_hash"].as_str().unwrap_or_default().to_owned(),
                Err(e) => return state.fail(e),
            };
            to.set(String::new());
            amount.set(String::new());
            sending.set(Some(Sending {
                hash: hash.clone(),
                status: "pending".into(),
                height: None,
            }));
            // Followed until it is in a block (or for a minute).
            for _ in 0..60 {
                sleep(std::time::Duration::from_secs(1)).await;
                if let Ok(tx) = browser::get(&format!("/rpc/tx/{hash}")).await {
                    let status = tx["status"].as_str().unwrap_or("pending").to_owned();
                    let done = status != "pending";
                    sending.set(Some(Sending {
                        hash: hash.clone(),
                        status: if done { "included".into() } else { status },
                        height: tx["block_height"].as_u64(),
                    }));
                    if done {
                        return;
                    }
                }
            }
        });
    };
    view! {
        <h2 class="mt-8 text-xl font-semibold">"Send"</h2>
        <div class="max-w-xl">
            <crate::Field id="send-to" label="To (ait1…)" value=to />
            <crate::Field id="send-amount" label="Amount (AITBC)" value=amount inputmode="decimal" />
            <button id="send-review" type="button" class=BUTTON on:click=review>
                "Review"
            </button>
            {move || {
                previewed
                    .get()
                    .map(|p| {
                        view! {
                            <div
                                id="send-preview"
                                class="mt-4 rounded border border-line p-4 text-sm"
                                data-fee=p.fee.0.to_string()
                                data-total=p.total.0.to_string()
                            >
                                <p>"To " <span class="font-mono">{p.to.to_string()}</span></p>
                                <p>"Amount " {p.amount.to_string()}</p>
                                <p>"Fee " {p.fee.to_string()}</p>
                                <p class="font-semibold">"Total " {p.total.to_string()}</p>
                                <p>
                                    "Balance " {p.balance_before.to_string()} " → "
                                    {p.balance_after.to_string()}
                                </p>
                                <div class="flex gap-3">
                                    <button id="send-confirm" type="button" class=BUTTON on:click=confirm>
                                        "Confirm and send"
                                    </button>
                                    <button
                                        id="send-cancel"
                                        type="button"
                                        class=SECONDARY
                                        on:click=move |_| previewed.set(None)
                                    >
                                        "Cancel"
                                    </button>
                                </div>
                            </div>
                        }
                    })
            }}
            {move || {
                sending
                    .get()
                    .map(|s| {
                        let text = match s.height {
                            Some(height) => format!("{}: in block {height}", s.status),
                            None => s.status.clone(),
                        };
                        view! {
                            <p id="send-status" class="mt-4 text-sm" data-status=s.status.clone() data-hash=s.hash.clone()>
                                {text} " · "
                                <a class="font-mono underline" href=format!("/explorer/tx/{}", s.hash)>
                                    {s.hash.chars().take(16).collect::<String>()}
                                    "…"
                                </a>
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// Waits `duration` in the browser.
async fn sleep(duration: std::time::Duration) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = done.send(());
        },
        duration,
    );
    let _ = wait.await;
}
