//! The GPU marketplace under the earlier `/v1/marketplace/…` paths: public reads (offers, stats, bids, GPUs, reviews, pricing), miners list GPUs, post offers and decide bids with their key, clients (an API key or a wallet session) bid, book, release, review and see their orders.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use coordinator::{
    Role,
    market::{GpuFilter, NewBid, NewOffer, RegisterGpu},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{authorize, coordinator_of};
use crate::{
    ApiError, AppState,
    error::{ApiJson, ApiPath, ApiQuery},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferQuery {
    status: Option<String>,
    #[serde(default = "hundred")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn hundred() -> i64 {
    100
}

fn page<T>(items: Vec<T>, limit: i64, offset: i64) -> Result<Vec<T>, ApiError> {
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::bad("limit", "limit from 1 to 500, offset from 0"));
    }
    Ok(items
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect())
}

/// `GET /v1/marketplace/offers`: one offer per online miner, then the offers miners posted.
pub async fn offers(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OfferQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let offers = coordinator_of(&state)?
        .offers(query.status.as_deref(), false)
        .await?;
    Ok(Json(page(offers, query.limit, query.offset)?))
}

/// `GET /v1/marketplace/miner-offers`: the offers derived from online miners only.
pub async fn miner_offers(State(state): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(coordinator_of(&state)?.offers(None, true).await?))
}

/// `POST /v1/marketplace/offers` (miner key).
pub async fn create_offer(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(offer): ApiJson<NewOffer>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let id = coordinator_of(&state)?
        .create_offer(&miner.identity, offer)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /v1/marketplace/stats`.
pub async fn stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(coordinator_of(&state)?.market_stats().await?))
}

/// `POST /v1/marketplace/bids` (client key or session): 202 with the bid's id.
pub async fn create_bid(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(bid): ApiJson<NewBid>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let id = coordinator_of(&state)?
        .create_bid(&client.identity, bid)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidQuery {
    status: Option<String>,
    provider: Option<String>,
    #[serde(default = "hundred")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

/// `GET /v1/marketplace/bids`.
pub async fn bids(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<BidQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(
        coordinator_of(&state)?
            .bids(
                query.status.as_deref(),
                query.provider.as_deref(),
                query.limit,
                query.offset,
            )
            .await?,
    ))
}

/// `GET /v1/marketplace/bids/{id}`.
pub async fn bid(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(coordinator_of(&state)?.bid(&id).await?))
}

async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    accept: bool,
) -> Result<Json<Value>, ApiError> {
    let miner = authorize(state, headers, Role::Miner).await?;
    Ok(Json(
        coordinator_of(state)?
            .decide_bid(&miner.identity, id, accept)
            .await?,
    ))
}

/// `POST /v1/marketplace/bids/{id}/accept` (the provider's miner key).
pub async fn accept_bid(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &headers, &id, true).await
}

/// `POST /v1/marketplace/bids/{id}/reject` (the provider's miner key).
pub async fn reject_bid(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &headers, &id, false).await
}

/// `POST /v1/marketplace/gpu/register` (miner key).
pub async fn register_gpu(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterGpu>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let miner = authorize(&state, &headers, Role::Miner).await?;
    let gpu = coordinator_of(&state)?
        .register_gpu(&miner.identity, request.gpu)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "gpu_id": gpu.id, "status": "registered", "message": format!("{} listed at {} AITBC/h", gpu.model, gpu.price_per_hour) }),
        ),
    ))
}

/// `GET /v1/marketplace/gpu/list`.
pub async fn gpus(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<GpuFilter>,
) -> Result<Json<Value>, ApiError> {
    let gpus = coordinator_of(&state)?.gpus(&filter).await?;
    Ok(Json(json!(gpus)))
}

/// `GET /v1/marketplace/gpu/{id}`.
pub async fn gpu(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(coordinator_of(&state)?.gpu(&id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Book {
    duration_hours: f64,
    #[serde(default)]
    job_id: Option<String>,
}

/// `POST /v1/marketplace/gpu/{id}/book` (client key or session): 201 with the booking.
pub async fn book(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(book): ApiJson<Book>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let booking = coordinator_of(&state)?
        .book(&client.identity, &id, book.duration_hours, book.job_id)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(booking))))
}

/// `POST /v1/marketplace/gpu/{id}/release` (the booking client).
pub async fn release(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let booking = coordinator_of(&state)?
        .release_gpu(&client.identity, &id)
        .await?;
    Ok(Json(json!(booking)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    #[serde(default = "ten")]
    limit: i64,
}

fn ten() -> i64 {
    10
}

/// `GET /v1/marketplace/gpu/{id}/reviews`.
pub async fn reviews(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ReviewQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        coordinator_of(&state)?.reviews(&id, query.limit).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    rating: i32,
    #[serde(default)]
    comment: String,
}

/// `POST /v1/marketplace/gpu/{id}/reviews` (a client who booked it): 201.
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(review): ApiJson<Review>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let gpu = coordinator_of(&state)?
        .review(&client.identity, &id, review.rating, &review.comment)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "gpu_id": gpu.id, "average_rating": gpu.average_rating, "total_reviews": gpu.total_reviews }),
        ),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    status: Option<String>,
    #[serde(default = "hundred")]
    limit: i64,
}

/// `GET /v1/marketplace/orders` (client key or session): the caller's bookings.
pub async fn orders(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<OrderQuery>,
) -> Result<Json<Value>, ApiError> {
    let client = authorize(&state, &headers, Role::Client).await?;
    let orders = coordinator_of(&state)?
        .orders(&client.identity, query.status.as_deref(), query.limit)
        .await?;
    Ok(Json(json!(orders)))
}

/// `GET /v1/marketplace/pricing/{model}`.
pub async fn pricing(
    State(state): State<AppState>,
    ApiPath(model): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(coordinator_of(&state)?.pricing(&model).await?))
}
