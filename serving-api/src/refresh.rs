//! Keeps the snapshot current: polls the gold tables' Delta versions and, when any moved,
//! loads a new snapshot beside the old one and swaps it in whole.
//!
//! Invariant: requests keep reading the old snapshot until the new one is complete; a failed
//! load is logged and retried at the next tick, never half-applied.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eventlake_lake::{Lake, TableName};

use crate::AppState;
use crate::snapshot;

/// The gold tables in the snapshot.
pub const TABLES: [&str; 2] = ["matches", "user_context"];

/// The current version of each snapshot table that exists.
pub async fn versions(lake: &Lake) -> Result<BTreeMap<String, u64>, eventlake_lake::Error> {
    let mut out = BTreeMap::new();
    for name in TABLES {
        let table = TableName::new("gold", name).expect("valid name");
        if lake.exists(&table).await? {
            let delta = lake.open(&table).await?;
            out.insert(table.to_string(), delta.version().unwrap_or_default());
        }
    }
    Ok(out)
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
        match versions(&lake).await {
            Ok(now) if now != state.current().versions => match snapshot::load(&lake).await {
                Ok(next) => {
                    tracing::info!(version = %next.version(), "snapshot swapped");
                    state.swap(next);
                }
                Err(e) => tracing::warn!(error = %e, "snapshot load failed; keeping the old one"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read gold table versions"),
        }
    }
}
