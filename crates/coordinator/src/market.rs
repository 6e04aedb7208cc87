//! The GPU marketplace, backed by live miners and real bookings: miners list their GPUs with an hourly price; a client books a GPU for some hours, which reserves its miner for that client's jobs (each job still paid through its escrow); bookings end when their time is up or the client releases them early; clients who booked a GPU may review it. The earlier offers (one derived from each online miner, plus offers miners post) and bids (which the named provider accepts or rejects) sit beside it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use crate::{
    Coordinator, Error, MinerStatus, invalid, random_hex,
    store::{MinerLoad, StoreError},
};

/// Base units per AITBC.
const BASE: f64 = 1_000_000.0;
/// The longest booking: 30 days; the shortest: a minute.
const MAX_HOURS: f64 = 720.0;
const MIN_HOURS: f64 = 1.0 / 60.0;
/// Bookings one client may hold at once: a booking is not paid for by itself (each job is), so
/// this keeps one client from reserving every miner.
const MAX_ACTIVE_BOOKINGS: i64 = 4;

/// An amount in AITBC as the earlier API wrote it (a decimal number), in base units; refused
/// when not positive, beyond a billion, or finer than a base unit.
pub fn base_units(field: &'static str, aitbc: f64) -> Result<u64, Error> {
    let scaled = aitbc * BASE;
    if !aitbc.is_finite() || aitbc <= 0.0 || aitbc > 1e9 {
        return Err(invalid(
            field,
            "must be above 0 and at most 1,000,000,000 AITBC",
        ));
    }
    if (scaled - scaled.round()).abs() > 1e-3 {
        return Err(invalid(field, "has more than 6 decimals"));
    }
    Ok(scaled.round() as u64)
}

fn aitbc(base: i64) -> f64 {
    base as f64 / BASE
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() || value.len() > max {
        return Err(invalid(field, format!("must be 1 to {max} characters")));
    }
    Ok(())
}

/// `POST /marketplace/gpu/register`: `{gpu: {…}}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterGpu {
    pub gpu: NewGpu,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGpu {
    /// The earlier body named the miner; it must be the caller.
    #[serde(default)]
    pub miner_id: Option<String>,
    pub name: String,
    /// GB of GPU memory.
    #[serde(alias = "memory_gb")]
    pub memory: f64,
    #[serde(default)]
    pub cuda_version: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// AITBC per hour.
    pub price_per_hour: f64,
    /// Models and features it serves.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// A GPU as the marketplace shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GpuView {
    pub id: String,
    pub miner_id: String,
    pub model: String,
    pub memory_gb: f64,
    pub cuda_version: Option<String>,
    pub region: Option<String>,
    /// AITBC per hour.
    pub price_per_hour: f64,
    pub price_per_hour_base_units: i64,
    /// `available`, `booked`, or `offline` (its miner is not heard from or deactivated).
    pub status: &'static str,
    pub capabilities: Vec<String>,
    pub created_at: String,
    pub average_rating: f64,
    pub total_reviews: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_booking: Option<BookingView>,
}

/// A booking (the earlier "order").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BookingView {
    pub booking_id: String,
    pub order_id: String,
    pub gpu_id: String,
    pub miner_id: String,
    pub duration_hours: f64,
    /// AITBC: hours × the hourly price when booked.
    pub total_cost: f64,
    pub total_cost_base_units: i64,
    pub status: String,
    pub start_time: String,
    pub end_time: String,
    pub job_id: Option<String>,
}

fn booking_of(row: &AnyRow) -> Result<BookingView, StoreError> {
    let id: String = row.try_get("id")?;
    let start: i64 = row.try_get("start_at")?;
    let end: i64 = row.try_get("end_at")?;
    let cost: i64 = row.try_get("total_cost")?;
    Ok(BookingView {
        order_id: id.clone(),
        booking_id: id,
        gpu_id: row.try_get("gpu_id")?,
        miner_id: row.try_get("miner_id")?,
        duration_hours: (end - start) as f64 / 3_600_000.0,
        total_cost: aitbc(cost),
        total_cost_base_units: cost,
        status: row.try_get("status")?,
        start_time: crate::sessions::rfc3339(start),
        end_time: crate::sessions::rfc3339(end),
        job_id: row.try_get("job_id")?,
    })
}

