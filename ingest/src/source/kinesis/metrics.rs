//! Lag and throughput of the consumer, logged every [`LOG_EVERY`] and served as Prometheus text
//! on `/metrics`.
//!
//! Invariant: counters only grow; the lag of a shard is the last `MillisBehindLatest` its reader
//! saw, and disappears when the shard ends.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ingestor::Flushed;

/// How often the consumer logs its lag and throughput.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Inner {
    behind_ms: BTreeMap<String, i64>,
    read: u64,
    events: u64,
    rejected: u64,
    commits: u64,
    owned: usize,
    logged: Option<(Instant, u64)>,
}

/// The consumer's gauges and counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A reader delivered `n` records of `shard`, `behind_ms` behind the tip.
    pub fn read(&self, shard: &str, n: usize, behind_ms: Option<i64>) {
        self.with(|m| {
            m.read += n as u64;
            if let Some(b) = behind_ms {
                m.behind_ms.insert(shard.to_owned(), b);
            }
        });
        self.log_if_due();
    }

    /// `shard` is committed as ended: its lag is no longer reported.
    pub fn ended(&self, shard: &str) {
        self.with(|m| m.behind_ms.remove(shard));
    }

    /// This worker now reads `n` shards.
    pub fn owned(&self, n: usize) {
        self.with(|m| m.owned = n);
    }

    /// Adds a flush's committed rows, and counts it as a commit if it committed anything.
    pub fn flushed(&self, f: &Flushed) {
        self.with(|m| {
            m.events += f.events as u64;
            m.rejected += f.rejected as u64;
            if f.events_version.is_some() || f.rejected_version.is_some() {
                m.commits += 1;
            }
        });
    }

    /// Logs lag and throughput when [`LOG_EVERY`] has passed since the last time.
    pub fn log_if_due(&self) {
        let now = Instant::now();
        let line = self.with(|m| {
            let (since, before) = *m.logged.get_or_insert((now, m.read));
            let elapsed = now - since;
            if elapsed < LOG_EVERY {
                return None;
            }
            m.logged = Some((now, m.read));
            let rate = (m.read - before) as f64 / elapsed.as_secs_f64();
            let lag = m.behind_ms.values().copied().max().unwrap_or(0);
            Some((rate, lag, m.owned, m.events, m.rejected))
        });
        if let Some((rate, lag, owned, events, rejected)) = line {
            tracing::info!(
                records_per_s = rate.round() as u64,
                max_lag_ms = lag,
                shards = owned,
                events_committed = events,
                rejected_committed = rejected,
                "kinesis consumer"
            );
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            let mut metric = |name: &str, kind: &str, help: &str| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            };
            metric(
                "eventlake_kinesis_millis_behind_latest",
                "gauge",
                "Milliseconds the shard's reader is behind the tip of the shard.",
            );
            for (shard, b) in &m.behind_ms {
                let _ = writeln!(
                    out,
                    "eventlake_kinesis_millis_behind_latest{{shard=\"{shard}\"}} {b}"
                );
            }
            let counters = [
                (
                    "eventlake_kinesis_records_read_total",
                    "counter",
                    "Records read from Kinesis.",
                    m.read,
                ),
                (
                    "eventlake_kinesis_events_committed_total",
                    "counter",
                    "Events committed to bronze.events.",
                    m.events,
                ),
                (
                    "eventlake_kinesis_rejected_committed_total",
                    "counter",
                    "Records committed to bronze.events_rejected.",
                    m.rejected,
                ),
                (
                    "eventlake_kinesis_commits_total",
                    "counter",
                    "Delta commits made.",
                    m.commits,
                ),
                (
                    "eventlake_kinesis_shards_owned",
                    "gauge",
                    "Shards this worker reads.",
                    m.owned as u64,
                ),
            ];
            for (name, kind, help, value) in counters {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
                );
            }
            out
        })
    }
}

/// Serves `GET /metrics` until the process ends.
pub async fn serve(metrics: Arc<Metrics>, listener: tokio::net::TcpListener) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "metrics server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_shard_and_counter() {
        let m = Metrics::default();
        m.read("shardId-000000000001", 5, Some(1200));
        m.read("shardId-000000000002", 3, Some(0));
        m.flushed(&Flushed {
            events: 7,
            rejected: 1,
            events_version: Some(3),
            rejected_version: Some(2),
            ..Flushed::default()
        });
        let text = m.render();
        assert!(text.contains(
            "eventlake_kinesis_millis_behind_latest{shard=\"shardId-000000000001\"} 1200"
        ));
        assert!(text.contains("eventlake_kinesis_records_read_total 8"));
        assert!(text.contains("eventlake_kinesis_events_committed_total 7"));
        assert!(text.contains("eventlake_kinesis_commits_total 1"));
        m.ended("shardId-000000000001");
        assert!(!m.render().contains("shardId-000000000001"));
    }
}
