//! The sub-scores of a match and their explanations. Each is a pure function returning a value
//! in [0, 1] with the text a person reads ("covers 4 of 5 required skills", "12 km away").
//!
//! Invariant: every function here is total (no input panics or yields NaN) and bounded to
//! [0, 1]; the golden tests in this module pin their values on hand-worked inputs. Texts are
//! formatted only when asked for ([`Why`] is plain data), so scoring millions of candidates
//! allocates nothing.

use std::fmt;

use crate::profile::{Money, Point, Skill, holds};

/// A sub-score and why it has its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sub {
    /// The sub-score, in [0, 1]; never NaN.
    pub value: f64,
    /// The facts behind the value.
    pub why: Why,
}

impl Sub {
    /// The explanation a person reads, e.g. "12 km away".
    pub fn text(&self) -> String {
        self.why.to_string()
    }
}

/// The facts behind a sub-score, rendered as text by `Display`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// The role requires no skills (skills score 1).
    NoSkills,
    /// Coverage of the role's required skills.
    Skills {
        /// Required skills the candidate holds, at any level.
        held: usize,
        /// Of those, the ones held at the required level or above.
        at_level: usize,
        /// Required skills.
        of: usize,
    },
    /// Skill gaps of the poster the candidate fills.
    Complement {
        /// Gaps the candidate holds at the required level.
        filled: usize,
        /// Required skills the poster does not hold at the required level.
        gaps: usize,
    },
    /// The poster has no gap: the candidate's skills the poster lacks entirely.
    NewSkills(usize),
    /// Nothing was wanted (score 1); the text names the items, e.g. "sectors in common".
    NothingAsked(&'static str),
    /// Share of the wanted items the other side has.
    Overlap {
        /// Wanted items present.
        n: usize,
        /// Wanted items.
        of: usize,
        /// Names the items, e.g. "needed resources offered".
        what: &'static str,
    },
    /// Remote work: distance does not count (score 1).
    Remote,
    /// A location is missing on either side (score ½).
    DistanceUnknown,
    /// Distance between the work and the candidate, in km.
    Km(f64),
    /// The price is at or under the budget's maximum.
    WithinBudget,
    /// Share by which the price exceeds the budget's maximum (0.1 = 10 % over).
    OverBudget(f64),
    /// No price or no budget to compare (score ½).
    NoPrice,
    /// The candidate states no availability (score ½).
    AvailabilityUnknown,
    /// Share of the opportunity's days the candidate is available, in [0, 1].
    Available(f64),
    /// Capacity against headcount.
    Capacity {
        /// The candidate's capacity.
        has: u32,
        /// The role's headcount.
        needed: u32,
    },
    /// No accepted or declined suggestion yet: the prior alone.
    Newcomer,
    /// The candidate's feedback history.
    Accepted {
        /// Suggestions of the candidate that posters accepted.
        accepted: u32,
        /// Suggestions accepted or declined.
        of: u32,
    },
    /// Whether the marketplace verified the candidate.
    Verified(bool),
    /// Whether the model is among the candidate's preferences (`None` = none stated).
    Wants(Option<bool>),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::NoSkills => write!(f, "no skills required"),
            Why::Skills { held, at_level, of } if held == at_level => {
                write!(
                    f,
                    "covers {held} of {of} required skills at the level asked"
                )
            }
            Why::Skills { held, at_level, of } => write!(
                f,
                "has {held} of {of} required skills, {at_level} at the level asked"
            ),
            Why::Complement { filled, gaps } => {
                write!(f, "fills {filled} of the poster's {gaps} skill gaps")
            }
            Why::NewSkills(n) => write!(f, "brings {n} skills the poster lacks"),
            Why::NothingAsked(what) => write!(f, "no {what} asked for"),
            Why::Overlap { n, of, what } => write!(f, "{n} of {of} {what}"),
            Why::Remote => write!(f, "remote work"),
            Why::DistanceUnknown => write!(f, "distance unknown"),
            Why::Km(km) => write!(f, "{} km away", km.round()),
            Why::WithinBudget => write!(f, "within budget"),
            Why::OverBudget(share) => write!(f, "{}% over budget", (share * 100.0).round()),
            Why::NoPrice => write!(f, "no price or budget to compare"),
            Why::AvailabilityUnknown => write!(f, "availability not stated"),
            Why::Available(share) => {
                write!(f, "available for {}% of the dates", (share * 100.0).round())
            }
            Why::Capacity { has, needed } => write!(f, "capacity {has} for {needed} needed"),
            Why::Newcomer => write!(f, "new to the marketplace"),
            Why::Accepted { accepted, of } => write!(f, "accepted {accepted} of {of} suggestions"),
            Why::Verified(true) => write!(f, "verified by the marketplace"),
            Why::Verified(false) => write!(f, "not verified"),
            Why::Wants(Some(true)) => write!(f, "candidate wants this kind of work"),
            Why::Wants(None) => write!(f, "candidate states no preference"),
            Why::Wants(Some(false)) => write!(f, "candidate prefers other kinds of work"),
        }
    }
}

