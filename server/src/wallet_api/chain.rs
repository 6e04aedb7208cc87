//! The chain as the wallet daemon reads and writes it: the node of this process, or a node's RPC when the daemon runs on its own. Balances, nonces, an address's history, the fee rule, sending a transaction and following it to a block.

use std::sync::Arc;

use axum::http::StatusCode;
use coordinator::{Ledger, LedgerError, TxState, rpc_ledger::RpcLedger};
use serde_json::Value;
use types::{Address, Amount, Hash, SignedTransaction};
use wallet::FeeSchedule;

use crate::{ApiError, rpc::Page};

/// Where the daemon's chain is.
#[derive(Clone, Debug)]
pub enum WalletChain {
    Node(chain::Node),
    Rpc(Arc<RpcLedger>),
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    ApiError::refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "chain_unavailable",
        format!("the chain cannot be reached: {error}"),
    )
}

impl WalletChain {
    fn ledger(&self) -> &dyn Ledger {
        match self {
            WalletChain::Node(node) => node,
            WalletChain::Rpc(rpc) => &**rpc,
        }
    }

    pub fn chain_id(&self) -> String {
        self.ledger().chain_id()
    }

    /// The chain's fee rule (a base fee and a price per byte).
    pub fn fees(&self) -> FeeSchedule {
        let ledger = self.ledger();
        let base_fee = ledger.required_fee(0).0;
        FeeSchedule {
            base_fee,
            fee_per_byte: ledger.required_fee(1).0.saturating_sub(base_fee),
        }
    }

    /// The balance of `address` and the nonce its next transaction must carry.
    pub async fn account(&self, address: Address) -> Result<(Amount, u64), ApiError> {
        match self {
            WalletChain::Node(node) => Ok((
                node.account(&address).await.balance,
                node.next_nonce(&address).await,
            )),
            WalletChain::Rpc(rpc) => {
                let answer = rpc
                    .get(&format!("/rpc/getBalance/{address}"))
                    .await
                    .map_err(unavailable)?;
                let field = |name: &str| {
                    answer[name]
                        .as_u64()
                        .ok_or_else(|| unavailable(format!("getBalance without {name}")))
                };
                Ok((Amount(field("balance")?), field("next_nonce")?))
            }
        }
    }

    /// Balance, nonce and a page of the history of `address`, as the node's RPC shows them.
    pub async fn overview(&self, address: Address, page: Page) -> Result<Value, ApiError> {
        match self {
            WalletChain::Node(node) => crate::rpc::overview(node, address, page).await,
            WalletChain::Rpc(rpc) => rpc
                .get(&format!(
                    "/rpc/address/{address}?limit={}&offset={}",
                    page.limit, page.offset
                ))
                .await
                .map_err(unavailable),
        }
    }

    /// Sends `tx`; a refusal by the chain is the caller's error (422), with the chain's reason.
    pub async fn submit(&self, tx: SignedTransaction) -> Result<(), ApiError> {
        match self.ledger().submit(tx).await {
            Ok(()) => Ok(()),
            Err(LedgerError::Refused { code, message }) => Err(ApiError::refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                &code,
                message,
            )),
            Err(error) => Err(unavailable(error)),
        }
    }

    pub async fn status(&self, hash: Hash) -> Result<TxState, ApiError> {
        self.ledger().status(hash).await.map_err(unavailable)
    }
}
