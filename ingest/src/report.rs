//! Running totals of an ingest run, for progress display and the final summary.

use std::collections::BTreeMap;
use std::time::Duration;

use eventlake_lake::reason::Reason;

use crate::ingestor::{Flushed, Outcome};

/// What an ingest run did so far.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Records offered, including those already committed by an earlier run.
    pub offered: u64,
    /// Records accepted for `bronze.events` (less those later filed as late duplicates).
    pub accepted: u64,
    /// Records rejected, by reason.
    pub rejected: BTreeMap<Reason, u64>,
    /// Records skipped because an earlier run committed them.
    pub already_committed: u64,
    /// Bytes read from the source (for files: the byte offset reached).
    pub bytes: u64,
    /// Total bytes of the source, when known.
    pub total_bytes: Option<u64>,
    /// Flushes that committed to at least one table.
    pub flushes: u64,
    /// Wall time since the run started.
    pub elapsed: Duration,
}

impl Report {
    /// Adds the outcomes of one [`offer`](crate::ingestor::Ingestor::offer).
    pub fn count(&mut self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            self.offered += 1;
            match outcome {
                Outcome::Accepted => self.accepted += 1,
                Outcome::Rejected(reason) => *self.rejected.entry(*reason).or_default() += 1,
                Outcome::AlreadyCommitted => self.already_committed += 1,
            }
        }
    }

    /// Counts a flush that committed, and moves its late records from accepted to
    /// `duplicate_event_id`.
    pub fn flushed(&mut self, flushed: &Flushed) {
        if flushed.events_version.is_some() || flushed.rejected_version.is_some() {
            self.flushes += 1;
        }
        // Accepted when offered, then committed first by another writer.
        let late = flushed.late.len() as u64;
        if late > 0 {
            self.accepted = self.accepted.saturating_sub(late);
            *self.rejected.entry(Reason::DuplicateEventId).or_default() += late;
        }
    }

    /// Records rejected so far, over all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Records per second over the run.
    pub fn rate(&self) -> f64 {
        self.offered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}
