//! `POST /rpc/faucet`: devnet funds for an address, signed with the genesis faucet key that this server holds, at most once a minute per address and for at most 60 addresses a minute.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::{Json, extract::State, http::StatusCode};
use chain::{mempool::Admitted, node::SubmitError};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use types::{Address, Amount, SecretKey, Transaction, TxBody};

use super::node_of;
use crate::{ApiError, ApiJson, AppState};

/// How often one address may ask.
const COOLDOWN: Duration = Duration::from_secs(60);
/// How many addresses the faucet funds per cooldown period, all together.
const MAX_PER_COOLDOWN: usize = 60;
/// What a request gets when it names no amount: 100 AITBC.
const DEFAULT_AMOUNT: Amount = Amount(100 * types::amount::BASE_UNITS_PER_AITBC);

/// The faucet's key and its memory of who asked when. One request is signed at a time, so
/// nonces never collide.
#[derive(Debug)]
pub struct Faucet {
    key: SecretKey,
    last: Mutex<HashMap<Address, Instant>>,
}

impl Faucet {
    pub fn new(key: SecretKey) -> Self {
        Faucet {
            key,
            last: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaucetRequest {
    address: String,
    /// In base units; at most the genesis faucet's limit per transaction.
    #[serde(default)]
    amount: Option<u64>,
}

/// Handler.
pub async fn request(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<FaucetRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let node = node_of(&state)?;
    let faucet = state.faucet.as_ref().ok_or_else(|| {
        ApiError::refused(
            StatusCode::NOT_FOUND,
            "no_faucet",
            "this chain has no faucet here",
        )
    })?;
    let to = Address::parse(&body.address).map_err(|e| ApiError::bad("address", e))?;
    let limit = node
        .genesis()
        .faucet
        .as_ref()
        .map_or(Amount::ZERO, |f| f.max_per_tx);
    let amount = body.amount.map_or(DEFAULT_AMOUNT.min(limit), Amount);
    if amount.0 == 0 || amount > limit {
        return Err(ApiError::bad(
            "amount",
            format!("must be between 1 and {} base units", limit.0),
        ));
    }
    let mut last = faucet.last.lock().await;
    // Forget addresses whose cooldown is over, and cap the faucet as a whole: fresh addresses
    // cost nothing to make, so a per-address limit alone would not stop draining it.
    last.retain(|_, at| at.elapsed() < COOLDOWN);
    if last.len() >= MAX_PER_COOLDOWN {
        return Err(ApiError::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the faucet is busy; try again in a minute",
        ));
    }
    if let Some(at) = last.get(&to)
        && at.elapsed() < COOLDOWN
    {
        let wait = (COOLDOWN - at.elapsed()).as_secs() + 1;
        return Err(ApiError::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("this address was funded recently; try again in {wait} s"),
        ));
    }
    let sender = faucet.key.public_key();
    let tx = Transaction {
        chain_id: node.genesis().chain_id.clone(),
        sender,
        nonce: node.next_nonce(&Address::of(&sender)).await,
        fee: Amount::ZERO,
        body: TxBody::Faucet { to, amount },
    }
    .sign(&faucet.key);
    match node.submit(tx).await {
        Ok(
            Admitted::New(hash) | Admitted::Replaced { new: hash, .. } | Admitted::Duplicate(hash),
        ) => {
            last.insert(to, Instant::now());
            Ok((
                StatusCode::ACCEPTED,
                Json(
                    json!({ "tx_hash": hash.to_hex(), "address": to.to_string(), "amount": amount.0, "status": "pending" }),
                ),
            ))
        }
        Err(SubmitError::Refused(error)) => Err(ApiError::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            &error,
        )),
        Err(SubmitError::Store(error)) => Err(ApiError::Internal(anyhow::Error::new(error))),
    }
}
