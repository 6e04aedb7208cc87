//! Account routes: balance and nonce, an address's overview, and a Merkle proof of an account against the head's state root.

use axum::{Json, extract::State};
use serde_json::{Value, json};
use types::Address;

use super::{
    node_of,
    views::{Page, TxView, status_at},
};
use crate::{
    ApiError, AppState,
    error::{ApiPath, ApiQuery},
};

fn address_param(text: &str) -> Result<Address, ApiError> {
    Address::parse(text).map_err(|e| ApiError::bad("address", e))
}

/// `GET /rpc/getBalance/{address}`: an unknown address has balance 0 and nonce 0.
pub async fn balance(
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let address = address_param(&address)?;
    let account = node.account(&address).await;
    Ok(Json(
        json!({ "address": address.to_string(), "balance": account.balance.0, "nonce": account.nonce }),
    ))
}

/// `GET /rpc/address/{address}?limit=&offset=`: balance, nonce and the transactions the address
/// sent or received, newest first, each with its direction and counterparty.
pub async fn address(
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let address = address_param(&address)?;
    let page = page.checked()?;
    let account = node.account(&address).await;
    let history = node
        .store()
        .history(&address, page.limit, page.offset)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let mut items = Vec::with_capacity(history.transactions.len());
    for stored in &history.transactions {
        let status = status_at(node, stored.block_height).await;
        let view = TxView::of(
            &stored.tx,
            status,
            Some(stored.block_height),
            Some(stored.index),
        );
        let sent = stored.tx.tx.sender_address() == address;
        let counterparty = if sent {
            view.recipient.clone()
        } else {
            view.sender.clone()
        };
        let mut item =
            serde_json::to_value(view).map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
        item["direction"] = json!(if sent { "sent" } else { "received" });
        item["counterparty"] = json!(counterparty);
        items.push(item);
    }
    Ok(Json(json!({
        "address": address.to_string(),
        "balance": account.balance.0,
        "balance_aitbc": account.balance.to_decimal(),
        "nonce": account.nonce,
        "total_transactions_sent": history.sent,
        "total_transactions_received": history.received,
        "transactions": items,
        "total": history.total,
        "limit": page.limit,
        "offset": page.offset,
    })))
}

/// `GET /rpc/accounts/{address}/proof`: the account and its Merkle path to the head's state root.
pub async fn proof(
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let address = address_param(&address)?;
    let head = node.head().await;
    let chain_state = node.state().await;
    // The state and the head are read separately; prove against the root of the state we read.
    let account = chain_state
        .get(&address)
        .ok_or_else(|| ApiError::NotFound(format!("account {address}")))?;
    let proof = chain_state
        .proof(&address)
        .ok_or_else(|| ApiError::NotFound(format!("account {address}")))?;
    let root = chain_state.root();
    Ok(Json(json!({
        "address": address.to_string(),
        "balance": account.balance.0,
        "nonce": account.nonce,
        "state_root": root.to_hex(),
        "block_height": if root == head.header.state_root { Some(head.header.height) } else { None },
        "proof": proof,
    })))
}

/// `GET /rpc/addresses?limit=&offset=`: accounts by balance, largest first, with the total supply.
pub async fn addresses(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let node = node_of(&state)?;
    let page = page.checked()?;
    let chain_state = node.state().await;
    let mut accounts: Vec<_> = chain_state.accounts().collect();
    accounts.sort_by(|a, b| b.1.balance.cmp(&a.1.balance).then(a.0.cmp(b.0)));
    let items: Vec<Value> = accounts
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(page.limit as usize)
        .map(|(address, account)| json!({ "address": address.to_string(), "balance": account.balance.0, "nonce": account.nonce }))
        .collect();
    Ok(Json(json!({
        "addresses": items,
        "total": accounts.len(),
        "total_supply": chain_state.supply().map(|s| s.0),
        "limit": page.limit,
        "offset": page.offset,
    })))
}