const BOOKING_COLUMNS: &str =
    "id, gpu_id, miner_id, client_id, start_at, end_at, total_cost, status, job_id";

/// Filters of `GET /marketplace/gpu/list`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuFilter {
    pub available: Option<bool>,
    pub price_max: Option<f64>,
    pub region: Option<String>,
    pub model: Option<String>,
    pub limit: Option<i64>,
}

/// `POST /marketplace/offers`: an offer a miner posts beside the one derived from it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    pub capacity: i32,
    /// AITBC per unit-hour.
    pub price: f64,
    #[serde(default)]
    pub sla: Option<String>,
    #[serde(default)]
    pub attributes: Value,
}

/// `POST /marketplace/bids`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBid {
    /// The preferred provider (a miner id), or anyone.
    #[serde(default)]
    pub provider: Option<String>,
    pub capacity: i32,
    /// AITBC per unit-hour.
    pub price: f64,
    #[serde(default)]
    pub notes: Option<String>,
}

fn bid_of(row: &AnyRow) -> Result<Value, StoreError> {
    let price: i64 = row.try_get("price")?;
    Ok(json!({
        "id": row.try_get::<String, _>("id")?,
        "provider": row.try_get::<Option<String>, _>("provider")?,
        "capacity": row.try_get::<i32, _>("capacity")?,
        "price": aitbc(price),
        "price_base_units": price,
        "notes": row.try_get::<Option<String>, _>("notes")?,
        "status": row.try_get::<String, _>("status")?,
        "submitted_at": crate::sessions::rfc3339(row.try_get("submitted_at")?),
        "decided_by": row.try_get::<Option<String>, _>("decided_by")?,
    }))
}

const OFFER_STATUSES: [&str; 4] = ["open", "reserved", "closed", "booked"];

impl Coordinator {
    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    fn writer(&self) -> &sqlx::AnyPool {
        self.store.writer()
    }

