//! The browser wallet at `/wallet/` (later also the Firefox extension's popup): create a wallet (a recovery phrase shown once, then two of its words asked back), import one (a phrase or a keystore file), unlock it with its password, several accounts, balance and history kept live, send with a preview and a confirmation, receive (address and QR code), export the encrypted keystore, and lock by hand or after five idle minutes. Keys are generated, encrypted and used only in this page (WASM): the browser's storage holds the keystore (ciphertext) and the number of accounts, and nothing secret leaves the page.

mod approve;
mod browser;
mod host;
mod open;
mod signin;
mod sites;

pub use signin::SignIn;

use leptos::prelude::*;
use leptos_meta::Title;
use types::Address;
use wallet::{KdfParams, Keystore, KeystoreError, Mnemonic, Secret, keystore::MIN_PASSWORD_CHARS};

use browser::Stored;

/// Idle time after which an open wallet locks itself.
const AUTO_LOCK_MS: f64 = 5.0 * 60_000.0;

/// What the page shows.
#[derive(Clone, Debug, PartialEq)]
enum Screen {
    /// No wallet in this browser: create or import one.
    Start,
    /// A new recovery phrase, shown this once.
    Reveal { phrase: String, password: String },
    /// Two words of the phrase asked back (their positions, from 0).
    Confirm {
        phrase: String,
        password: String,
        positions: [usize; 2],
    },
    /// A wallet is stored here; its password opens it.
    Locked,
    /// The wallet is open.
    Open,
}

/// The open wallet: its secret (in this page's memory only) and its accounts' addresses.
#[derive(Clone, Debug, PartialEq)]
struct Session {
    secret: Secret,
    accounts: Vec<Address>,
    current: usize,
}

/// The page's state, shared by its parts.
#[derive(Clone, Copy)]
struct WalletState {
    screen: RwSignal<Screen>,
    session: RwSignal<Option<Session>>,
    stored: RwSignal<Option<Stored>>,
    error: RwSignal<Option<String>>,
    /// What a long step (Argon2id) is doing, while it runs.
    busy: RwSignal<Option<&'static str>>,
    last_active: RwSignal<f64>,
}

impl WalletState {
    fn fail(&self, message: impl std::fmt::Display) {
        self.error.set(Some(message.to_string()));
    }

