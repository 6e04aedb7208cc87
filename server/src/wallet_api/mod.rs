//! The wallet daemon under `/wallet/v1/` (and the earlier JSON-RPC at `/wallet/rpc`), for command-line users and servers: wallets persist as encrypted keystores in SQLite, are locked by default and unlock for a while with their password (wrong passwords slow the next tries down), show balance and history from the chain, sign messages, and send transfers (checked and previewed, signed, submitted, followed to a block). Only loopback callers are served unless the operator allows others.

mod chain;
mod rpc;
mod store;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{ConnectInfo, Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use types::{Hash, receipt};
use wallet::{KdfParams, Keystore, KeystoreError, Mnemonic, Secret, preview};

pub use chain::WalletChain;
use store::{StoredWallet, WalletStore};

use crate::{
    ApiError, AppState,
    error::{ApiJson, ApiPath, ApiQuery},
    rpc::Page,
};

/// How long an unlock lasts when the caller does not say.
const DEFAULT_UNLOCK: Duration = Duration::from_secs(300);
/// The longest an unlock may last.
const MAX_UNLOCK: Duration = Duration::from_secs(3600);
/// Wrong passwords a wallet takes before each further try has to wait.
const FREE_FAILURES: u32 = 3;
/// The first wait after [`FREE_FAILURES`]; it doubles with each further failure.
const FIRST_WAIT: Duration = Duration::from_secs(30);
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Key derivations run at once (each takes 64 MiB and most of a core for a moment).
const PARALLEL_KDF: usize = 2;
/// The longest a send waits for its block.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A wallet's secret while it is unlocked.
struct Unlocked {
    secret: Secret,
    until: Instant,
}

/// Wrong passwords given for one wallet.
#[derive(Default)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
}

