//! What changed in an input table between two versions, read from the Delta log's commit
//! files: the set of date partitions that gained or lost files.
//!
//! Invariant: the answer is never narrower than the truth. A commit that cannot be read
//! (cleaned-up log), or a file outside a single date partition, makes the change unbounded.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use deltalake::DeltaTable;
use deltalake::kernel::Version;

use crate::error::{Error, Result};

/// The rows of an input that may differ between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing that holds rows changed.
    None,
    /// Only these date partitions changed.
    Dates(BTreeSet<NaiveDate>),
    /// Anything may have changed.
    Unbounded,
}

impl Change {
    /// Combines the changes of two inputs.
    pub fn union(self, other: Change) -> Change {
        match (self, other) {
            (Change::Unbounded, _) | (_, Change::Unbounded) => Change::Unbounded,
            (Change::None, c) | (c, Change::None) => c,
            (Change::Dates(mut a), Change::Dates(b)) => {
                a.extend(b);
                Change::Dates(a)
            }
        }
    }
}

/// Changes of `table` after version `since` up to and including `until`.
pub async fn between(
    table: &DeltaTable,
    name: &str,
    since: Version,
    until: Version,
) -> Result<Change> {
    let mut dates = BTreeSet::new();
    for version in since + 1..=until {
        let entry = table
            .log_store()
            .read_commit_entry(version)
            .await
            .map_err(|e| Error::delta(name, e))?;
        let Some(bytes) = entry else {
            return Ok(Change::Unbounded);
        };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let action: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| Error::Job {
                    job: name.to_owned(),
                    reason: format!("unreadable Delta log entry {version}: {e}"),
                })?;
            let file = action.get("add").or_else(|| action.get("remove"));
            let Some(file) = file else { continue };
            match file_date(file) {
                Some(date) => {
                    dates.insert(date);
                }
                None => return Ok(Change::Unbounded),
            }
        }
    }
    Ok(if dates.is_empty() {
        Change::None
    } else {
        Change::Dates(dates)
    })
}

/// The date of a file's single date partition, if it has exactly that.
fn file_date(file: &serde_json::Value) -> Option<NaiveDate> {
    let values = file.get("partitionValues")?.as_object()?;
    if values.len() != 1 {
        return None;
    }
    let value = values.values().next()?.as_str()?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_dates_of_partitioned_files() {
        let add = json!({"path": "x", "partitionValues": {"event_date": "2026-11-01"}});
        assert_eq!(file_date(&add), NaiveDate::from_ymd_opt(2026, 11, 1));
        let unpartitioned = json!({"path": "x", "partitionValues": {}});
        assert_eq!(file_date(&unpartitioned), None);
    }

    #[test]
    fn union_widens() {
        let d = |day| Change::Dates([NaiveDate::from_ymd_opt(2026, 1, day).unwrap()].into());
        assert_eq!(Change::None.union(d(1)), d(1));
        assert_eq!(d(1).union(Change::Unbounded), Change::Unbounded);
        let Change::Dates(both) = d(1).union(d(2)) else {
            panic!()
        };
        assert_eq!(both.len(), 2);
    }
}
