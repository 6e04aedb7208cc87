//! Account routes: balance and nonce, an address's overview, its whole history as CSV, and a Merkle proof of an account against the head's state root.

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
    Ok(Json(json!({
        "address": address.to_string(),
        "balance": account.balance.0,
        "nonce": account.nonce,
        "next_nonce": node.next_nonce(&address).await,
    })))
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
    overview(node, address, page.checked()?).await.map(Json)
}

/// An address's balance, nonce and a page of its history, as `GET /rpc/address/…` answers (the
/// wallet daemon reads it too).
pub async fn overview(node: &chain::Node, address: Address, page: Page) -> Result<Value, ApiError> {
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
    Ok(json!({
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
    }))
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
    let ranking = node
        .richest(
            usize::try_from(page.offset).unwrap_or(usize::MAX),
            page.limit as usize,
        )
        .await;
    let items: Vec<Value> = ranking
        .accounts
        .iter()
        .map(|(address, account)| json!({ "address": address.to_string(), "balance": account.balance.0, "nonce": account.nonce }))
        .collect();
    Ok(Json(json!({
        "addresses": items,
        "total": ranking.total,
        "total_supply": ranking.supply.map(|s| s.0),
        "limit": page.limit,
        "offset": page.offset,
    })))
}

/// Rows read from the database per step of a CSV export.
const CSV_BATCH: u32 = 1_000;

/// `GET /rpc/address/{address}/history.csv`: every transaction the address sent or received,
/// oldest first, streamed as CSV (for spreadsheets and accounting). Amounts are in AITBC with six
/// decimals; the sender pays the fee.
pub async fn history_csv(
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::{
        body::Body,
        http::header::{CONTENT_DISPOSITION, CONTENT_TYPE},
        response::IntoResponse,
    };
    use futures::StreamExt;
    let node = node_of(&state)?.clone();
    let address = address_param(&address)?;
    const HEADER: &str =
        "tx_hash,block_height,timestamp,type,direction,counterparty,amount_aitbc,fee_aitbc,nonce\n";
    // Each step reads one batch after the last row written; `None` once everything is out.
    let rows = futures::stream::unfold(Some(None), move |cursor| {
        let node = node.clone();
        async move {
            let after = cursor?;
            let batch = match node.store().history_after(&address, after, CSV_BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "history export failed");
                    return Some((Err(std::io::Error::other("history export failed")), None));
                }
            };
            let next = match batch.last() {
                Some(last) if batch.len() == CSV_BATCH as usize => {
                    Some(Some((last.block_height, last.index)))
                }
                _ => None,
            };
            let mut text = String::with_capacity(batch.len() * 200);
            for stored in &batch {
                csv_row(&mut text, stored, &address);
            }
            if batch.is_empty() {
                return None;
            }
            Some((Ok::<_, std::io::Error>(text), next))
        }
    });
    let body = futures::stream::once(async { Ok(HEADER.to_owned()) }).chain(rows);
    let filename = format!("attachment; filename=\"{address}-history.csv\"");
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, filename),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn csv_row(out: &mut String, stored: &chain::store::StoredTx, address: &Address) {
    use std::fmt::Write;
    let tx = &stored.tx.tx;
    let sent = tx.sender_address() == *address;
    let counterparty = if sent {
        tx.body
            .recipient()
            .map(|a| a.to_string())
            .unwrap_or_default()
    } else {
        tx.sender_address().to_string()
    };
    // Every field is hex, bech32, a number, a fixed word or a timestamp: nothing to quote.
    let _ = writeln!(
        out,
        "{},{},{},{},{},{},{},{},{}",
        stored.tx.hash().to_hex(),
        stored.block_height,
        super::views::rfc3339(stored.timestamp_ms),
        tx.body.kind(),
        if sent { "sent" } else { "received" },
        counterparty,
        tx.body.amount().to_decimal(),
        tx.fee.to_decimal(),
        tx.nonce,
    );
}