/// The daemon's state: its wallets, the unlocked ones, and the chain.
pub struct Daemon {
    store: WalletStore,
    chain: Option<WalletChain>,
    unlocked: Mutex<HashMap<String, Unlocked>>,
    failures: Mutex<HashMap<String, Failures>>,
    kdf: std::sync::Arc<tokio::sync::Semaphore>,
    /// One password try at a time per wallet, so a burst of tries is counted as it goes.
    trying: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    /// One send at a time, so consecutive sends take consecutive nonces.
    sending: tokio::sync::Mutex<()>,
    allow_remote: bool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

fn internal(error: impl Into<anyhow::Error>) -> ApiError {
    ApiError::Internal(error.into())
}

fn now_ms() -> i64 {
    coordinator::system_now()
}

impl Daemon {
    /// Opens the wallets in `db_path`; `chain` is where balances come from and sends go.
    pub async fn open(
        db_path: &std::path::Path,
        chain: Option<WalletChain>,
        allow_remote: bool,
    ) -> anyhow::Result<Daemon> {
        Ok(Daemon {
            store: WalletStore::open(db_path).await?,
            chain,
            unlocked: Mutex::default(),
            failures: Mutex::default(),
            kdf: std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL_KDF)),
            trying: Mutex::default(),
            sending: tokio::sync::Mutex::default(),
            allow_remote,
        })
    }

    fn chain(&self) -> Result<&WalletChain, ApiError> {
        self.chain.as_ref().ok_or_else(|| {
            ApiError::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_chain",
                "this wallet daemon has no chain to read or send to",
            )
        })
    }

    async fn wallet(&self, wallet_id: &str) -> Result<StoredWallet, ApiError> {
        self.store
            .get(wallet_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::NotFound(format!("wallet {wallet_id}")))
    }

    async fn event(&self, wallet_id: &str, kind: &str, payload: Value) {
        if let Err(error) = self.store.event(wallet_id, kind, &payload, now_ms()).await {
            tracing::warn!(wallet_id, kind, %error, "cannot record a wallet event");
        }
    }

    /// Runs an Argon2id derivation (sealing or opening) off the async threads, a few at a time.
    async fn kdf<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        // The permit goes with the work: a caller that goes away does not free its turn while
        // the derivation still runs.
        let turn = self.kdf.clone().acquire_owned().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop(turn);
            done
        })
        .await
        .map_err(internal)
    }

    /// Opens the keystore of `wallet` with `password`, counting wrong passwords: past
    /// [`FREE_FAILURES`] each further try must wait, longer each time.
    async fn open_keystore(
        &self,
        wallet: &StoredWallet,
        password: String,
    ) -> Result<Secret, ApiError> {
        let keystore = Keystore::from_json(&wallet.keystore).map_err(internal)?;
        let opened = self
            .guarded_open(&wallet.wallet_id, keystore, password)
            .await;
        if let Err(ApiError::Refused { .. }) = &opened {
            let failures = self
                .lock_failures()
                .get(&wallet.wallet_id)
                .map_or(0, |f| f.count);
            self.event(
                &wallet.wallet_id,
                "unlock_refused",
                json!({ "failures": failures }),
            )
            .await;
        }
        opened
    }

    /// Opens `keystore` with `password` as a try against `key` (a wallet, or an imported
    /// keystore's address): tries of one key run one at a time, and past [`FREE_FAILURES`] wrong
    /// ones each further try must wait, longer each time.
    async fn guarded_open(
        &self,
        key: &str,
        keystore: Keystore,
        password: String,
    ) -> Result<Secret, ApiError> {
        let id = key.to_owned();
        let turn = self
            .trying
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        if let Some(until) = self.blocked_until(&id) {
            return Err(ApiError::RateLimited {
                who: "wallet",
                retry_after_s: until
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1),
            });
        }
        let opened = self.kdf(move || keystore.open(&password)).await?;
        match opened {
            Ok(secret) => {
                self.lock_failures().remove(&id);
                Ok(secret)
            }
            Err(KeystoreError::WrongPassword) => {
                let mut failures = self.lock_failures();
                let entry = failures.entry(id.clone()).or_default();
                entry.count += 1;
                if entry.count >= FREE_FAILURES {
                    let doublings = (entry.count - FREE_FAILURES).min(10);
                    let wait = (FIRST_WAIT * 2u32.pow(doublings)).min(LONGEST_WAIT);
                    entry.blocked_until = Some(Instant::now() + wait);
                }
                Err(ApiError::refused(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "invalid credentials",
                ))
            }
            // A keystore this daemon cannot read: only an imported one can be (stored ones are
            // written here).
            Err(error) => Err(ApiError::bad("keystore", error)),
        }
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_unlocked(&self) -> std::sync::MutexGuard<'_, HashMap<String, Unlocked>> {
        self.unlocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn blocked_until(&self, wallet_id: &str) -> Option<Instant> {
        self.lock_failures()
            .get(wallet_id)
            .and_then(|f| f.blocked_until)
            .filter(|until| *until > Instant::now())
    }

    /// The wallet's secret: from its unlock, or from `password` for this one call.
    async fn secret(
        &self,
        wallet: &StoredWallet,
        password: Option<String>,
    ) -> Result<Secret, ApiError> {
        if let Some(password) = password {
            return self.open_keystore(wallet, password).await;
        }
        let mut unlocked = self.lock_unlocked();
        match unlocked.get(&wallet.wallet_id) {
            Some(u) if u.until > Instant::now() => Ok(u.secret.clone()),
            _ => {
                unlocked.remove(&wallet.wallet_id);
                Err(ApiError::refused(
                    StatusCode::FORBIDDEN,
                    "wallet_locked",
                    format!(
                        "wallet {} is locked: unlock it or send its password",
                        wallet.wallet_id
                    ),
                ))
            }
        }
    }

    fn is_unlocked(&self, wallet_id: &str) -> bool {
        self.lock_unlocked()
            .get(wallet_id)
            .is_some_and(|u| u.until > Instant::now())
    }

    fn view(&self, wallet: &StoredWallet) -> Value {
        json!({
            "wallet_id": wallet.wallet_id,
            "address": wallet.address,
            "public_key": wallet.public_key,
            "metadata": wallet.metadata,
            "created_at": crate::rpc::rfc3339(wallet.created_at as u64),
            "unlocked": self.is_unlocked(&wallet.wallet_id),
        })
    }

    // --- what the routes do -----------------------------------------------------------------

    pub async fn list(&self) -> Result<Value, ApiError> {
        let wallets = self.store.list().await.map_err(internal)?;
        Ok(json!({ "items": wallets.iter().map(|w| self.view(w)).collect::<Vec<_>>() }))
    }

    pub async fn create(&self, request: CreateWallet) -> Result<Value, ApiError> {
        let CreateWallet {
            wallet_id,
            password,
            metadata,
            mnemonic,
            keystore,
            secret_key,
            words,
        } = request;
        check_wallet_id(&wallet_id)?;
        if password.chars().count() < keystore::MIN_PASSWORD_CHARS {
            return Err(ApiError::refused(
                StatusCode::BAD_REQUEST,
                "password_too_weak",
                format!(
                    "the password needs at least {} characters",
                    keystore::MIN_PASSWORD_CHARS
                ),
            ));
        }
        let sources = [mnemonic.is_some(), keystore.is_some(), secret_key.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(ApiError::bad(
                "mnemonic",
                "give at most one of mnemonic, keystore and secret_key",
            ));
        }
        let mut shown_once = None;
        let secret = if let Some(text) = mnemonic {
            let mnemonic = Mnemonic::parse(&text).map_err(|e| ApiError::bad("mnemonic", e))?;
            Secret::mnemonic(&mnemonic)
        } else if let Some(file) = keystore {
            let file =
                Keystore::from_json(&file.to_string()).map_err(|e| ApiError::bad("keystore", e))?;
            let costs = file.kdf.params;
            let most = KdfParams::RECOMMENDED;
            if costs.memory_kib > 4 * most.memory_kib
                || costs.iterations > 4 * most.iterations
                || costs.parallelism > 4
            {
                return Err(ApiError::bad(
                    "keystore",
                    "its key derivation costs more than this daemon opens (256 MiB, 12 passes)",
                ));
            }
            let key = format!("import:{}", file.address);
            self.guarded_open(&key, file, password.clone()).await?
        } else if let Some(seed) = secret_key {
            let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(seed.trim())
                .ok()
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| {
                    ApiError::bad("secret_key", "must be a 32-byte Ed25519 seed in base64")
                })?;
            Secret::key(&types::SecretKey::from_seed(&seed))
        } else {
            let entropy: Vec<u8> = match words.unwrap_or(12) {
                12 => rand::random::<[u8; 16]>().to_vec(),
                24 => rand::random::<[u8; 32]>().to_vec(),
                _ => return Err(ApiError::bad("words", "12 or 24")),
            };
            let mnemonic = Mnemonic::from_entropy(&entropy).map_err(internal)?;
            shown_once = Some(mnemonic.phrase().to_string());
            Secret::mnemonic(&mnemonic)
        };
        let account = secret.account(0).map_err(internal)?;
        let address = account.address();
        let public_key = account.public_key().to_hex();
        let sealing = secret.clone();
        let sealed = self
            .kdf(move || {
                Keystore::seal(
                    &sealing,
                    address,
                    &password,
                    KdfParams::RECOMMENDED,
                    rand::random(),
                    rand::random(),
                )
            })
            .await?
            .map_err(internal)?;
        let wallet = StoredWallet {
            wallet_id: wallet_id.clone(),
            address: address.to_string(),
            public_key,
            keystore: sealed.to_json(),
            metadata: Value::Object(metadata),
            created_at: now_ms(),
        };
        if !self.store.insert(&wallet).await.map_err(internal)? {
            return Err(ApiError::refused(
                StatusCode::CONFLICT,
                "wallet_exists",
                format!("a wallet {wallet_id} exists"),
            ));
        }
        self.event(&wallet_id, "created", json!({ "address": wallet.address }))
            .await;
        let mut answer = json!({ "wallet": self.view(&wallet) });
        if let Some(phrase) = shown_once {
            answer["mnemonic"] = json!(phrase);
            answer["note"] = json!(
                "write the recovery phrase down now: it is shown this once and never stored in the clear"
            );
        }
        Ok(answer)
    }

    pub async fn unlock(&self, wallet_id: &str, request: Unlock) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let lasts = match request.timeout_seconds {
            None => DEFAULT_UNLOCK,
            Some(s) if (1..=MAX_UNLOCK.as_secs()).contains(&s) => Duration::from_secs(s),
            Some(_) => {
                return Err(ApiError::bad(
                    "timeout_seconds",
                    format!("from 1 to {}", MAX_UNLOCK.as_secs()),
                ));
            }
        };
        let secret = self.open_keystore(&wallet, request.password).await?;
        self.lock_unlocked().insert(
            wallet_id.to_owned(),
            Unlocked {
                secret,
                until: Instant::now() + lasts,
            },
        );
        self.event(wallet_id, "unlocked", json!({ "seconds": lasts.as_secs() }))
            .await;
        Ok(json!({
            "wallet_id": wallet_id,
            "unlocked": true,
            "expires_in_seconds": lasts.as_secs(),
        }))
    }

    pub async fn lock(&self, wallet_id: &str) -> Result<Value, ApiError> {
        self.wallet(wallet_id).await?;
        self.lock_unlocked().remove(wallet_id);
        self.event(wallet_id, "locked", json!({})).await;
        Ok(json!({ "wallet_id": wallet_id, "unlocked": false }))
    }

    pub async fn sign(&self, wallet_id: &str, request: SignMessage) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let text = match (request.message, request.message_base64) {
            (Some(text), None) => text,
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ApiError::bad("message_base64", "must be UTF-8 text in base64"))?,
            _ => {
                return Err(ApiError::bad(
                    "message",
                    "give the text as message or message_base64",
                ));
            }
        };
        let secret = self.secret(&wallet, request.password).await?;
        let account = secret.account(0).map_err(internal)?;
        let signature = types::message::sign(&account.key, &text);
        self.event(wallet_id, "signed", json!({ "bytes": text.len() }))
            .await;
        Ok(json!({
            "wallet_id": wallet_id,
            "address": wallet.address,
            "public_key": wallet.public_key,
            "signature": signature.to_hex(),
            "signature_base64": base64::engine::general_purpose::STANDARD.encode(signature.0),
        }))
    }

    pub async fn balance(&self, wallet_id: &str) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let address = parse_stored_address(&wallet)?;
        let (balance, next_nonce) = self.chain()?.account(address).await?;
        Ok(json!({
            "wallet_id": wallet_id,
            "address": wallet.address,
            "balance": balance.0,
            "balance_aitbc": balance.to_decimal(),
            "next_nonce": next_nonce,
        }))
    }

    pub async fn history(&self, wallet_id: &str, page: Page) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let address = parse_stored_address(&wallet)?;
        self.chain()?.overview(address, page.checked()?).await
    }

    async fn preview_for(
        &self,
        wallet: &StoredWallet,
        to: &str,
        amount: &str,
    ) -> Result<preview::Preview, ApiError> {
        let chain = self.chain()?;
        let address = parse_stored_address(wallet)?;
        let sender = types::PublicKey::from_hex(&wallet.public_key).map_err(internal)?;
        let (balance, nonce) = chain.account(address).await?;
        preview::transfer(
            &chain.chain_id(),
            sender,
            balance,
            nonce,
            to,
            amount,
            chain.fees(),
        )
        .map_err(refused_transfer)
    }

    pub async fn preview(&self, wallet_id: &str, request: Transfer) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let preview = self
            .preview_for(&wallet, &request.to, &request.amount)
            .await?;
        Ok(json!({ "wallet_id": wallet_id, "preview": preview_json(&preview) }))
    }

    /// Checks, signs and sends a transfer; with `wait_seconds`, waits that long for its block.
    pub async fn send(
        &self,
        wallet_id: &str,
        request: SendTransfer,
    ) -> Result<(bool, Value), ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        let wait = Duration::from_secs(request.wait_seconds.unwrap_or(0));
        if wait > MAX_WAIT {
            return Err(ApiError::bad(
                "wait_seconds",
                format!("at most {}", MAX_WAIT.as_secs()),
            ));
        }
        let secret = self.secret(&wallet, request.password).await?;
        let key = secret.account(0).map_err(internal)?.key;
        let (preview, hash) = {
            let _turn = self.sending.lock().await;
            let preview = self
                .preview_for(&wallet, &request.transfer.to, &request.transfer.amount)
                .await?;
            let signed = preview.sign(&key).map_err(internal)?;
            let hash = signed.hash();
            self.chain()?.submit(signed).await?;
            (preview, hash)
        };
        self.event(
            wallet_id,
            "sent",
            json!({ "hash": hash.to_hex(), "to": preview.to, "amount": preview.amount.0 }),
        )
        .await;
        // Sent: from here on no error may reach the caller, who would send again. A status the
        // chain cannot tell now is "pending"; the transaction's route follows it.
        let deadline = Instant::now() + wait;
        let mut status = coordinator::TxState::Pending;
        loop {
            if let Ok(now) = self.chain()?.status(hash).await {
                status = now;
            }
            if matches!(status, coordinator::TxState::Included { .. }) || Instant::now() >= deadline
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut answer = status_json(hash, status);
        answer["wallet_id"] = json!(wallet_id);
        answer["preview"] = preview_json(&preview);
        Ok((
            matches!(status, coordinator::TxState::Included { .. }),
            answer,
        ))
    }

    pub async fn transaction(&self, wallet_id: &str, hash: &str) -> Result<Value, ApiError> {
        self.wallet(wallet_id).await?;
        let hash = Hash::from_hex(hash).ok_or_else(|| ApiError::bad("hash", "64 hex digits"))?;
        Ok(status_json(hash, self.chain()?.status(hash).await?))
    }

    /// The encrypted keystore, for an unlocked wallet only: anyone who may not use the wallet
    /// may not take its ciphertext away to guess at it without the daemon's waits.
    pub async fn keystore(&self, wallet_id: &str) -> Result<Value, ApiError> {
        let wallet = self.wallet(wallet_id).await?;
        self.secret(&wallet, None).await?;
        serde_json::from_str(&wallet.keystore).map_err(internal)
    }
}

