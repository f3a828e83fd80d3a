//! Hard constraints: a candidate that breaks one is never scored, let alone proposed.
//!
//! Invariant: [`check`] is the single definition of eligibility; candidate generation calls it
//! for every candidate its index yields, and the property tests re-check every published match
//! against an independent SQL formulation of the same rules.

use crate::profile::{Opportunity, Party, Role};
use crate::score::{distance_km, span};

/// The radius used when an on-site opportunity gives none, in km.
pub const DEFAULT_RADIUS_KM: f64 = 100.0;
/// How far over the budget a price may be and still be proposed.
pub const BUDGET_SLACK: f64 = 1.25;
/// Working days in a year, for salaries and open-ended engagements.
const WORKING_DAYS: f64 = 220.0;
/// Salary equivalent of a contractor's day rate (contractors charge about twice an
/// employee's daily cost).
const SALARY_PER_DAY_RATE: f64 = 110.0;

/// Why a candidate is not eligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// The candidate is the opportunity's poster.
    OwnOpportunity,
    /// The poster declined the candidate for this opportunity (checked through
    /// [`crate::Feedback`], not by [`check`]).
    Declined,
    /// The candidate holds none of the role's required skills, at any level.
    NoSkillInCommon,
    /// On-site work and the candidate is beyond the radius, or its location is unknown.
    TooFar,
    /// The candidate's stated availability does not overlap the opportunity's dates.
    Unavailable,
    /// The candidate's price is more than [`BUDGET_SLACK`] times the budget per head.
    OverBudget,
    /// The opportunity takes verified parties only and the candidate is not verified.
    NotVerified,
    /// The opportunity restricts countries and the candidate's is not listed (or unknown).
    Country,
    /// The candidate's capacity is below the opportunity's minimum.
    Capacity,
    /// The candidate lacks one of the opportunity's required certifications.
    Certifications,
}

/// Distance from the opportunity (its location, else nothing) to the party, in km.
pub fn km(opportunity: &Opportunity, party: &Party) -> Option<f64> {
    Some(distance_km(opportunity.location?, party.location?))
}

/// The least the party asks for one head of `role` on this opportunity, in pounds.
pub fn price(opportunity: &Opportunity, party: &Party) -> Option<f64> {
    let rate = party.rate?;
    if !party.individual {
        return Some(rate.min);
    }
    if opportunity.model == crate::Model::Hiring {
        return Some(rate.min * SALARY_PER_DAY_RATE);
    }
    let (s, e) = span(opportunity.starts, opportunity.ends);
    let days = (f64::from(e - s + 1) * 5.0 / 7.0).min(WORKING_DAYS);
    Some(rate.min * days)
}

/// The budget available for one head, in pounds.
pub fn budget_per_head(opportunity: &Opportunity) -> Option<crate::profile::Money> {
    let b = opportunity.budget?;
    if opportunity.model == crate::Model::Hiring {
        return Some(b);
    }
    let heads: u32 = opportunity
        .roles
        .iter()
        .map(|r| r.count)
        .sum::<u32>()
        .max(1);
    Some(crate::profile::Money {
        min: b.min / f64::from(heads),
        max: b.max / f64::from(heads),
    })
}

/// Checks every hard constraint except the declined pairs (see [`crate::Feedback`]); `role`
/// is `None` for resource pooling, where the resources were matched by the index.
pub fn check(
    opportunity: &Opportunity,
    role: Option<&Role>,
    party: &Party,
) -> Result<(), Constraint> {
    if party.id == opportunity.poster {
        return Err(Constraint::OwnOpportunity);
    }
    if let Some(role) = role
        && !role
            .skills
            .iter()
            .any(|r| party.skills.binary_search_by_key(&r.id, |s| s.id).is_ok())
    {
        return Err(Constraint::NoSkillInCommon);
    }
    if !opportunity.remote && opportunity.location.is_some() {
        let radius = opportunity.radius_km.unwrap_or(DEFAULT_RADIUS_KM);
        match km(opportunity, party) {
            Some(d) if d <= radius => {}
            _ => return Err(Constraint::TooFar),
        }
    }
    let e = &opportunity.eligibility;
    if e.verified_only && !party.verified {
        return Err(Constraint::NotVerified);
    }
    if !e.countries.is_empty()
        && !party
            .country
            .as_ref()
            .is_some_and(|c| e.countries.contains(c))
    {
        return Err(Constraint::Country);
    }
    if e.min_capacity.is_some_and(|m| party.capacity < m) {
        return Err(Constraint::Capacity);
    }
    if !e
        .certifications
        .iter()
        .all(|c| party.certifications.binary_search(c).is_ok())
    {
        return Err(Constraint::Certifications);
    }
    if let Some((from, to)) = party.available {
        let (s, end) = span(opportunity.starts, opportunity.ends);
        if from > end || to.is_some_and(|t| t < s) {
            return Err(Constraint::Unavailable);
        }
    }
    if role.is_some()
        && let (Some(p), Some(b)) = (price(opportunity, party), budget_per_head(opportunity))
        && p > b.max * BUDGET_SLACK
    {
        return Err(Constraint::OverBudget);
    }
    Ok(())
}
