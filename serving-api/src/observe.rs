//! Request ids, structured access logs and the counters behind `/metrics`.
//!
//! Invariant: every response carries `x-request-id` (the client's, when it sent a sane one)
//! and is logged once with its method, path (never the query, which may hold a token),
//! status, tenant and latency.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use eventlake_ingest::source::http::limits;

use crate::AppState;
use crate::snapshot::Snapshot;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// The request's id, as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The caller's tenant, set on the response by authenticated routes for the access log.
#[derive(Debug, Clone)]
pub struct Tenant(pub String);

/// Upper bounds (ms) of the latency histogram buckets.
const BUCKETS_MS: [f64; 10] = [0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 500.0, 1000.0];

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Responses by status class (1xx..5xx → 0..4).
    pub responses: [AtomicU64; 5],
    latency: [AtomicU64; BUCKETS_MS.len() + 1],
    latency_sum_us: AtomicU64,
    /// Snapshots swapped in since start.
    pub swaps: AtomicU64,
    /// WebSocket connections open now (a gauge: up on connect, down on close).
    pub ws_connections: AtomicU64,
    /// WebSocket messages sent in full.
    pub ws_messages_sent: AtomicU64,
    /// WebSocket clients disconnected for not taking a message within the send timeout.
    pub ws_slow_disconnects: AtomicU64,
    /// Lag notices sent: a connection missed one or more snapshot swaps.
    pub ws_lagged: AtomicU64,
    /// Bytes handed to WebSocket sends not yet completed.
    pub ws_pending_bytes: AtomicU64,
}

impl Stats {
    fn record(&self, status: u16, micros: u64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let ms = micros as f64 / 1000.0;
        let bucket = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of the counters and the snapshot.
    pub fn prometheus(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE eventlake_http_responses_total counter");
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "eventlake_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                get(c)
            );
        }
        let _ = writeln!(out, "# TYPE eventlake_http_latency_seconds histogram");
        let mut cumulative = 0;
        for (i, c) in self.latency.iter().enumerate() {
            cumulative += get(c);
            let le = BUCKETS_MS
                .get(i)
                .map_or("+Inf".to_owned(), |b| (b / 1000.0).to_string());
            let _ = writeln!(
                out,
                "eventlake_http_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "eventlake_http_latency_seconds_sum {}\neventlake_http_latency_seconds_count {cumulative}",
            get(&self.latency_sum_us) as f64 / 1e6
        );
        for (name, kind, value) in [
            ("snapshot_swaps_total", "counter", get(&self.swaps) as f64),
            ("snapshot_age_seconds", "gauge", snapshot.age_seconds()),
            ("snapshot_memory_bytes", "gauge", snapshot.bytes as f64),
            ("snapshot_generation", "gauge", snapshot.generation as f64),
            ("ws_connections", "gauge", get(&self.ws_connections) as f64),
            (
                "ws_messages_sent_total",
                "counter",
                get(&self.ws_messages_sent) as f64,
            ),
            (
                "ws_slow_disconnects_total",
                "counter",
                get(&self.ws_slow_disconnects) as f64,
            ),
            ("ws_lagged_total", "counter", get(&self.ws_lagged) as f64),
            (
                "ws_pending_bytes",
                "gauge",
                get(&self.ws_pending_bytes) as f64,
            ),
        ] {
            let _ = writeln!(
                out,
                "# TYPE eventlake_{name} {kind}\neventlake_{name} {value}"
            );
        }
        let _ = writeln!(out, "# TYPE eventlake_snapshot_rows gauge");
        for (table, rows) in &snapshot.rows {
            let _ = writeln!(out, "eventlake_snapshot_rows{{table=\"{table}\"}} {rows}");
        }
        let _ = writeln!(out, "# TYPE eventlake_snapshot_version gauge");
        for (table, version) in &snapshot.versions {
            let _ = writeln!(
                out,
                "eventlake_snapshot_version{{table=\"{table}\"}} {version}"
            );
        }
        out
    }
}

/// A fresh request id: this process's random prefix and a counter (no system call).
fn new_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    format!("{prefix}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn sane(id: &HeaderValue) -> Option<String> {
    let id = id.to_str().ok()?;
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| id.to_owned())
}

/// Gives the request an id, and logs and counts the response.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(new_id);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    // The same deadline as the collector's (`ingest http`): the handler reads the body
    // inside it, so a body that never ends is cut too.
    let limit = state.config.request_timeout;
    let timed_out = || {
        let meta = crate::envelope::Meta {
            request_id: id.clone(),
            snapshot_version: state.current().version().to_owned(),
        };
        let message = format!("the request took longer than {} ms", limit.as_millis());
        let e = crate::error::ApiError::coded(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "TIMEOUT",
            message,
        );
        crate::envelope::fail(&meta, e)
    };
    let mut response = limits::within(limit, next.run(req), timed_out).await;
    let micros = started.elapsed().as_micros() as u64;
    let status = response.status().as_u16();
    state.stats.record(status, micros);
    let tenant = response
        .extensions()
        .get::<Tenant>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    tracing::info!(
        target: "eventlake::access",
        request_id = %id,
        method = %method,
        path = %path,
        status,
        tenant = %tenant,
        latency_us = micros,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
