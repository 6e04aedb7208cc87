//! The chain through a node's RPC (`/rpc/…`) as the coordinator's [`Ledger`], for a coordinator that runs on its own (the split deployment's :8000) and pays through a node elsewhere.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use types::{Address, Amount, Hash, SignedTransaction};

use crate::ledger::{Ledger, LedgerError, Pending, TxState};

/// A node's RPC, reached at its root URL (`http://127.0.0.1:9080`).
#[derive(Clone, Debug)]
pub struct RpcLedger {
    http: reqwest::Client,
    base: String,
    chain_id: String,
    min_fee: u64,
    fee_per_byte: u64,
}

fn unavailable(error: impl std::fmt::Display) -> LedgerError {
    LedgerError::Unavailable(error.to_string())
}

impl RpcLedger {
    /// Asks the node at `base` for its chain id and fee schedule.
    pub async fn connect(base: &str) -> Result<RpcLedger, LedgerError> {
        let mut ledger = RpcLedger {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(unavailable)?,
            base: base.trim_end_matches('/').to_owned(),
            chain_id: String::new(),
            min_fee: 0,
            fee_per_byte: 0,
        };
        let status = ledger.get("/rpc/syncStatus").await?;
        ledger.chain_id = status["chain_id"]
            .as_str()
            .ok_or_else(|| unavailable(format!("{base} answers no chain id")))?
            .to_owned();
        let fees = ledger
            .http
            .post(format!("{}/rpc/estimateFee", ledger.base))
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(unavailable)?;
        if !fees.status().is_success() {
            return Err(unavailable(format!("estimateFee: {}", fees.status())));
        }
        let fees: Value = fees.json().await.map_err(unavailable)?;
        let (Some(min_fee), Some(fee_per_byte)) =
            (fees["base_fee"].as_u64(), fees["fee_per_byte"].as_u64())
        else {
            return Err(unavailable(format!("{base} answers no fee schedule")));
        };
        ledger.min_fee = min_fee;
        ledger.fee_per_byte = fee_per_byte;
        Ok(ledger)
    }

    /// Reads `path` of the node's RPC (`/rpc/…`) as JSON; what the wallet daemon on its own
    /// reads balances and histories with.
    pub async fn get(&self, path: &str) -> Result<Value, LedgerError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(unavailable(format!("GET {path}: {}", response.status())));
        }
        response.json().await.map_err(unavailable)
    }
}

impl Ledger for RpcLedger {
    fn chain_id(&self) -> String {
        self.chain_id.clone()
    }

    fn submit(&self, tx: SignedTransaction) -> Pending<'_, ()> {
        Box::pin(async move {
            let response = self
                .http
                .post(format!("{}/rpc/sendTx", self.base))
                .json(&tx)
                .send()
                .await
                .map_err(unavailable)?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body: Value = response.json().await.unwrap_or_default();
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                Err(LedgerError::Refused {
                    code: body["error"]["code"]
                        .as_str()
                        .unwrap_or("refused")
                        .to_lowercase(),
                    message,
                })
            } else {
                Err(unavailable(format!("sendTx: {status} {message}")))
            }
        })
    }

    fn status(&self, hash: Hash) -> Pending<'_, TxState> {
        Box::pin(async move {
            let response = self
                .http
                .get(format!("{}/rpc/tx/{}", self.base, hash.to_hex()))
                .send()
                .await
                .map_err(unavailable)?;
            if response.status() == StatusCode::NOT_FOUND {
                return Ok(TxState::Unknown);
            }
            if !response.status().is_success() {
                return Err(unavailable(format!("tx status: {}", response.status())));
            }
            let view: Value = response.json().await.map_err(unavailable)?;
            Ok(match view["block_height"].as_u64() {
                Some(height) => TxState::Included { height },
                None => TxState::Pending,
            })
        })
    }

    fn head_height(&self) -> Pending<'_, u64> {
        Box::pin(async move {
            self.get("/rpc/syncStatus").await?["head_height"]
                .as_u64()
                .ok_or_else(|| unavailable("no head height"))
        })
    }

    fn next_nonce(&self, address: Address) -> Pending<'_, u64> {
        Box::pin(async move {
            self.get(&format!("/rpc/getBalance/{address}")).await?["next_nonce"]
                .as_u64()
                .ok_or_else(|| unavailable("no next_nonce"))
        })
    }

    fn required_fee(&self, len: usize) -> Amount {
        Amount(
            self.min_fee
                .saturating_add(self.fee_per_byte.saturating_mul(len as u64)),
        )
    }
}
