//! Per-tenant rate limits (token buckets) and the per-tenant WebSocket budgets.
//!
//! Invariant: a tenant's requests never exceed `burst` plus `rate` per second over any
//! window; one tenant's load never spends another's budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by tenant. A rate of 0 turns limiting off.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Buckets refilled at `rate_per_second` and holding at most `burst` requests (at least 1);
    /// a new tenant starts with a full bucket.
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        Self {
            rate: rate_per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `tenant`'s bucket, or says when to retry.
    pub fn check(&self, tenant: &str) -> Result<(), ApiError> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.get_mut(tenant) {
            Some(b) => b,
            None => buckets.entry(tenant.to_owned()).or_insert(Bucket {
                tokens: self.burst,
                at: now,
            }),
        };
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.rate).ceil().max(1.0);
            Err(ApiError::rate_limited(wait as u64))
        }
    }
}

/// Open WebSocket connections and subscriptions by tenant, within fixed limits.
#[derive(Debug)]
pub struct Budgets {
    /// Most WebSocket connections a tenant may hold open at once.
    pub max_connections: usize,
    /// Most subscriptions a tenant may hold at once, over all its connections.
    pub max_subscriptions: usize,
    used: Mutex<HashMap<String, (usize, usize)>>,
}

/// One open connection; gives its connection and subscriptions back when dropped.
#[derive(Debug)]
pub struct Lease {
    budgets: Arc<Budgets>,
    tenant: String,
    subscriptions: usize,
}

impl Budgets {
    /// Budgets with these per-tenant limits and nothing in use.
    pub fn new(max_connections: usize, max_subscriptions: usize) -> Arc<Self> {
        Arc::new(Self {
            max_connections,
            max_subscriptions,
            used: Mutex::new(HashMap::new()),
        })
    }

    /// A connection for `tenant`, unless it has `max_connections` open.
    pub fn connect(self: &Arc<Self>, tenant: &str) -> Result<Lease, ApiError> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let entry = used.entry(tenant.to_owned()).or_default();
        if entry.0 >= self.max_connections {
            return Err(ApiError::coded(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_CONNECTIONS",
                format!(
                    "this tenant has {} WebSocket connections open, the limit",
                    self.max_connections
                ),
            ));
        }
        entry.0 += 1;
        Ok(Lease {
            budgets: Arc::clone(self),
            tenant: tenant.to_owned(),
            subscriptions: 0,
        })
    }
}

impl Lease {
    /// Takes `n` more subscriptions from the tenant's budget, all or none.
    pub fn subscribe(&mut self, n: usize) -> Result<(), ApiError> {
        let mut used = self.budgets.used.lock().unwrap_or_else(|e| e.into_inner());
        let entry = used.entry(self.tenant.clone()).or_default();
        if entry.1 + n > self.budgets.max_subscriptions {
            return Err(ApiError::coded(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SUBSCRIPTIONS",
                format!(
                    "this tenant may hold {} subscriptions; {} are in use",
                    self.budgets.max_subscriptions, entry.1
                ),
            ));
        }
        entry.1 += n;
        self.subscriptions += n;
        Ok(())
    }

    /// Gives `n` subscriptions back.
    pub fn unsubscribe(&mut self, n: usize) {
        let n = n.min(self.subscriptions);
        let mut used = self.budgets.used.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = used.get_mut(&self.tenant) {
            entry.1 = entry.1.saturating_sub(n);
        }
        self.subscriptions -= n;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut used = self.budgets.used.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = used.get_mut(&self.tenant) {
            entry.0 = entry.0.saturating_sub(1);
            entry.1 = entry.1.saturating_sub(self.subscriptions);
            if *entry == (0, 0) {
                used.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_retry() {
        let limiter = RateLimiter::new(1.0, 3);
        for _ in 0..3 {
            limiter.check("a").unwrap();
        }
        let e = limiter.check("a").unwrap_err();
        assert_eq!((e.code, e.retry_after), ("RATE_LIMITED", Some(1)));
        limiter.check("b").unwrap();
    }

    #[test]
    fn leases_count_connections_and_subscriptions_per_tenant() {
        let budgets = Budgets::new(2, 3);
        let mut one = budgets.connect("a").unwrap();
        let two = budgets.connect("a").unwrap();
        assert_eq!(
            budgets.connect("a").unwrap_err().code,
            "TOO_MANY_CONNECTIONS"
        );
        budgets.connect("b").unwrap();
        one.subscribe(3).unwrap();
        assert!(one.subscribe(1).is_err());
        drop(one);
        let mut three = budgets.connect("a").unwrap();
        three.subscribe(3).unwrap();
        drop((two, three));
        assert!(budgets.used.lock().unwrap().is_empty());
    }
}