    /// Ends bookings whose time is up.
    async fn end_due_bookings(&self, now: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE bookings SET status = 'ended' WHERE status = 'active' AND end_at <= $1",
        )
        .bind(now)
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        Ok(())
    }

    /// Lists a GPU of the registered miner `miner_id`.
    pub async fn register_gpu(&self, miner_id: &str, gpu: NewGpu) -> Result<GpuView, Error> {
        if gpu.miner_id.as_deref().is_some_and(|m| m != miner_id) {
            return Err(invalid(
                "gpu.miner_id",
                "must be the miner whose key is calling",
            ));
        }
        text("gpu.name", &gpu.name, 128)?;
        if !(gpu.memory.is_finite() && gpu.memory > 0.0 && gpu.memory <= 4_096.0) {
            return Err(invalid("gpu.memory", "GB above 0 and at most 4096"));
        }
        let price = base_units("gpu.price_per_hour", gpu.price_per_hour)?;
        for (field, value) in [
            ("gpu.cuda_version", &gpu.cuda_version),
            ("gpu.region", &gpu.region),
        ] {
            if let Some(v) = value {
                text(field, v, 64)?;
            }
        }
        if gpu.capabilities.len() > 64
            || gpu
                .capabilities
                .iter()
                .any(|c| c.is_empty() || c.len() > 128)
        {
            return Err(invalid(
                "gpu.capabilities",
                "at most 64 names of 1 to 128 characters",
            ));
        }
        if self.store.miner(miner_id).await?.is_none() {
            return Err(Error::NotFound(format!(
                "miner {miner_id} (register the miner first)"
            )));
        }
        let id = format!("gpu_{}", random_hex(8));
        sqlx::query(
            "INSERT INTO gpus (id, miner_id, name, memory_mb, cuda_version, region, price_per_hour, \
             capabilities, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(miner_id)
        .bind(gpu.name.trim())
        .bind((gpu.memory * 1024.0).round() as i64)
        .bind(&gpu.cuda_version)
        .bind(&gpu.region)
        .bind(price as i64)
        .bind(serde_json::to_string(&gpu.capabilities).unwrap_or_else(|_| "[]".into()))
        .bind(self.now())
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        self.gpu(&id).await
    }

    /// Every listed GPU as the marketplace shows it now.
    async fn gpu_views(&self, only: Option<&str>) -> Result<Vec<GpuView>, Error> {
        let now = self.now();
        self.end_due_bookings(now).await?;
        let rows = sqlx::query(
            "SELECT g.id, g.miner_id, g.name, g.memory_mb, g.cuda_version, g.region, \
             g.price_per_hour, g.capabilities, g.created_at, \
             (SELECT COUNT(*) FROM gpu_reviews r WHERE r.gpu_id = g.id) AS reviews, \
             (SELECT COALESCE(SUM(r.rating), 0) FROM gpu_reviews r WHERE r.gpu_id = g.id) AS stars \
             FROM gpus g WHERE ($1 = '' OR g.id = $1) ORDER BY g.created_at, g.id",
        )
        .bind(only.unwrap_or(""))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::from)?;
        let miners = self.store.miners().await?;
        let active = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE status = 'active'"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::from)?;
        let active = active
            .iter()
            .map(booking_of)
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let miner_id: String = row.try_get("miner_id")?;
                let reviews: i64 = row.try_get("reviews")?;
                let stars: i64 = row.try_get("stars")?;
                let price: i64 = row.try_get("price_per_hour")?;
                // A booking reserves the miner, so each of its GPUs is booked; the public view
                // does not name the booking client's job.
                let booking = active
                    .iter()
                    .find(|b| b.miner_id == miner_id)
                    .cloned()
                    .map(|b| BookingView { job_id: None, ..b });
                let online = miners
                    .iter()
                    .any(|m| m.id == miner_id && m.enabled && m.status == MinerStatus::Online);
                let status = match (&booking, online) {
                    (Some(_), _) => "booked",
                    (None, true) => "available",
                    (None, false) => "offline",
                };
                Ok(GpuView {
                    id,
                    miner_id,
                    model: row.try_get("name")?,
                    memory_gb: row.try_get::<i64, _>("memory_mb")? as f64 / 1024.0,
                    cuda_version: row.try_get("cuda_version")?,
                    region: row.try_get("region")?,
                    price_per_hour: aitbc(price),
                    price_per_hour_base_units: price,
                    status,
                    capabilities: serde_json::from_str(&row.try_get::<String, _>("capabilities")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    created_at: crate::sessions::rfc3339(row.try_get("created_at")?),
                    average_rating: if reviews > 0 {
                        (stars as f64 / reviews as f64 * 100.0).round() / 100.0
                    } else {
                        0.0
                    },
                    total_reviews: reviews,
                    current_booking: booking,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map_err(Error::from)
    }

    /// One GPU with its current booking.
    pub async fn gpu(&self, id: &str) -> Result<GpuView, Error> {
        self.gpu_views(Some(id))
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("gpu {id}")))
    }

    /// GPUs by the earlier filters: `available` (true: available, false: booked), the highest
    /// hourly price, a region (any case) and a model (a part of the name, any case).
    pub async fn gpus(&self, filter: &GpuFilter) -> Result<Vec<GpuView>, Error> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(invalid("limit", "must be from 1 to 500"));
        }
        let price_max = filter.price_max.map(|p| p * BASE);
        Ok(self
            .gpu_views(None)
            .await?
            .into_iter()
            .filter(|g| match filter.available {
                Some(true) => g.status == "available",
                Some(false) => g.status == "booked",
                None => true,
            })
            .filter(|g| price_max.is_none_or(|max| g.price_per_hour_base_units as f64 <= max))
            .filter(|g| {
                filter.region.as_deref().is_none_or(|r| {
                    g.region
                        .as_deref()
                        .is_some_and(|own| own.eq_ignore_ascii_case(r))
                })
            })
            .filter(|g| {
                filter
                    .model
                    .as_deref()
                    .is_none_or(|m| g.model.to_lowercase().contains(&m.to_lowercase()))
            })
            .take(limit as usize)
            .collect())
    }

    /// Books GPU `id` for `hours` for `client_id`: its miner then runs only this client's jobs
    /// until the booking ends.
    pub async fn book(
        &self,
        client_id: &str,
        id: &str,
        hours: f64,
        job_id: Option<String>,
    ) -> Result<BookingView, Error> {
        if !(hours.is_finite() && (MIN_HOURS..=MAX_HOURS).contains(&hours)) {
            return Err(invalid(
                "duration_hours",
                format!("must be from one minute ({MIN_HOURS:.4} h) to {MAX_HOURS} h"),
            ));
        }
        let gpu = self.gpu(id).await?;
        match gpu.status {
            "booked" => return Err(Error::Conflict(format!("gpu {id} is booked"))),
            "offline" => {
                return Err(Error::Conflict(format!(
                    "gpu {id} is offline: its miner is not heard from"
                )));
            }
            _ => {}
        }
        let now = self.now();
        let held = sqlx::query(
            "SELECT COUNT(*) FROM bookings WHERE client_id = $1 AND status = 'active' AND end_at > $2",
        )
        .bind(client_id)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from)?;
        if held.try_get::<i64, _>(0).map_err(StoreError::from)? >= MAX_ACTIVE_BOOKINGS {
            return Err(Error::Conflict(format!(
                "you hold {MAX_ACTIVE_BOOKINGS} active bookings already; release one first"
            )));
        }
        let duration_ms = (hours * 3_600_000.0).round() as i64;
        let cost = (gpu.price_per_hour_base_units as f64 * hours).round() as i64;
        let booking_id = format!("bk_{}", random_hex(10));
        let inserted = sqlx::query(
            "INSERT INTO bookings (id, gpu_id, miner_id, client_id, start_at, end_at, total_cost, \
             status, job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8)",
        )
        .bind(&booking_id)
        .bind(id)
        .bind(&gpu.miner_id)
        .bind(client_id)
        .bind(now)
        .bind(now + duration_ms)
        .bind(cost)
        .bind(&job_id)
        .execute(self.writer())
        .await;
        match inserted {
            Ok(_) => {}
            // The unique index on active bookings: its miner was booked a moment ago.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::Conflict(format!("gpu {id} is booked")));
            }
            Err(e) => return Err(StoreError::from(e).into()),
        }
        self.client_booking(client_id, &booking_id).await
    }

    async fn client_booking(
        &self,
        client_id: &str,
        booking_id: &str,
    ) -> Result<BookingView, Error> {
        let row = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1 AND client_id = $2"
        ))
        .bind(booking_id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| Error::NotFound(format!("booking {booking_id}")))?;
        Ok(booking_of(&row)?)
    }

    /// Ends `client_id`'s active booking of GPU `id` now; the GPU is available again.
    pub async fn release_gpu(&self, client_id: &str, id: &str) -> Result<BookingView, Error> {
        let now = self.now();
        self.end_due_bookings(now).await?;
        let row = sqlx::query(
            "UPDATE bookings SET status = 'released', released_at = $1, end_at = $1 \
             WHERE gpu_id = $2 AND client_id = $3 AND status = 'active' RETURNING id",
        )
        .bind(now)
        .bind(id)
        .bind(client_id)
        .fetch_optional(self.writer())
        .await
        .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(Error::Conflict(format!(
                "you hold no active booking of gpu {id}"
            )));
        };
        let booking_id: String = row.try_get(0).map_err(StoreError::from)?;
        // The miner takes anyone's jobs again.
        self.redispatch().await;
        self.client_booking(client_id, &booking_id).await
    }

    /// `client_id`'s bookings, newest first, optionally in one status.
    pub async fn orders(
        &self,
        client_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BookingView>, Error> {
        if !(1..=500).contains(&limit) {
            return Err(invalid("limit", "must be from 1 to 500"));
        }
        self.end_due_bookings(self.now()).await?;
        let rows = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE client_id = $1 AND ($2 = '' OR status = $2) \
             ORDER BY start_at DESC, id DESC LIMIT $3"
        ))
        .bind(client_id)
        .bind(status.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(booking_of).collect::<Result<_, _>>()?)
    }

    /// A review of GPU `id` by `client_id`, who must have booked it; a second review replaces
    /// the first.
    pub async fn review(
        &self,
        client_id: &str,
        id: &str,
        rating: i32,
        comment: &str,
    ) -> Result<GpuView, Error> {
        if !(1..=5).contains(&rating) {
            return Err(invalid("rating", "must be from 1 to 5"));
        }
        if comment.len() > 2_000 {
            return Err(invalid("comment", "at most 2,000 characters"));
        }
        self.gpu(id).await?;
        let booked =
            sqlx::query("SELECT 1 FROM bookings WHERE gpu_id = $1 AND client_id = $2 LIMIT 1")
                .bind(id)
                .bind(client_id)
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::from)?;
        if booked.is_none() {
            return Err(Error::Forbidden(
                "only clients who booked this GPU may review it".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO gpu_reviews (gpu_id, author, rating, comment, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gpu_id, author) \
             DO UPDATE SET rating = $3, comment = $4, created_at = $5",
        )
        .bind(id)
        .bind(client_id)
        .bind(rating)
        .bind(comment)
        .bind(self.now())
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        self.gpu(id).await
    }

    /// GPU `id`'s reviews, newest first.
    pub async fn reviews(&self, id: &str, limit: i64) -> Result<Value, Error> {
        if !(1..=100).contains(&limit) {
            return Err(invalid("limit", "must be from 1 to 100"));
        }
        let gpu = self.gpu(id).await?;
        let rows = sqlx::query(
            "SELECT author, rating, comment, created_at FROM gpu_reviews WHERE gpu_id = $1 \
             ORDER BY created_at DESC, author LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::from)?;
        let reviews = rows
            .iter()
            .map(|r| {
                Ok(json!({
                    "user": r.try_get::<String, _>("author")?,
                    "rating": r.try_get::<i32, _>("rating")?,
                    "comment": r.try_get::<String, _>("comment")?,
                    "date": crate::sessions::rfc3339(r.try_get("created_at")?),
                }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(json!({
            "gpu_id": gpu.id,
            "average_rating": gpu.average_rating,
            "total_reviews": gpu.total_reviews,
            "reviews": reviews,
        }))
    }

    /// What GPUs serving `model` cost; `NotFound` when none does.
    pub async fn pricing(&self, model: &str) -> Result<Value, Error> {
        let needle = model.to_lowercase();
        let gpus: Vec<GpuView> = self
            .gpu_views(None)
            .await?
            .into_iter()
            .filter(|g| {
                g.capabilities
                    .iter()
                    .any(|c| c.to_lowercase().contains(&needle))
            })
            .collect();
        let cheapest = gpus
            .iter()
            .filter(|g| g.status == "available")
            .min_by_key(|g| g.price_per_hour_base_units)
            .or_else(|| gpus.iter().min_by_key(|g| g.price_per_hour_base_units))
            .ok_or_else(|| Error::NotFound(format!("gpus serving {model}")))?;
        let prices: Vec<i64> = gpus.iter().map(|g| g.price_per_hour_base_units).collect();
        let sum: i64 = prices.iter().sum();
        Ok(json!({
            "model": model,
            "min_price": aitbc(prices.iter().copied().min().unwrap_or_default()),
            "max_price": aitbc(prices.iter().copied().max().unwrap_or_default()),
            "average_price": (aitbc(sum) / prices.len() as f64 * 1e6).round() / 1e6,
            "available_gpus": gpus.iter().filter(|g| g.status == "available").count(),
            "total_gpus": gpus.len(),
            "recommended_gpu": cheapest.id,
        }))
    }

    /// Posts an offer for `miner_id`.
    pub async fn create_offer(&self, miner_id: &str, offer: NewOffer) -> Result<String, Error> {
        if !(1..=10_000).contains(&offer.capacity) {
            return Err(invalid("capacity", "must be from 1 to 10,000"));
        }
        let price = base_units("price", offer.price)?;
        if let Some(sla) = &offer.sla {
            text("sla", sla, 256)?;
        }
        let attributes = if offer.attributes.is_null() {
            json!({})
        } else {
            offer.attributes
        };
        if !attributes.is_object() || attributes.to_string().len() > 4_096 {
            return Err(invalid("attributes", "an object of at most 4 KiB"));
        }
        if self.store.miner(miner_id).await?.is_none() {
            return Err(Error::NotFound(format!(
                "miner {miner_id} (register the miner first)"
            )));
        }
        let id = format!("offer_{}", random_hex(8));
        sqlx::query(
            "INSERT INTO market_offers (id, provider, capacity, price, sla, attributes, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(&id)
        .bind(miner_id)
        .bind(offer.capacity)
        .bind(price as i64)
        .bind(&offer.sla)
        .bind(attributes.to_string())
        .bind(self.now())
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        Ok(id)
    }

    /// Offers: one for each online miner (from what it registered, open while it has a free
    /// slot), then those miners posted, newest first.
    pub async fn offers(
        &self,
        status: Option<&str>,
        derived_only: bool,
    ) -> Result<Vec<Value>, Error> {
        if let Some(s) = status
            && !OFFER_STATUSES.contains(&s)
        {
            return Err(invalid("status", "one of open, reserved, closed, booked"));
        }
        let now = self.now();
        let mut offers = Vec::new();
        for MinerLoad {
            miner,
            running,
            booked_for,
        } in self.store.miner_loads(now).await?
        {
            if !miner.enabled || miner.status != MinerStatus::Online {
                continue;
            }
            let booked = booked_for.is_some();
            let free = i64::from(miner.concurrency) - running;
            let caps = &miner.capabilities;
            let gpu = caps.gpus.first();
            let per_hour = (u128::from(caps.price_per_unit) * 3_600) as f64 / BASE;
            offers.push(json!({
                "id": format!("miner_{}", miner.id),
                "provider": miner.id,
                "capacity": free.max(0),
                "price": per_hour,
                "price_per_hour": per_hour,
                "sla": null,
                "status": if booked { "booked" } else if free > 0 { "open" } else { "reserved" },
                "created_at": crate::sessions::rfc3339(miner.registered_at),
                "gpu_model": gpu.map(|g| g.name.clone()),
                "gpu_memory_gb": gpu.map(|g| g.memory_mb as f64 / 1024.0),
                "gpu_count": caps.gpus.len(),
                "cuda_version": caps.cuda,
                "region": miner.region.clone().or_else(|| caps.region.clone()),
                "attributes": { "models": caps.models },
            }));
        }
        if !derived_only {
            let rows = sqlx::query(
                "SELECT id, provider, capacity, price, sla, attributes, status, created_at \
                 FROM market_offers ORDER BY created_at DESC, id",
            )
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::from)?;
            for r in &rows {
                let price: i64 = r.try_get("price").map_err(StoreError::from)?;
                let attributes: String = r.try_get("attributes").map_err(StoreError::from)?;
                offers.push(json!({
                    "id": r.try_get::<String, _>("id").map_err(StoreError::from)?,
                    "provider": r.try_get::<String, _>("provider").map_err(StoreError::from)?,
                    "capacity": r.try_get::<i32, _>("capacity").map_err(StoreError::from)?,
                    "price": aitbc(price),
                    "price_per_hour": aitbc(price),
                    "sla": r.try_get::<Option<String>, _>("sla").map_err(StoreError::from)?,
                    "status": r.try_get::<String, _>("status").map_err(StoreError::from)?,
                    "created_at": crate::sessions::rfc3339(r.try_get("created_at").map_err(StoreError::from)?),
                    "attributes": serde_json::from_str::<Value>(&attributes).unwrap_or_default(),
                }));
            }
        }
        Ok(offers
            .into_iter()
            .filter(|o| status.is_none_or(|s| o["status"] == s))
            .collect())
    }

    /// A bid from `client_id`.
    pub async fn create_bid(&self, client_id: &str, bid: NewBid) -> Result<String, Error> {
        if !(1..=10_000).contains(&bid.capacity) {
            return Err(invalid("capacity", "must be from 1 to 10,000"));
        }
        let price = base_units("price", bid.price)?;
        if let Some(p) = &bid.provider {
            text("provider", p, 128)?;
        }
        if bid.notes.as_deref().is_some_and(|n| n.len() > 1_024) {
            return Err(invalid("notes", "at most 1,024 characters"));
        }
        let id = format!("bid_{}", random_hex(8));
        sqlx::query(
            "INSERT INTO market_bids (id, client_id, provider, capacity, price, notes, status, submitted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(&id)
        .bind(client_id)
        .bind(&bid.provider)
        .bind(bid.capacity)
        .bind(price as i64)
        .bind(&bid.notes)
        .bind(self.now())
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        Ok(id)
    }

    /// Bids (clients unnamed), newest first.
    pub async fn bids(
        &self,
        status: Option<&str>,
        provider: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Value>, Error> {
        if let Some(s) = status
            && !["pending", "accepted", "rejected"].contains(&s)
        {
            return Err(invalid("status", "one of pending, accepted, rejected"));
        }
        if !(1..=500).contains(&limit) || offset < 0 {
            return Err(invalid("limit", "limit from 1 to 500, offset from 0"));
        }
        let rows = sqlx::query(
            "SELECT id, provider, capacity, price, notes, status, submitted_at, decided_by FROM market_bids \
             WHERE ($1 = '' OR status = $1) AND ($2 = '' OR provider = $2) \
             ORDER BY submitted_at DESC, id LIMIT $3 OFFSET $4",
        )
        .bind(status.unwrap_or(""))
        .bind(provider.unwrap_or(""))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(bid_of).collect::<Result<_, _>>()?)
    }

    pub async fn bid(&self, id: &str) -> Result<Value, Error> {
        let row = sqlx::query(
            "SELECT id, provider, capacity, price, notes, status, submitted_at, decided_by FROM market_bids WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| Error::NotFound(format!("bid {id}")))?;
        Ok(bid_of(&row)?)
    }

    /// The provider a bid names (or, for a bid naming none, any miner) accepts or rejects it.
    pub async fn decide_bid(&self, miner_id: &str, id: &str, accept: bool) -> Result<Value, Error> {
        let done = sqlx::query(
            "UPDATE market_bids SET status = $1, decided_by = $2 \
             WHERE id = $3 AND status = 'pending' AND (provider IS NULL OR provider = $2)",
        )
        .bind(if accept { "accepted" } else { "rejected" })
        .bind(miner_id)
        .bind(id)
        .execute(self.writer())
        .await
        .map_err(StoreError::from)?;
        let bid = self.bid(id).await?;
        if done.rows_affected() != 1 {
            return Err(if bid["status"] != "pending" {
                Error::Conflict(format!(
                    "bid {id} is already {}",
                    bid["status"].as_str().unwrap_or("decided")
                ))
            } else {
                Error::Forbidden(format!("bid {id} is for another provider"))
            });
        }
        Ok(bid)
    }

    /// `{totalOffers, openCapacity, averagePrice, activeBids}`.
    pub async fn market_stats(&self) -> Result<Value, Error> {
        let offers = self.offers(None, false).await?;
        let open: Vec<&Value> = offers.iter().filter(|o| o["status"] == "open").collect();
        let capacity: i64 = open.iter().filter_map(|o| o["capacity"].as_i64()).sum();
        let average = if open.is_empty() {
            0.0
        } else {
            let sum: f64 = open.iter().filter_map(|o| o["price"].as_f64()).sum();
            (sum / open.len() as f64 * 10_000.0).round() / 10_000.0
        };
        let row = sqlx::query("SELECT COUNT(*) FROM market_bids WHERE status = 'pending'")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::from)?;
        let active: i64 = row.try_get(0).map_err(StoreError::from)?;
        Ok(json!({
            "totalOffers": offers.len(),
            "openCapacity": capacity,
            "averagePrice": average,
            "activeBids": active,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_in_aitbc_become_exact_base_units_or_are_refused() {
        assert_eq!(base_units("p", 0.5).ok(), Some(500_000));
        assert_eq!(base_units("p", 1.000001).ok(), Some(1_000_001));
        assert!(base_units("p", 0.0000001).is_err());
        assert!(base_units("p", 0.0).is_err());
        assert!(base_units("p", f64::NAN).is_err());
        assert!(base_units("p", 2e9).is_err());
    }
}
