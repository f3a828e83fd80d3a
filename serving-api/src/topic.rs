//! WebSocket topics: what a subscriber can follow, and the data of a topic in a snapshot,
//! always within the subscriber's tenant.
//!
//! Invariant: a topic's data is computed from one snapshot and the caller's tenant only; an
//! id of another tenant has the same data (`null`) as a missing one.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::metrics;
use crate::snapshot::{Entry, Snapshot};

/// A followable piece of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The matches of an opportunity, by its id (`matches:opportunity:{id}`).
    OpportunityMatches(String),
    /// The matches where a party is the candidate, by its id (`matches:party:{id}`).
    PartyMatches(String),
    /// A supporter's personalisation context, by its id (`context:user:{id}`).
    UserContext(String),
    /// A metric, by its catalogue name.
    Metric(&'static str),
}

/// Longest topic accepted.
const MAX_TOPIC: usize = 512;

impl Topic {
    /// Parses `matches:opportunity:{id}`, `matches:party:{id}`, `context:user:{id}` or
    /// `metrics:{name}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_TOPIC {
            return Err(format!("a topic is at most {MAX_TOPIC} bytes"));
        }
        let id = |rest: &str| {
            if rest.is_empty() {
                Err(format!("topic {text:?} has an empty id"))
            } else {
                Ok(rest.to_owned())
            }
        };
        if let Some(rest) = text.strip_prefix("matches:opportunity:") {
            return id(rest).map(Self::OpportunityMatches);
        }
        if let Some(rest) = text.strip_prefix("matches:party:") {
            return id(rest).map(Self::PartyMatches);
        }
        if let Some(rest) = text.strip_prefix("context:user:") {
            return id(rest).map(Self::UserContext);
        }
        if let Some(name) = text.strip_prefix("metrics:") {
            return metrics::find(name)
                .map(|m| Self::Metric(m.name.as_str()))
                .ok_or_else(|| format!("no metric {name:?}"));
        }
        Err(format!(
            "unknown topic {text:?}: use matches:opportunity:ID, matches:party:ID, \
             context:user:ID or metrics:NAME"
        ))
    }

    /// Whether following this topic needs a role.
    pub fn role(&self) -> Option<&'static str> {
        matches!(self, Self::Metric(_)).then_some("analyst")
    }

    /// The topic's data for `tenant` in `snapshot` (`null` when there is none), and a hash
    /// that changes when the data does (a new `run_id` or `as_of` alone is no change).
    pub fn data(&self, snapshot: &Snapshot, tenant: &str) -> (String, u64) {
        let mut h = DefaultHasher::new();
        let mut list = |entries: Option<&[Entry]>| match entries {
            None => "null".to_owned(),
            Some(entries) => {
                for e in entries {
                    (&e.key, e.content).hash(&mut h);
                }
                crate::snapshot::array(entries)
            }
        };
        let json = match self {
            Self::OpportunityMatches(id) => {
                list(Snapshot::list(&snapshot.opportunity_matches, tenant, id))
            }
            Self::PartyMatches(id) => list(Snapshot::list(&snapshot.party_matches, tenant, id)),
            Self::UserContext(id) => match snapshot.context(tenant, id) {
                None => "null".to_owned(),
                Some(c) => {
                    c.content.hash(&mut h);
                    c.json.to_string()
                }
            },
            // A compact change notice: the client fetches the series it shows.
            Self::Metric(name) => match snapshot.metrics.get(&(tenant.into(), *name)) {
                None => "null".to_owned(),
                Some(rows) => format!(
                    "{{\"metric\":\"{name}\",\"fingerprint\":\"{:016x}\"}}",
                    rows.fingerprint
                ),
            },
        };
        if let Self::Metric(_) = self {
            json.hash(&mut h);
        }
        (json, h.finish())
    }

    /// The topic as a client writes it; [`Topic::parse`] reads it back.
    pub fn name(&self) -> String {
        match self {
            Self::OpportunityMatches(id) => format!("matches:opportunity:{id}"),
            Self::PartyMatches(id) => format!("matches:party:{id}"),
            Self::UserContext(id) => format!("context:user:{id}"),
            Self::Metric(name) => format!("metrics:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_and_name_themselves_back() {
        for text in [
            "matches:opportunity:opp-1",
            "matches:party:pty:9",
            "context:user:sup-1",
            "metrics:active_users",
        ] {
            assert_eq!(Topic::parse(text).unwrap().name(), text);
        }
        for bad in ["matches:opportunity:", "metrics:nope", "chat:room:1", ""] {
            assert!(Topic::parse(bad).is_err(), "{bad}");
        }
    }
}
