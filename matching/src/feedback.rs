//! What posters did with earlier suggestions (`silver.match_feedback`): declined pairs, which
//! are never proposed again, and per-candidate accepted/declined counts for the reputation
//! prior.
//!
//! Invariant: a pair declined once stays excluded, whatever was viewed or accepted after.
//! Lookups borrow (`&str`), so checking a candidate never allocates.

use std::collections::{HashMap, HashSet};

/// Feedback per tenant id.
#[derive(Debug, Default)]
pub struct Feedback {
    /// tenant → opportunity → declined candidates.
    declined: HashMap<u32, HashMap<String, HashSet<String>>>,
    /// tenant → candidate → (accepted, declined).
    counts: HashMap<u32, HashMap<String, (u32, u32)>>,
}

impl Feedback {
    /// Records one feedback event.
    pub fn add(&mut self, tenant: u32, opportunity: &str, candidate: &str, event_type: &str) {
        let count = self
            .counts
            .entry(tenant)
            .or_default()
            .entry(candidate.to_owned())
            .or_default();
        match event_type {
            "match.accepted" => count.0 += 1,
            "match.declined" => {
                count.1 += 1;
                self.declined
                    .entry(tenant)
                    .or_default()
                    .entry(opportunity.to_owned())
                    .or_default()
                    .insert(candidate.to_owned());
            }
            _ => {}
        }
    }

    /// The candidates declined for one opportunity, if any.
    pub fn declined_for(&self, tenant: u32, opportunity: &str) -> Option<&HashSet<String>> {
        self.declined.get(&tenant)?.get(opportunity)
    }

    /// Whether the poster declined `candidate` for `opportunity` at any time.
    pub fn declined(&self, tenant: u32, opportunity: &str, candidate: &str) -> bool {
        self.declined_for(tenant, opportunity)
            .is_some_and(|d| d.contains(candidate))
    }

    /// (accepted, declined) for a candidate.
    pub fn counts(&self, tenant: u32, candidate: &str) -> (u32, u32) {
        self.counts
            .get(&tenant)
            .and_then(|c| c.get(candidate))
            .copied()
            .unwrap_or_default()
    }
}
