//! The window a job run recomputes: everything (a rebuild), a backfill's dates, or the date
//! partitions its inputs changed since its watermark, widened by the lookback.
//!
//! Invariant: the window is never narrower than what changed; when that cannot be known, it is
//! unbounded.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use deltalake::DeltaTable;
use eventlake_lake::TableName;

use crate::changes::{self, Change};
use crate::definition::Job;
use crate::error::Result;
use crate::execute::{DEFINITION_INPUT, RunOptions};

/// The date window a run recomputes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Replace the whole output (first run, full refresh).
    pub rebuild: bool,
}

/// First day of a full window.
pub(crate) fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

/// Last day of a full window.
pub(crate) fn max_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid")
}

/// The window to recompute, or `None` when the output already reflects these inputs.
pub(crate) async fn plan_window(
    job: &Job,
    options: &RunOptions,
    watermark: Option<&BTreeMap<String, u64>>,
    inputs: &BTreeMap<String, u64>,
    opened: &BTreeMap<TableName, DeltaTable>,
    output_exists: bool,
) -> Result<Option<Window>> {
    let full = Window {
        from: min_date(),
        to: max_date(),
        rebuild: true,
    };
    if options.full_refresh
        || !output_exists
        || watermark.and_then(|w| w.get(DEFINITION_INPUT)) != inputs.get(DEFINITION_INPUT)
    {
        return Ok(Some(full));
    }
    if !job.materialization.strategy.is_incremental() {
        return Ok((watermark != Some(inputs)).then_some(full));
    }
    if options.from.is_some() || options.to.is_some() {
        return Ok(Some(Window {
            from: options.from.unwrap_or_else(min_date),
            to: options.to.unwrap_or_else(max_date),
            rebuild: false,
        }));
    }
    let watermark = watermark.expect("checked above");
    if watermark == inputs {
        return Ok(None);
    }
    let mut change = Change::None;
    for (name, version) in inputs.iter().filter(|(n, _)| *n != DEFINITION_INPUT) {
        let since = watermark.get(name).copied();
        let part = match (since, opened.iter().find(|(t, _)| &t.to_string() == name)) {
            (Some(since), _) if since == *version => Change::None,
            (Some(since), Some((_, delta))) if since < *version => {
                changes::between(delta, name, since, *version).await?
            }
            _ => Change::Unbounded,
        };
        change = change.union(part);
    }
    let lookback = Duration::days(i64::from(job.materialization.lookback_days));
    Ok(match change {
        Change::None => None,
        Change::Unbounded => Some(Window {
            rebuild: false,
            ..full
        }),
        Change::Dates(dates) => Some(Window {
            from: *dates.first().expect("non-empty") - lookback,
            to: max_date(),
            rebuild: false,
        }),
    })
}