use wallet::keystore;

fn check_wallet_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ApiError::bad(
            "wallet_id",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(())
}

fn parse_stored_address(wallet: &StoredWallet) -> Result<types::Address, ApiError> {
    types::Address::parse(&wallet.address).map_err(internal)
}

/// A transfer refused before signing: 422 with the reason, or 400 for what cannot be read.
fn refused_transfer(error: preview::PreviewError) -> ApiError {
    use preview::PreviewError as E;
    match &error {
        E::Recipient(_) => ApiError::bad("to", error),
        E::Amount(_) | E::Zero => ApiError::bad("amount", error),
        E::InsufficientFunds { .. } => ApiError::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
            error,
        ),
        E::WrongKey => internal(anyhow::anyhow!("{error}")),
    }
}

fn preview_json(preview: &preview::Preview) -> Value {
    json!({
        "chain_id": preview.chain_id,
        "from": preview.from,
        "to": preview.to,
        "amount": preview.amount.0,
        "amount_aitbc": preview.amount.to_decimal(),
        "fee": preview.fee.0,
        "total": preview.total.0,
        "balance_before": preview.balance_before.0,
        "balance_after": preview.balance_after.0,
        "nonce": preview.nonce,
    })
}

fn status_json(hash: Hash, status: coordinator::TxState) -> Value {
    match status {
        coordinator::TxState::Included { height } => {
            json!({ "hash": hash.to_hex(), "status": "included", "block_height": height })
        }
        coordinator::TxState::Pending => json!({ "hash": hash.to_hex(), "status": "pending" }),
        coordinator::TxState::Unknown => json!({ "hash": hash.to_hex(), "status": "unknown" }),
    }
}