fn sub(value: f64, why: Why) -> Sub {
    let value = if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    Sub { value, why }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// Coverage of the required skills, each weighted by its required level; a skill held below
/// the required level counts in proportion (level 3 of a required 4 counts 3/4).
pub fn skills(required: &[Skill], held: &[Skill]) -> Sub {
    if required.is_empty() {
        return sub(1.0, Why::NoSkills);
    }
    let mut got = 0.0;
    let mut total = 0.0;
    let (mut has, mut at_level) = (0, 0);
    for r in required {
        total += f64::from(r.level);
        if let Some(h) = held.iter().find(|h| h.id == r.id) {
            got += f64::from(h.level.min(r.level));
            has += 1;
            if h.level >= r.level {
                at_level += 1;
            }
        }
    }
    sub(
        got / total,
        Why::Skills {
            held: has,
            at_level,
            of: required.len(),
        },
    )
}

/// Required skills the candidate brings that the poster lacks: what a partner adds.
pub fn complement(required: &[Skill], poster: &[Skill], candidate: &[Skill]) -> Sub {
    let gaps: Vec<&Skill> = required.iter().filter(|s| !holds(poster, s)).collect();
    if gaps.is_empty() {
        // The poster covers the role; a partner then adds what the poster does not have at all.
        let new = candidate
            .iter()
            .filter(|c| !poster.iter().any(|p| p.id == c.id))
            .count();
        let value = new as f64 / candidate.len().max(1) as f64;
        return sub(value, Why::NewSkills(new));
    }
    let filled = gaps.iter().filter(|s| holds(candidate, s)).count();
    sub(
        filled as f64 / gaps.len() as f64,
        Why::Complement {
            filled,
            gaps: gaps.len(),
        },
    )
}

/// Share of `wanted` that `have` contains (both sorted ids); `what` names the items.
pub fn overlap(wanted: &[u32], have: &[u32], what: &'static str) -> Sub {
    if wanted.is_empty() {
        return sub(1.0, Why::NothingAsked(what));
    }
    let n = wanted
        .iter()
        .filter(|w| have.binary_search(w).is_ok())
        .count();
    sub(
        n as f64 / wanted.len() as f64,
        Why::Overlap {
            n,
            of: wanted.len(),
            what,
        },
    )
}

/// Exponential decay with distance: 1 on the spot, ½ at half the radius, ¼ at the radius
/// (100 km when none is given); 1 for remote work.
pub fn distance(km: Option<f64>, radius_km: Option<f64>, remote: bool) -> Sub {
    match km {
        _ if remote => sub(1.0, Why::Remote),
        None => sub(0.5, Why::DistanceUnknown),
        Some(km) => {
            let half = radius_km
                .unwrap_or(crate::constraint::DEFAULT_RADIUS_KM)
                .max(1.0)
                / 2.0;
            sub(0.5f64.powf(km / half), Why::Km(km))
        }
    }
}

/// Budget fit of a price (the least the candidate asks for the engagement, in pounds): 1 at
/// or under the budget's maximum, falling linearly to 0 at 25 % over it.
pub fn budget(price: Option<f64>, budget: Option<Money>) -> Sub {
    match (price, budget) {
        (Some(price), Some(b)) if b.max > 0.0 => {
            if price <= b.max {
                sub(1.0, Why::WithinBudget)
            } else {
                let over = price / b.max - 1.0;
                sub(1.0 - over / 0.25, Why::OverBudget(over))
            }
        }
        _ => sub(0.5, Why::NoPrice),
    }
}

/// Days of an engagement from `starts` to `ends` (open-ended counts as 90 days).
pub fn span(starts: i32, ends: Option<i32>) -> (i32, i32) {
    let end = ends.unwrap_or(starts + 89).max(starts);
    (starts, end)
}

/// Share of the opportunity's days the candidate is available; ½ when not stated.
pub fn availability(available: Option<(i32, Option<i32>)>, starts: i32, ends: Option<i32>) -> Sub {
    let Some((from, to)) = available else {
        return sub(0.5, Why::AvailabilityUnknown);
    };
    let (s, e) = span(starts, ends);
    let to = to.unwrap_or(i32::MAX);
    let overlap = (e.min(to) - s.max(from) + 1).max(0);
    let value = f64::from(overlap) / f64::from(e - s + 1);
    sub(value, Why::Available(value))
}

/// Capacity against the headcount the role needs.
pub fn capacity(capacity: u32, needed: u32) -> Sub {
    let value = f64::from(capacity) / f64::from(needed.max(1));
    sub(
        value,
        Why::Capacity {
            has: capacity,
            needed,
        },
    )
}

/// Prior mean and weight (in decisions) of the reputation score.
pub const REPUTATION_PRIOR: (f64, f64) = (0.6, 4.0);

/// Share of suggestions accepted, pulled towards a prior so a newcomer starts at 0.6 rather
/// than at 0 or 1.
pub fn reputation(accepted: u32, declined: u32) -> Sub {
    let (mean, weight) = REPUTATION_PRIOR;
    let value = (f64::from(accepted) + mean * weight) / (f64::from(accepted + declined) + weight);
    let why = if accepted + declined == 0 {
        Why::Newcomer
    } else {
        Why::Accepted {
            accepted,
            of: accepted + declined,
        }
    };
    sub(value, why)
}

/// 1 for a party the marketplace verified, 0.3 otherwise.
pub fn verified(verified: bool) -> Sub {
    sub(if verified { 1.0 } else { 0.3 }, Why::Verified(verified))
}

/// What the candidate wants: its preferred models, remote or travel, pay and sectors; the
/// candidate's side of a reciprocal match.
pub struct Interest {
    /// Whether the model is among the candidate's preferences (`None` = none stated).
    pub model_preferred: Option<bool>,
    /// Whether the opportunity's work is remote (then travel does not count).
    pub remote: bool,
    /// Whether the candidate accepts remote work (`None` = not stated).
    pub remote_ok: Option<bool>,
    /// Distance from the work to the candidate, in km, if both places are known.
    pub km: Option<f64>,
    /// Furthest the candidate will travel for on-site work, in km (`None` = not stated).
    pub max_travel_km: Option<f64>,
    /// The budget sub-score of the candidate's price: whether the pay suits it.
    pub pay: Sub,
    /// Share of the candidate's sectors the opportunity belongs to.
    pub sectors: Sub,
}

/// The candidate's side: the mean of model preference, location, pay and sector interest.
pub fn interest(i: &Interest) -> Sub {
    let model = match i.model_preferred {
        Some(true) => 1.0,
        None => 0.6,
        Some(false) => 0.2,
    };
    let place = if i.remote {
        match i.remote_ok {
            Some(true) => 1.0,
            None => 0.7,
            Some(false) => 0.4,
        }
    } else {
        match (i.km, i.max_travel_km) {
            (Some(km), Some(max)) if km > max => 0.5f64.powf((km - max) / max.max(1.0)) * 0.5,
            (Some(_), Some(_)) => 1.0,
            _ => 0.7,
        }
    };
    let value = (model + place + i.pay.value + i.sectors.value) / 4.0;
    sub(value, Why::Wants(i.model_preferred))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u32, level: u8) -> Skill {
        Skill { id, level }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    // Golden values, worked by hand.

    #[test]
    fn skill_coverage_weights_by_required_level() {
        // Required: A@4, B@2, C@4 (total 10). Held: A@3, C@5. Got 3 + 0 + 4 = 7.
        let r = skills(&[s(1, 4), s(2, 2), s(3, 4)], &[s(1, 3), s(3, 5)]);
        close(r.value, 0.7);
        assert_eq!(r.text(), "has 2 of 3 required skills, 1 at the level asked");
        assert_eq!(
            skills(&[s(1, 2)], &[s(1, 5)]).text(),
            "covers 1 of 1 required skills at the level asked"
        );
        close(skills(&[s(1, 2)], &[s(1, 5)]).value, 1.0);
        close(skills(&[s(1, 2)], &[]).value, 0.0);
    }

    #[test]
    fn complement_counts_gaps_the_candidate_fills() {
        // Poster has A@4; required A@3, B@3, C@2: gaps B and C; candidate has B@3 only.
        let r = complement(
            &[s(1, 3), s(2, 3), s(3, 2)],
            &[s(1, 4)],
            &[s(2, 3), s(1, 1)],
        );
        close(r.value, 0.5);
        assert_eq!(r.text(), "fills 1 of the poster's 2 skill gaps");
        // No gaps: 1 of the candidate's 2 skills is new to the poster.
        close(
            complement(&[s(1, 3)], &[s(1, 4)], &[s(1, 2), s(9, 1)]).value,
            0.5,
        );
    }

    #[test]
    fn distance_halves_every_half_radius() {
        close(distance(Some(0.0), Some(50.0), false).value, 1.0);
        close(distance(Some(25.0), Some(50.0), false).value, 0.5);
        close(distance(Some(50.0), Some(50.0), false).value, 0.25);
        close(distance(Some(100.0), None, false).value, 0.25);
        close(distance(Some(900.0), Some(50.0), true).value, 1.0);
        assert_eq!(distance(Some(12.4), Some(50.0), false).text(), "12 km away");
    }

    #[test]
    fn london_to_manchester_is_about_262_km() {
        let london = Point {
            lat: 51.5074,
            lon: -0.1278,
        };
        let manchester = Point {
            lat: 53.4808,
            lon: -2.2426,
        };
        let d = distance_km(london, manchester);
        assert!((d - 262.0).abs() < 2.0, "{d}");
        close(distance_km(london, london), 0.0);
    }

    #[test]
    fn budget_falls_to_zero_at_a_quarter_over() {
        let b = Some(Money {
            min: 500.0,
            max: 1000.0,
        });
        close(budget(Some(800.0), b).value, 1.0);
        close(budget(Some(1100.0), b).value, 0.6);
        close(budget(Some(1250.0), b).value, 0.0);
        close(budget(Some(2000.0), b).value, 0.0);
        close(budget(None, b).value, 0.5);
        assert_eq!(budget(Some(1100.0), b).text(), "10% over budget");
    }

    #[test]
    fn availability_is_the_share_of_days_covered() {
        // Opportunity days 100..=109 (10 days); available 105..=200: 5 days.
        close(
            availability(Some((105, Some(200))), 100, Some(109)).value,
            0.5,
        );
        close(availability(Some((0, None)), 100, Some(109)).value, 1.0);
        close(availability(Some((0, Some(99))), 100, Some(109)).value, 0.0);
        // Open-ended: 90 days from the start; available for the first 45.
        close(availability(Some((0, Some(144))), 100, None).value, 0.5);
        close(availability(None, 100, None).value, 0.5);
    }

    #[test]
    fn reputation_has_a_prior_for_newcomers() {
        close(reputation(0, 0).value, 0.6);
        // (3 + 2.4) / (4 + 4) = 0.675
        close(reputation(3, 1).value, 0.675);
        // (0 + 2.4) / (6 + 4) = 0.24
        close(reputation(0, 6).value, 0.24);
    }

    #[test]
    fn overlap_capacity_verified() {
        close(overlap(&[1, 2, 3, 4], &[2, 4, 9], "sectors").value, 0.5);
        close(overlap(&[], &[1], "sectors").value, 1.0);
        close(capacity(1, 3).value, 1.0 / 3.0);
        close(capacity(5, 2).value, 1.0);
        close(verified(false).value, 0.3);
    }

    #[test]
    fn interest_averages_the_candidate_side() {
        let i = Interest {
            model_preferred: Some(true),
            remote: false,
            remote_ok: None,
            km: Some(10.0),
            max_travel_km: Some(25.0),
            pay: budget(
                Some(900.0),
                Some(Money {
                    min: 0.0,
                    max: 1000.0,
                }),
            ),
            sectors: overlap(&[1, 2], &[1], "sectors"),
        };
        // (1 + 1 + 1 + 0.5) / 4
        close(interest(&i).value, 0.875);
        let far = Interest {
            km: Some(50.0),
            model_preferred: Some(false),
            ..i
        };
        // place: 0.5^((50-25)/25) * 0.5 = 0.25; (0.2 + 0.25 + 1 + 0.5) / 4
        close(interest(&far).value, 0.4875);
    }
}
