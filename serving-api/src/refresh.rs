//! Keeps the snapshot current: polls the gold tables' Delta versions and, when any moved,
//! loads a new snapshot beside the old one and swaps it in whole.
//!
//! Invariant: requests keep reading the old snapshot until the new one is complete; a failed
//! load is logged and retried at the next tick, never half-applied. The tick compares the
//! lake's versions with the versions of the snapshot being served, never with versions it
//! merely saw, so a failed load leaves them different and the next tick loads again even
//! when nothing was committed since.
//!
//! Readiness is the outcome of the last tick: ready when it read the versions and the
//! snapshot is at them (it already was, or the load it just swapped in is). A failed read or
//! load makes the server not ready, from that tick until one succeeds; it is never marked
//! ready before a load has succeeded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eventlake_lake::{Lake, TableName};

use crate::AppState;
use crate::snapshot;

/// The current version of each snapshot table that exists.
pub async fn versions(
    lake: &Lake,
) -> Result<BTreeMap<String, u64>, Box<dyn std::error::Error + Send + Sync>> {
    let mut out = BTreeMap::new();
    for name in snapshot::tables() {
        let table = TableName::new("gold", &name)?;
        if lake.exists(&table).await? {
            let delta = lake.open(&table).await?;
            out.insert(table.to_string(), delta.version().unwrap_or_default());
        }
    }
    Ok(out)
}

/// Loads a new snapshot when a table's version moved and sets readiness from the outcome;
/// says whether it swapped.
pub async fn tick(lake: &Lake, state: &AppState) -> bool {
    let now = match versions(lake).await {
        Ok(now) => now,
        Err(e) => {
            state.ready.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "cannot read gold table versions");
            return false;
        }
    };
    if now == state.current().versions {
        state.ready.store(true, Ordering::Relaxed);
        return false;
    }
    match snapshot::load(lake).await {
        Ok(next) => {
            tracing::info!(version = %next.version(), bytes = next.bytes, "snapshot swapped");
            state.swap(next);
            state.ready.store(true, Ordering::Relaxed);
            true
        }
        Err(e) => {
            state.ready.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "snapshot load failed; keeping the old one");
            false
        }
    }
}

/// Polls every `interval` until `shutdown` resolves.
pub async fn run(
    lake: Lake,
    state: Arc<AppState>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
        tick(&lake, &state).await;
    }
}
