//! The earlier wallet daemon's JSON-RPC 2.0 at `POST /wallet/rpc`: `wallet.list`, `wallet.create`, `wallet.unlock`, `wallet.lock`, `wallet.sign` (its `message` in base64, its signature answered in base64, as before), `wallet.balance`, `wallet.send` and `receipts.verify`, done by the same code as the REST routes, with the earlier error codes.

use axum::{Json, extract::State, http::StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{Daemon, daemon_of};
use crate::{ApiError, AppState, error::ApiJson};

/// The earlier codes, and ours for what it had none for.
fn error_code(error: &ApiError) -> i64 {
    match error.status() {
        StatusCode::UNAUTHORIZED => -32001,
        StatusCode::NOT_FOUND => -32004,
        StatusCode::TOO_MANY_REQUESTS => -32005,
        StatusCode::FORBIDDEN => -32003,
        status if status.is_client_error() => -32602,
        _ => -32000,
    }
}

/// `params` without `wallet_id`, read as `T`; and the wallet id.
fn split<T: DeserializeOwned>(params: &Value) -> Result<(String, T), ApiError> {
    let mut rest: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    let wallet_id = rest
        .remove("wallet_id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| ApiError::bad("wallet_id", "missing"))?;
    let request = serde_json::from_value(Value::Object(rest))
        .map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    Ok((wallet_id, request))
}

async fn dispatch(daemon: &Daemon, method: &str, params: Value) -> Result<Value, ApiError> {
    match method {
        "wallet.list" => daemon.list().await,
        "wallet.create" => {
            let request =
                serde_json::from_value(params).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
            daemon.create(request).await
        }
        "wallet.unlock" => {
            let (id, request) = split(&params)?;
            daemon.unlock(&id, request).await
        }
        "wallet.lock" => {
            let (id, _): (String, Value) = split(&params)?;
            daemon.lock(&id).await
        }
        "wallet.sign" => {
            // The earlier `message` was base64.
            let mut params = params;
            if let Some(message) = params.as_object_mut().and_then(|p| p.remove("message")) {
                params["message_base64"] = message;
            }
            let (id, request) = split(&params)?;
            let mut signed = daemon.sign(&id, request).await?;
            signed["signature"] = signed["signature_base64"].clone();
            Ok(signed)
        }
        "wallet.balance" => {
            let (id, _): (String, Value) = split(&params)?;
            daemon.balance(&id).await
        }
        "wallet.send" => {
            let (id, request) = split(&params)?;
            daemon.send(&id, request).await.map(|(_, answer)| answer)
        }
        "receipts.verify" => {
            let receipt = params.get("receipt").cloned().unwrap_or(params);
            Ok(super::verify_receipt(ApiJson(receipt)).await.0)
        }
        _ => Err(ApiError::RouteNotFound {
            method: "RPC".into(),
            path: method.to_owned(),
        }),
    }
}

/// `POST /wallet/rpc`.
pub async fn call(State(state): State<AppState>, ApiJson(call): ApiJson<Value>) -> Json<Value> {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let answer = |result: Result<Value, (i64, String)>| {
        Json(match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err((code, message)) => {
                json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
            }
        })
    };
    if call.get("jsonrpc") != Some(&json!("2.0")) {
        return answer(Err((-32600, "not a JSON-RPC 2.0 request".into())));
    }
    let Some(method) = call.get("method").and_then(Value::as_str) else {
        return answer(Err((-32600, "the request names no method".into())));
    };
    let daemon = match daemon_of(&state) {
        Ok(daemon) => daemon,
        Err(error) => return answer(Err((-32000, error.to_string()))),
    };
    let params = call.get("params").cloned().unwrap_or(json!({}));
    match dispatch(daemon, method, params).await {
        Ok(result) => answer(Ok(result)),
        Err(ApiError::RouteNotFound { .. }) => {
            answer(Err((-32601, format!("unknown method {method}"))))
        }
        Err(error) => {
            let code = error_code(&error);
            let message = match &error {
                ApiError::Internal(cause) => {
                    tracing::error!(method, error = %format!("{cause:#}"), "wallet RPC failed");
                    "internal error".to_owned()
                }
                other => other.to_string(),
            };
            answer(Err((code, message)))
        }
    }
}