    /// Whether `password` is long enough for a new keystore; says so when it is not.
    fn strong(&self, password: &str) -> bool {
        let strong = password.chars().count() >= MIN_PASSWORD_CHARS;
        if !strong {
            self.fail(format!(
                "the password needs at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        strong
    }

    /// Opens `secret` with the accounts `stored` counts.
    fn open(&self, secret: Secret, stored: &Stored) {
        let accounts = (0..stored.accounts.max(1))
            .filter_map(|i| secret.account(i).ok().map(|a| a.address()))
            .collect();
        self.session.set(Some(Session {
            secret,
            accounts,
            current: 0,
        }));
        self.error.set(None);
        self.last_active.set(browser::now_ms());
        self.screen.set(Screen::Open);
    }

    fn lock(&self) {
        self.session.set(None);
        self.screen.set(if self.stored.get_untracked().is_some() {
            Screen::Locked
        } else {
            Screen::Start
        });
    }

    /// Runs `work` (a key derivation that blocks for a moment) after the page has painted
    /// `label`.
    fn heavy(&self, label: &'static str, work: impl FnOnce() + 'static) {
        let state = *self;
        state.error.set(None);
        state.busy.set(Some(label));
        set_timeout(
            move || {
                work();
                state.busy.set(None);
            },
            std::time::Duration::from_millis(40),
        );
    }

    /// Encrypts `secret` under `password`, keeps it in this browser and opens it.
    fn keep(&self, secret: Secret, password: String) {
        let state = *self;
        self.heavy("Encrypting the wallet…", move || {
            let (Some(salt), Some(nonce)) = (browser::random::<16>(), browser::random::<24>())
            else {
                state.fail("this browser offers no secure random numbers");
                return;
            };
            let address = match secret.account(0) {
                Ok(account) => account.address(),
                Err(e) => return state.fail(e),
            };
            match Keystore::seal(
                &secret,
                address,
                &password,
                KdfParams::RECOMMENDED,
                salt,
                nonce,
            ) {
                Ok(keystore) => state.keep_keystore(secret, keystore),
                Err(e) => state.fail(e),
            }
        });
    }

    /// Keeps `keystore` (which opens to `secret`) in this browser and opens it.
    fn keep_keystore(&self, secret: Secret, keystore: Keystore) {
        let stored = Stored {
            keystore,
            accounts: 1,
        };
        if !browser::save(&stored) {
            self.fail("this browser would not store the wallet (private mode or storage full)");
            return;
        }
        self.stored.set(Some(stored.clone()));
        self.open(secret, &stored);
    }
}

/// Starts the wallet in the extension's popup: RPC calls go to `node`, `request` is the site's
/// request it was opened for (or null), and `bridge` sends messages to the background
/// (`browser.runtime.sendMessage`).
#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mount_popup(node: String, request: wasm_bindgen::JsValue, bridge: js_sys::Function) {
    browser::set_base(&node);
    host::set_bridge(bridge);
    let request: Option<host::SiteRequest> = js_sys::JSON::stringify(&request)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str(&text).ok());
    leptos::mount::mount_to_body(move || {
        leptos_meta::provide_meta_context();
        provide_context(host::Host {
            request: RwSignal::new(request.clone()),
        });
        view! { <WalletHome /> }
    });
}

/// The wallet's page.
#[component]
pub fn WalletHome() -> impl IntoView {
    let state = WalletState {
        screen: RwSignal::new(Screen::Start),
        session: RwSignal::new(None),
        stored: RwSignal::new(None),
        error: RwSignal::new(None),
        busy: RwSignal::new(None),
        last_active: RwSignal::new(0.0),
    };
    provide_context(state);
    // The extension's popup provides the request it answers; the page may learn of one (a
    // sign-in for the page that opened it) once it runs in the browser.
    let host = use_context::<host::Host>().unwrap_or_else(|| {
        let host = host::Host {
            request: RwSignal::new(None),
        };
        provide_context(host);
        host
    });
    // In the browser only: a wallet kept here is shown locked; an open one locks itself when
    // the page has been idle.
    Effect::new(move |_| {
        if let Some(request) = host::page_request() {
            host.request.set(Some(request));
        }
        if let Some(stored) = browser::load() {
            state.stored.set(Some(stored));
            state.screen.set(Screen::Locked);
        }
        let touch = move || state.last_active.set(browser::now_ms());
        let on_key = window_event_listener(leptos::ev::keydown, move |_| touch());
        let on_pointer = window_event_listener(leptos::ev::pointerdown, move |_| touch());
        let idle = set_interval_with_handle(
            move || {
                let idle_for = browser::now_ms() - state.last_active.get_untracked();
                if state.session.with_untracked(Option::is_some) && idle_for > AUTO_LOCK_MS {
                    state.lock();
                }
            },
            std::time::Duration::from_secs(5),
        );
        on_cleanup(move || {
            on_key.remove();
            on_pointer.remove();
            if let Ok(handle) = idle {
                handle.clear();
            }
        });
    });
    view! {
        <Title text="Wallet" />
        <h1 class="text-3xl font-bold">"Wallet"</h1>
        <p
            id="wallet-busy"
            role="status"
            class="mt-4 text-sm text-muted"
            hidden=move || state.busy.get().is_none()
        >
            {move || state.busy.get().unwrap_or_default()}
        </p>
        <p
            id="wallet-error"
            role="alert"
            class="mt-4 rounded border border-red-500 px-3 py-2 text-sm text-red-600"
            hidden=move || state.error.get().is_none()
        >
            {move || state.error.get().unwrap_or_default()}
        </p>
        {move || match state.screen.get() {
            Screen::Start => view! { <Start /> }.into_any(),
            Screen::Reveal { phrase, password } => view! { <Reveal phrase password /> }.into_any(),
            Screen::Confirm { phrase, password, positions } => {
                view! { <Confirm phrase password positions /> }.into_any()
            }
            Screen::Locked => view! { <Locked /> }.into_any(),
            Screen::Open => view! { <open::OpenWallet /> }.into_any(),
        }}
    }
}

fn state() -> WalletState {
    expect_context::<WalletState>()
}

const INPUT: &str = "mt-1 w-full rounded border border-line bg-surface px-3 py-2 text-ink";
const BUTTON: &str = "mt-4 rounded bg-brand px-4 py-2 font-semibold text-white disabled:opacity-50";
const SECONDARY: &str = "mt-4 rounded border border-line px-4 py-2 text-sm";

/// A labelled password field bound to `value`.
#[component]
fn Password(id: &'static str, label: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="mt-4 block text-sm" for=id>
            {label}
            <input
                id=id
                type="password"
                autocomplete="new-password"
                class=INPUT
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

/// A labelled one-line text field bound to `value` (no spelling help: addresses and words).
#[component]
fn Field(
    id: &'static str,
    #[prop(into)] label: String,
    value: RwSignal<String>,
    /// What the on-screen keyboard offers (`decimal` for amounts).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    #[prop(optional, into)] position: Option<String>,
) -> impl IntoView {
    view! {
        <label class="mt-2 block text-sm" for=id>
            {label}
            <input
                id=id
                type="text"
                inputmode=inputmode
                data-position=position
                autocomplete="off"
                spellcheck="false"
                class=INPUT
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Create,
    Import,
}

/// No wallet yet: create one or import one.
#[component]
fn Start() -> impl IntoView {
    let tab = RwSignal::new(Tab::Create);
    let tab_button = move |t: Tab, id: &'static str, label: &'static str| {
        view! {
            <button
                id=id
                type="button"
                role="tab"
                class="border-b-2 border-transparent px-4 py-2 text-sm aria-selected:border-brand aria-selected:font-semibold"
                aria-selected=move || (tab.get() == t).to_string()
                on:click=move |_| tab.set(t)
            >
                {label}
            </button>
        }
    };
    view! {
        <div role="tablist" aria-label="Get started" class="mt-6 flex gap-2 border-b border-line">
            {tab_button(Tab::Create, "wallet-tab-create", "Create a wallet")}
            {tab_button(Tab::Import, "wallet-tab-import", "Import a wallet")}
        </div>
        <section id="wallet-panel" role="tabpanel" class="mt-6 max-w-2xl">
            {move || match tab.get() {
                Tab::Create => view! { <Create /> }.into_any(),
                Tab::Import => view! { <Import /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Create() -> impl IntoView {
    let state = state();
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let create = move |_| {
        state.error.set(None);
        let chosen = password.get_untracked();
        if !state.strong(&chosen) {
            return;
        }
        if chosen != again.get_untracked() {
            return state.fail("the two passwords differ");
        }
        let Some(entropy) = browser::random::<16>() else {
            return state.fail("this browser offers no secure random numbers");
        };
        match Mnemonic::from_entropy(&entropy) {
            Ok(mnemonic) => state.screen.set(Screen::Reveal {
                phrase: mnemonic.phrase().to_string(),
                password: chosen,
            }),
            Err(e) => state.fail(e),
        }
    };
    view! {
        <div data-panel="create">
            <p class="text-muted">
                "A new wallet is a 12-word recovery phrase made in this page. You will see it once: write it down. The wallet is encrypted with your password and kept only in this browser."
            </p>
            <Password id="create-password" label="Password (at least 10 characters)" value=password />
            <Password id="create-password-again" label="The password again" value=again />
            <button id="create-submit" type="button" class=BUTTON on:click=create>
                "Create the wallet"
            </button>
        </div>
    }
}

#[component]
fn Import() -> impl IntoView {
    let state = state();
    let phrase = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let file = RwSignal::new(None::<Keystore>);
    let choose = move |ev: leptos::ev::Event| {
        leptos::task::spawn_local(async move {
            match browser::chosen_file(&ev)
                .await
                .map(|t| Keystore::from_json(&t))
            {
                Some(Ok(keystore)) => {
                    state.error.set(None);
                    file.set(Some(keystore));
                }
                Some(Err(e)) => state.fail(e),
                None => state.fail("the file could not be read"),
            }
        });
    };
    let import = move |_| {
        state.error.set(None);
        let chosen = password.get_untracked();
        if let Some(keystore) = file.get_untracked() {
            state.heavy("Opening the keystore…", move || {
                match keystore.open(&chosen) {
                    Ok(secret) => state.keep_keystore(secret, keystore),
                    Err(KeystoreError::WrongPassword) => {
                        state.fail("the password does not open this keystore")
                    }
                    Err(e) => state.fail(e),
                }
            });
            return;
        }
        if !state.strong(&chosen) {
            return;
        }
        match Mnemonic::parse(&phrase.get_untracked()) {
            Ok(mnemonic) => state.keep(Secret::mnemonic(&mnemonic), chosen),
            Err(e) => state.fail(e),
        }
    };
    view! {
        <div data-panel="import">
            <p class="text-muted">
                "Import a wallet from its recovery phrase, or from an encrypted keystore file with the password it was made with."
            </p>
            <label class="mt-4 block text-sm" for="import-phrase">
                "Recovery phrase (12 or 24 words)"
                <textarea
                    id="import-phrase"
                    rows="3"
                    autocomplete="off"
                    spellcheck="false"
                    class=INPUT
                    prop:value=move || phrase.get()
                    on:input=move |ev| phrase.set(event_target_value(&ev))
                />
            </label>
            <label class="mt-4 block text-sm" for="import-file">
                "…or a keystore file"
                <input id="import-file" type="file" accept=".json,application/json" class="mt-1 block text-sm" on:change=choose />
            </label>
            <Password id="import-password" label="Password" value=password />
            <button id="import-submit" type="button" class=BUTTON on:click=import>
                "Import"
            </button>
        </div>
    }
}

/// The new phrase, shown once.
#[component]
fn Reveal(phrase: String, password: String) -> impl IntoView {
    let state = state();
    let words: Vec<String> = phrase.split(' ').map(str::to_owned).collect();
    let saved = move |_| {
        // Two distinct positions to ask back.
        let Some([a, b]) = browser::random::<2>() else {
            return state.fail("this browser offers no secure random numbers");
        };
        let count = phrase.split(' ').count();
        let first = usize::from(a) % count;
        let second = (first + 1 + usize::from(b) % (count - 1)) % count;
        let mut positions = [first, second];
        positions.sort_unstable();
        state.screen.set(Screen::Confirm {
            phrase: phrase.clone(),
            password: password.clone(),
            positions,
        });
    };
    view! {
        <section class="mt-6 max-w-2xl">
            <h2 class="text-xl font-semibold">"Your recovery phrase"</h2>
            <p class="mt-2 text-muted">
                "Write these words down in this order and keep them offline. Anyone with them owns the wallet; without them a forgotten password cannot be undone. They are not shown again."
            </p>
            <ol id="wallet-mnemonic" class="mt-4 grid grid-cols-3 gap-2 font-mono">
                {words
                    .into_iter()
                    .enumerate()
                    .map(|(i, word)| {
                        view! {
                            <li data-word=word.clone() class="rounded border border-line px-2 py-1">
                                {format!("{}. {word}", i + 1)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            <button id="mnemonic-saved" type="button" class=BUTTON on:click=saved>
                "I have written it down"
            </button>
        </section>
    }
}

/// Two words of the phrase asked back before the wallet is kept.
#[component]
fn Confirm(phrase: String, password: String, positions: [usize; 2]) -> impl IntoView {
    let state = state();
    let answers = [RwSignal::new(String::new()), RwSignal::new(String::new())];
    let words: Vec<String> = phrase.split(' ').map(str::to_owned).collect();
    let check = move |_| {
        for (n, position) in positions.iter().enumerate() {
            if answers[n].get_untracked().trim().to_lowercase() != words[*position] {
                return state.fail(format!("word {} is not right", position + 1));
            }
        }
        match Mnemonic::parse(&phrase) {
            Ok(mnemonic) => state.keep(Secret::mnemonic(&mnemonic), password.clone()),
            Err(e) => state.fail(e),
        }
    };
    let back = move |_| state.screen.set(Screen::Start);
    view! {
        <section class="mt-6 max-w-2xl">
            <h2 class="text-xl font-semibold">"Confirm the phrase"</h2>
            {positions
                .iter()
                .enumerate()
                .map(|(n, position)| {
                    let answer = answers[n];
                    let id = if n == 0 { "confirm-word-1" } else { "confirm-word-2" };
                    view! {
                        <Field
                            id
                            label=format!("Word {}", position + 1)
                            value=answer
                            position=(position + 1).to_string()
                        />
                    }
                })
                .collect_view()}
            <div class="flex gap-3">
                <button id="confirm-submit" type="button" class=BUTTON on:click=check>
                    "Keep the wallet"
                </button>
                <button type="button" class=SECONDARY on:click=back>
                    "Start over"
                </button>
            </div>
        </section>
    }
}

/// A wallet is kept here: its password opens it.
#[component]
fn Locked() -> impl IntoView {
    let state = state();
    let password = RwSignal::new(String::new());
    let forgetting = RwSignal::new(false);
    let unlock = move |_| {
        let Some(stored) = state.stored.get_untracked() else {
            return;
        };
        let chosen = password.get_untracked();
        state.heavy("Unlocking…", move || {
            match stored.keystore.open(&chosen) {
                Ok(secret) => state.open(secret, &stored),
                Err(KeystoreError::WrongPassword) => state.fail("wrong password"),
                Err(e) => state.fail(e),
            }
        });
    };
    let forget = move |_| {
        if forgetting.get_untracked() {
            browser::forget();
            state.stored.set(None);
            state.screen.set(Screen::Start);
        } else {
            forgetting.set(true);
        }
    };
    view! {
        <section class="mt-6 max-w-md">
            <p class="text-muted">
                "Locked: "
                <span id="locked-address" class="font-mono">
                    {move || {
                        state.stored.get().map(|s| s.keystore.address.to_string()).unwrap_or_default()
                    }}
                </span>
            </p>
            <form on:submit=move |ev| {
                ev.prevent_default();
                unlock(());
            }>
                <Password id="unlock-password" label="Password" value=password />
                <button id="unlock-submit" type="submit" class=BUTTON>
                    "Unlock"
                </button>
            </form>
            <button id="wallet-forget" type="button" class=SECONDARY on:click=forget>
                {move || {
                    if forgetting.get() {
                        "Click again to remove the wallet from this browser (only its recovery phrase can bring it back)"
                    } else {
                        "Remove this wallet from this browser"
                    }
                }}
            </button>
        </section>
    }
}
