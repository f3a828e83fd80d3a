//! What posters did with earlier suggestions (`silver.match_feedback`): declined pairs, which
//! are never proposed again, and per-candidate accepted/declined counts for the reputation
//! prior.
//!
//! Invariant: a pair declined once stays excluded, whatever was viewed or accepted after.

use std::collections::{HashMap, HashSet};

/// Feedback keyed by tenant id.
#[derive(Debug, Default)]
pub struct Feedback {
    declined: HashSet<(u32, String, String)>,
    counts: HashMap<(u32, String), (u32, u32)>,
}

impl Feedback {
    /// Records one feedback event.
    pub fn add(&mut self, tenant: u32, opportunity: &str, candidate: &str, event_type: &str) {
        let count = self
            .counts
            .entry((tenant, candidate.to_owned()))
            .or_default();
        match event_type {
            "match.accepted" => count.0 += 1,
            "match.declined" => {
                count.1 += 1;
                self.declined
                    .insert((tenant, opportunity.to_owned(), candidate.to_owned()));
            }
            _ => {}
        }
    }

    pub fn declined(&self, tenant: u32, opportunity: &str, candidate: &str) -> bool {
        // Borrowed lookups into a tuple key need an owned key; the set is probed only for
        // candidates that passed every cheaper constraint.
        !self.declined.is_empty()
            && self
                .declined
                .contains(&(tenant, opportunity.to_owned(), candidate.to_owned()))
    }

    /// (accepted, declined) for a candidate.
    pub fn counts(&self, tenant: u32, candidate: &str) -> (u32, u32) {
        self.counts
            .get(&(tenant, candidate.to_owned()))
            .copied()
            .unwrap_or_default()
    }
}