// --- requests ---------------------------------------------------------------------------------

/// `POST /wallet/v1/wallets`: a new wallet from a fresh recovery phrase (returned once), or
/// imported from a phrase, a keystore file or (as the earlier daemon took it) a base64 seed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWallet {
    wallet_id: String,
    password: String,
    #[serde(default)]
    metadata: Map<String, Value>,
    #[serde(default)]
    mnemonic: Option<String>,
    #[serde(default)]
    keystore: Option<Value>,
    #[serde(default)]
    secret_key: Option<String>,
    /// 12 (default) or 24 words for a new phrase.
    #[serde(default)]
    words: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    password: String,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignMessage {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    message_base64: Option<String>,
    /// Signs without an unlock, as the earlier daemon did.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    to: String,
    /// Decimal AITBC, at most 6 decimals: `"12.5"`.
    amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendTransfer {
    #[serde(flatten)]
    transfer: Transfer,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    wait_seconds: Option<u64>,
}

// --- routes -----------------------------------------------------------------------------------

fn daemon_of(state: &AppState) -> Result<&Daemon, ApiError> {
    state.wallet.as_deref().ok_or_else(|| {
        ApiError::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_wallet_daemon",
            "this server runs no wallet daemon",
        )
    })
}

/// Serves loopback callers only, unless the operator allowed others.
async fn loopback_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Every connection the server accepts carries its peer; only in-process router tests lack it.
    // The Host must name loopback too: otherwise a web page whose name was rebound to 127.0.0.1
    // would call this from the user's own browser as a "local" caller.
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let allowed = state.wallet.as_ref().is_none_or(|d| d.allow_remote)
        || (peer.is_none_or(|ConnectInfo(addr)| addr.ip().is_loopback())
            && crate::coordinator_api::loopback_host(host));
    if allowed {
        next.run(request).await
    } else {
        ApiError::refused(
            StatusCode::FORBIDDEN,
            "loopback_only",
            "the wallet daemon serves this machine only (--wallet-allow-remote to change that)",
        )
        .into_response()
    }
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.list().await.map(Json)
}

