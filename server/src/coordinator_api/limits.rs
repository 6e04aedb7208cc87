//! Rate limits of the coordinator's API: a token bucket per API key (checked once the key is known) and one per client IP (for every route, public ones included). Past its limit a caller gets 429 with `Retry-After`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{ApiError, AppState};

/// Token buckets by caller: `rate` requests a second on average, `burst` at once.
#[derive(Debug)]
pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Above this many callers, buckets full again are forgotten.
const MAX_BUCKETS: usize = 10_000;

impl Limiter {
    /// `rate` requests a second, twice that at once; 0 turns the limit off.
    pub fn new(rate: u32) -> Self {
        Limiter {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `caller`, or says how long until one is there.
    pub fn take(&self, caller: &str) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > MAX_BUCKETS {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets
            .entry(caller.to_owned())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// The answer past a limit.
pub fn too_many(retry_after: Duration, who: &'static str) -> ApiError {
    ApiError::RateLimited {
        who,
        retry_after_s: retry_after.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// Middleware: the per-IP limit. Requests without a peer address (in-process tests) pass.
pub async fn per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip: Option<IpAddr> = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip
        && let Err(wait) = state.limits.per_ip.take(&ip.to_string())
    {
        return too_many(wait, "address").into_response();
    }
    next.run(request).await
}

/// The coordinator's limits.
#[derive(Debug)]
pub struct Limits {
    pub per_key: Limiter,
    pub per_ip: Limiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = Limiter::new(5);
        for _ in 0..10 {
            assert!(limiter.take("a").is_ok());
        }
        let wait = limiter.take("a").expect_err("the burst is spent");
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(limiter.take("b").is_ok(), "callers have their own buckets");
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.take("a").is_ok(), "a token came back");
        assert!(Limiter::new(0).take("a").is_ok(), "0 is no limit");
    }
}
