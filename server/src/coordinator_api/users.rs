//! Browser sign-in under the earlier `/v1/users/…` paths, made real: a challenge for the wallet to sign (`challenge`), a session for a valid signature (`login`), the session's owner (`me`) and its end (`logout`). The session token travels in `Authorization: Bearer` or `X-Session-Token`, never in a URL.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::Deserialize;
use serde_json::{Value, json};
use types::{Address, PublicKey, Signature};

use super::{coordinator_of, time};
use crate::{ApiError, AppState, error::ApiJson};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    wallet_address: String,
}

fn address(text: &str) -> Result<Address, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad("wallet_address", "not an AITBC address (ait1…)"))
}

/// `POST /v1/users/challenge`: the text the wallet must sign, for the host the request names.
pub async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Result<Json<Value>, ApiError> {
    let address = address(&request.wallet_address)?;
    let domain = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !signs_in_from(&state.config.sign_in_domains, domain) {
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "foreign_domain",
            format!("this server signs users in from its own domains only, not {domain}"),
        ));
    }
    let sign_in = coordinator_of(&state)?
        .sign_in_challenge(address, domain)
        .await?;
    Ok(Json(json!({
        "message": sign_in.message(),
        "nonce": sign_in.nonce,
        "domain": sign_in.domain,
        "wallet_address": sign_in.address.to_string(),
        "chain_id": sign_in.chain_id,
        "issued_at": sign_in.issued_at,
        "expires_at": sign_in.expires_at,
    })))
}

/// Whether users may sign in from `host`: one of the configured domains, or, with none
/// configured, a loopback host.
fn signs_in_from(domains: &[String], host: &str) -> bool {
    if !domains.is_empty() {
        return domains.iter().any(|d| d.eq_ignore_ascii_case(host));
    }
    loopback_host(host)
}

/// Whether `host` (a `Host` header: a name with an optional port) names this machine's loopback.
pub(crate) fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    wallet_address: String,
    /// Hex Ed25519 public key of the address.
    public_key: String,
    nonce: String,
    /// Hex signature of the challenge's message (`types::message::sign`).
    signature: String,
}

/// `POST /v1/users/login`: a session for a valid signature of an unused, unexpired challenge.
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let address = address(&request.wallet_address)?;
    let public_key = PublicKey::from_hex(&request.public_key)
        .map_err(|_| ApiError::bad("public_key", "not a hex Ed25519 public key"))?;
    let signature = Signature::from_hex(&request.signature)
        .map_err(|_| ApiError::bad("signature", "not a hex Ed25519 signature (128 digits)"))?;
    let signed_in = coordinator_of(&state)?
        .sign_in(address, public_key, &request.nonce, &signature)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "user_id": address.to_string(),
            "wallet_address": address.to_string(),
            "session_token": signed_in.token,
            "created_at": time(signed_in.session.created_at),
            "expires_at": time(signed_in.session.expires_at),
        })),
    ))
}

/// The session token a request carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-session-token").and_then(|v| v.to_str().ok()))
}

fn no_session() -> ApiError {
    ApiError::refused(
        StatusCode::UNAUTHORIZED,
        "no_session",
        "sign in first: send the session token as `Authorization: Bearer <token>`",
    )
}

/// `GET /v1/users/me`: who the session belongs to and until when.
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = session_token(&headers).ok_or_else(no_session)?;
    let session = coordinator_of(&state)?
        .session(token)
        .await?
        .ok_or_else(no_session)?;
    Ok(Json(json!({
        "user_id": session.address.to_string(),
        "wallet_address": session.address.to_string(),
        "created_at": time(session.created_at),
        "expires_at": time(session.expires_at),
    })))
}

/// `POST /v1/users/logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = session_token(&headers).ok_or_else(no_session)?;
    if !coordinator_of(&state)?.sign_out(token).await? {
        return Err(no_session());
    }
    Ok(Json(json!({ "message": "signed out" })))
}

#[cfg(test)]
mod tests {
    use super::signs_in_from;

    #[test]
    fn only_the_configured_or_loopback_hosts_sign_in() {
        assert!(signs_in_from(&[], "127.0.0.1:8080"));
        assert!(signs_in_from(&[], "localhost"));
        assert!(signs_in_from(&[], "[::1]:8080"));
        assert!(!signs_in_from(&[], "evil.example:8080"));
        assert!(!signs_in_from(&[], "127.0.0.1.evil.example"));
        let ours = ["aitbc.example.org".to_owned()];
        assert!(signs_in_from(&ours, "AITBC.example.org"));
        assert!(!signs_in_from(&ours, "127.0.0.1:8080"));
        assert!(!signs_in_from(&ours, "aitbc.example.org.evil"));
    }
}