async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CreateWallet>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = daemon_of(&state)?.create(request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn get_wallet(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let daemon = daemon_of(&state)?;
    let wallet = daemon.wallet(&id).await?;
    Ok(Json(json!({ "wallet": daemon.view(&wallet) })))
}

async fn unlock(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<Unlock>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.unlock(&id, request).await.map(Json)
}

async fn lock(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.lock(&id).await.map(Json)
}

async fn sign(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SignMessage>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.sign(&id, request).await.map(Json)
}

async fn balance(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.balance(&id).await.map(Json)
}

async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.history(&id, page).await.map(Json)
}

async fn preview_transfer(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<Transfer>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.preview(&id, request).await.map(Json)
}

/// `POST …/send`: 200 once the transfer is in a block, 202 while it waits.
async fn send(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SendTransfer>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (included, answer) = daemon_of(&state)?.send(&id, request).await?;
    let status = if included {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(answer)))
}

async fn transaction(
    State(state): State<AppState>,
    ApiPath((id, hash)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.transaction(&id, &hash).await.map(Json)
}

async fn export_keystore(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    daemon_of(&state)?.keystore(&id).await.map(Json)
}

/// `POST /wallet/v1/receipts/verify`: a job receipt's miner signature and attestations.
async fn verify_receipt(ApiJson(receipt): ApiJson<Value>) -> Json<Value> {
    let check = receipt::verify(&receipt);
    Json(json!({
        "job_id": receipt.get("job_id"),
        "receipt_id": receipt.get("receipt_id"),
        "verified": check.verified,
        "miner_signature": check.miner_signature,
        "signer": check.signer.map(|k| k.to_hex()),
        "attestations": check.attestations,
    }))
}

/// The daemon's routes, mounted at `/wallet`.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/wallets", get(list).post(create))
        .route("/v1/wallets/{id}", get(get_wallet))
        .route("/v1/wallets/{id}/unlock", post(unlock))
        .route("/v1/wallets/{id}/lock", post(lock))
        .route("/v1/wallets/{id}/sign", post(sign))
        .route("/v1/wallets/{id}/balance", get(balance))
        .route("/v1/wallets/{id}/history", get(history))
        .route("/v1/wallets/{id}/preview", post(preview_transfer))
        .route("/v1/wallets/{id}/send", post(send))
        .route("/v1/wallets/{id}/transactions/{hash}", get(transaction))
        .route("/v1/wallets/{id}/keystore", get(export_keystore))
        .route("/v1/receipts/verify", post(verify_receipt))
        .route("/rpc", post(rpc::call))
        .method_not_allowed_fallback(crate::api::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            loopback_only,
        ))
}
