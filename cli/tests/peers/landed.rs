//! What a lake holds, for the peer tests that compare a lake with `ingest file` of the same
//! events: the accepted event ids and the rejected counts by reason, read through
//! `eventlake sql`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::aws::{self, Peer};
use crate::support::run_ok;

/// What a lake holds: accepted event ids, and rejected counts by reason.
#[derive(Debug, PartialEq)]
pub struct Landed {
    pub events: Vec<String>,
    pub rejected: Vec<Vec<String>>,
}

impl Landed {
    /// Fails with what differs: missing and doubled ids (a few of each), rejected counts.
    pub fn same_as(&self, expected: &Landed, what: &str) -> Result<()> {
        if self == expected {
            return Ok(());
        }
        let count = |ids: &[String]| {
            let mut n: HashMap<String, usize> = HashMap::new();
            for id in ids {
                *n.entry(id.clone()).or_default() += 1;
            }
            n
        };
        let (have, want) = (count(&self.events), count(&expected.events));
        let mut missing: Vec<&String> = want.keys().filter(|id| !have.contains_key(*id)).collect();
        let mut doubled: Vec<&String> = have
            .iter()
            .filter(|(id, n)| **n > want.get(*id).copied().unwrap_or(0))
            .map(|(id, _)| id)
            .collect();
        missing.sort();
        doubled.sort();
        anyhow::bail!(
            "{what}: {} events where {} were expected; {} missing (first {:?}), {} extra or \
             doubled (first {:?}); rejected {:?} where {:?} were expected",
            self.events.len(),
            expected.events.len(),
            missing.len(),
            &missing[..missing.len().min(5)],
            doubled.len(),
            &doubled[..doubled.len().min(5)],
            self.rejected,
            expected.rejected,
        )
    }
}

/// What the lake at `uri` holds.
pub fn landed(uri: &str, moto: &Peer) -> Result<Landed> {
    Ok(Landed {
        events: aws::csv(
            uri,
            moto,
            "SELECT event_id FROM bronze.events ORDER BY event_id",
        )?
        .into_iter()
        .map(|r| r.join(","))
        .collect(),
        rejected: aws::csv(
            uri,
            moto,
            "SELECT reason, count(*) FROM bronze.events_rejected GROUP BY reason ORDER BY reason",
        )?,
    })
}

/// `file` ingested by `ingest file` into a local lake under `dir`: what exactly once must
/// look like.
pub fn reference(moto: &Peer, dir: &Path, file: &Path) -> Result<Landed> {
    let local = dir.join(format!(
        "reference-{}",
        file.file_stem().context("a file name")?.to_string_lossy()
    ));
    let uri = local.to_str().context("UTF-8 path")?;
    run_ok(
        aws::eventlake(uri, moto, None)
            .args(["ingest", "file"])
            .arg(file),
    )?;
    landed(uri, moto)
}
