//! Ground truth planted by the generator for evaluating the matching engine: for a share of
//! opportunities, the parties the generator built the opportunity around.
//!
//! Invariant: a planted party satisfies every hard constraint of its opportunity when it is
//! posted (same city within the radius, the required skills at the required level or above,
//! available for the dates, eligible, and open to the collaboration model), so a perfect
//! matcher can rank all of them first.

/// One opportunity and the parties that are right for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// The tenant the opportunity was posted in.
    pub tenant_id: String,
    /// The `opportunity_id` of its `opportunity.posted` event.
    pub opportunity_id: String,
    /// Its `collaboration_model`, as in the event.
    pub model: &'static str,
    /// The `party_id`s it was built around, each satisfying its hard constraints.
    pub parties: Vec<String>,
}

/// The truth file's JSON: `{"planted": [{tenant_id, opportunity_id, model, parties}, …]}`.
pub fn to_json(planted: &[Planted]) -> String {
    let rows: Vec<serde_json::Value> = planted
        .iter()
        .map(|p| {
            serde_json::json!({
                "tenant_id": p.tenant_id,
                "opportunity_id": p.opportunity_id,
                "model": p.model,
                "parties": p.parties,
            })
        })
        .collect();
    serde_json::json!({ "planted": rows }).to_string()
}
