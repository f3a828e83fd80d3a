//! The serving API: REST under `/v1` and WebSocket push from an in-memory snapshot of the
//! gold tables, with bearer JWT auth, strict tenant isolation and per-tenant limits.
//!
//! Invariant: every data route is scoped to the token's tenant; an id of another tenant
//! answers exactly as a missing id (404 `NOT_FOUND`), so no existence leaks.

#![warn(missing_docs)]

pub mod auth;
pub mod caller;
pub mod envelope;
pub mod error;
pub mod limit;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod page;
pub mod refresh;
pub mod routes;
pub mod snapshot;
pub mod topic;
pub mod ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventlake_ingest::source::http::Collector;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::limit::{Budgets, RateLimiter};
use crate::observe::Stats;
use crate::snapshot::Snapshot;

pub use routes::router;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests per second per tenant (0: unlimited), and the burst above it.
    pub rate_per_second: f64,
    /// Size of a tenant's token bucket: requests it may make at once after being idle.
    pub burst: u32,
    /// Largest request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A request taking longer is answered 408 (WebSocket connections are exempt).
    pub request_timeout: Duration,
    /// WebSocket limits and timings.
    pub ws: WsConfig,
}

/// Settings of the WebSocket layer.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Most connections a tenant may hold open at once; more get `TOO_MANY_CONNECTIONS`.
    pub max_connections_per_tenant: usize,
    /// Most subscriptions a tenant may hold over all its connections; more get
    /// `TOO_MANY_SUBSCRIPTIONS`.
    pub max_subscriptions_per_tenant: usize,
    /// A ping every `heartbeat`; a client silent for three of them is disconnected.
    pub heartbeat: Duration,
    /// A client that cannot take one message within this is disconnected as too slow.
    pub send_timeout: Duration,
    /// Largest client message.
    pub max_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate_per_second: 200.0,
            burst: 400,
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            ws: WsConfig::default(),
        }
    }
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_connections_per_tenant: 100,
            max_subscriptions_per_tenant: 1000,
            heartbeat: Duration::from_secs(20),
            send_timeout: Duration::from_secs(10),
            max_message_bytes: 64 * 1024,
        }
    }
}

/// What the handlers share: the current snapshot (swapped whole, watched by the WebSocket
/// connections), the token verifier, limits, the optional event collector and counters.
pub struct AppState {
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// Verifies the bearer tokens of REST requests, event posts and WebSocket upgrades.
    pub auth: Auth,
    /// The settings it was started with.
    pub config: Config,
    /// Per-tenant request rate limit, from `config`.
    pub rate: RateLimiter,
    /// Per-tenant WebSocket connection and subscription budgets, from `config.ws`.
    pub budgets: Arc<Budgets>,
    /// The event collector behind `POST /v1/events`; `None` when started with `--no-collect`.
    pub collector: Option<Collector>,
    /// Counters since start, exposed on `/metrics`.
    pub stats: Stats,
    /// What `/v1/ready` answers: whether the last poll left the snapshot current (it read the
    /// lake's versions and the snapshot is at them). False from a failed read or load until
    /// a poll succeeds; see [`refresh`].
    pub ready: AtomicBool,
    /// Set when the server stops: WebSocket connections close.
    closing: watch::Sender<bool>,
}

impl AppState {
    /// State serving `snapshot`, with limits built from `config`; starts ready and not closing.
    pub fn new(
        snapshot: Snapshot,
        auth: Auth,
        config: Config,
        collector: Option<Collector>,
    ) -> Arc<Self> {
        Arc::new(Self {
            snapshot: watch::Sender::new(Arc::new(snapshot)),
            auth,
            rate: RateLimiter::new(config.rate_per_second, config.burst),
            budgets: Budgets::new(
                config.ws.max_connections_per_tenant,
                config.ws.max_subscriptions_per_tenant,
            ),
            config,
            collector,
            stats: Stats::default(),
            ready: AtomicBool::new(true),
            closing: watch::Sender::new(false),
        })
    }

    /// The snapshot a request reads, start to end.
    pub fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// Replaces the snapshot atomically and tells every WebSocket connection.
    pub fn swap(&self, mut snapshot: Snapshot) {
        snapshot.generation = self.snapshot.borrow().generation + 1;
        self.snapshot.send_replace(Arc::new(snapshot));
        self.stats.swaps.fetch_add(1, Ordering::Relaxed);
    }

    /// A receiver that sees every later swap.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.subscribe()
    }

    /// Tells every WebSocket connection to close (the server is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver that changes when the server stops.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
