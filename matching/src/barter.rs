//! Barter cycles: exchanges of length 2 and 3 in the offers/needs graph of open
//! resource-pooling opportunities (A gives B what B needs, B gives C, C gives A), ranked by
//! value balance and distance.
//!
//! Invariant: every step of a published cycle gives the receiver at least one resource it
//! needs, the posters in a cycle are distinct, and no step pairs a receiver with a giver it
//! declined; no opportunity is in more than `CYCLES_PER_OPPORTUNITY` published cycles. Each
//! opportunity keeps its `MAX_OUT_EDGES` best outgoing edges, so the cycle search is linear in
//! opportunities, not cubic (building the edges checks every pair sharing a resource).

use std::collections::{HashMap, HashSet};

use crate::constraint::DEFAULT_RADIUS_KM;
use crate::feedback::Feedback;
use crate::profile::{Opportunity, Party};
use crate::score::distance_km;

/// Outgoing edges kept per opportunity.
pub const MAX_OUT_EDGES: usize = 25;
/// Cycles published per opportunity at most.
pub const CYCLES_PER_OPPORTUNITY: usize = 3;

/// One step: `giver` offers `resources` that `receiver` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index into the `opportunities` given to [`cycles`] of the offering opportunity.
    pub giver: usize,
    /// Index into the `opportunities` given to [`cycles`] of the needing opportunity.
    pub receiver: usize,
    /// Resource ids the receiver needs and the giver offers, sorted; never empty.
    pub resources: Vec<u32>,
    /// Share of the receiver's needs this step covers.
    pub coverage: f64,
    /// Distance between the two opportunities' places, in km; `None` if either is unknown.
    pub km: Option<f64>,
}

/// A cycle of 2 or 3 steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    /// The steps in order; each step's receiver is the next step's giver, the last gives to
    /// the first.
    pub steps: Vec<Step>,
    /// Smallest step coverage over the largest: 1 when everyone gets as much as they give.
    pub balance: f64,
    /// Total distance over the steps, in km (an unknown step distance counts 0).
    pub km: f64,
    /// 0.4 × balance + 0.4 × mean coverage + 0.2 × ½^(km ÷ (100 × steps)), in [0, 1].
    pub score: f64,
}

/// Where an opportunity is: its own location, else its poster's.
fn place(o: &Opportunity, poster: Option<&Party>) -> Option<crate::profile::Point> {
    o.location.or(poster.and_then(|p| p.location))
}

/// Finds cycles among `opportunities` (open, resource pooling); `posters[i]` is the poster
/// of `opportunities[i]`, if known.
pub fn cycles(
    opportunities: &[&Opportunity],
    posters: &[Option<&Party>],
    feedback: &Feedback,
) -> Vec<Cycle> {
    let n = opportunities.len();
    let mut needers: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for (i, o) in opportunities.iter().enumerate() {
        for &r in &o.needed {
            needers.entry((o.tenant, r)).or_default().push(i);
        }
    }
    let mut out: Vec<Vec<Step>> = vec![Vec::new(); n];
    for (g, giver) in opportunities.iter().enumerate() {
        let mut seen = HashSet::new();
        for &r in &giver.offered {
            for &v in needers.get(&(giver.tenant, r)).into_iter().flatten() {
                if v == g || !seen.insert(v) {
                    continue;
                }
                if let Some(step) = edge(opportunities, posters, feedback, g, v) {
                    out[g].push(step);
                }
            }
        }
        out[g].sort_by(|a, b| {
            b.coverage
                .total_cmp(&a.coverage)
                .then(
                    a.km.unwrap_or(f64::MAX)
                        .total_cmp(&b.km.unwrap_or(f64::MAX)),
                )
                .then(a.receiver.cmp(&b.receiver))
        });
        out[g].truncate(MAX_OUT_EDGES);
    }
    let step_of = |a: usize, b: usize| out[a].iter().find(|s| s.receiver == b);
    let mut found = Vec::new();
    for a in 0..n {
        for ab in &out[a] {
            let b = ab.receiver;
            if b > a
                && let Some(ba) = step_of(b, a)
            {
                found.push(cycle(vec![ab.clone(), ba.clone()]));
            }
            for bc in &out[b] {
                let c = bc.receiver;
                // `a` is the smallest index of the three, so each cycle is found once.
                if c <= a || b <= a || c == b {
                    continue;
                }
                let distinct = {
                    let p = |i: usize| &opportunities[i].poster;
                    p(a) != p(b) && p(b) != p(c) && p(a) != p(c)
                };
                if distinct && let Some(ca) = step_of(c, a) {
                    found.push(cycle(vec![ab.clone(), bc.clone(), ca.clone()]));
                }
            }
        }
    }
    found.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| key(x).cmp(&key(y)))
    });
    let mut uses = vec![0usize; n];
    found.retain(|c| {
        let keep = c
            .steps
            .iter()
            .all(|s| uses[s.giver] < CYCLES_PER_OPPORTUNITY);
        if keep {
            c.steps.iter().for_each(|s| uses[s.giver] += 1);
        }
        keep
    });
    found
}

fn key(c: &Cycle) -> Vec<usize> {
    c.steps.iter().map(|s| s.giver).collect()
}

fn edge(
    opportunities: &[&Opportunity],
    posters: &[Option<&Party>],
    feedback: &Feedback,
    g: usize,
    v: usize,
) -> Option<Step> {
    let (giver, receiver) = (opportunities[g], opportunities[v]);
    if giver.poster == receiver.poster
        || feedback.declined(receiver.tenant, &receiver.id, &giver.poster)
    {
        return None;
    }
    let km = place(giver, posters[g])
        .zip(place(receiver, posters[v]))
        .map(|(a, b)| distance_km(a, b));
    let on_site = !giver.remote && !receiver.remote;
    if on_site {
        let limit = receiver
            .radius_km
            .unwrap_or(DEFAULT_RADIUS_KM)
            .max(giver.radius_km.unwrap_or(DEFAULT_RADIUS_KM));
        if km.is_some_and(|d| d > limit) {
            return None;
        }
    }
    let resources: Vec<u32> = receiver
        .needed
        .iter()
        .copied()
        .filter(|r| giver.offered.binary_search(r).is_ok())
        .collect();
    if resources.is_empty() {
        return None;
    }
    Some(Step {
        giver: g,
        receiver: v,
        coverage: resources.len() as f64 / receiver.needed.len() as f64,
        resources,
        km,
    })
}

fn cycle(steps: Vec<Step>) -> Cycle {
    let min = steps.iter().map(|s| s.coverage).fold(f64::MAX, f64::min);
    let max = steps.iter().map(|s| s.coverage).fold(0.0, f64::max);
    let mean = steps.iter().map(|s| s.coverage).sum::<f64>() / steps.len() as f64;
    let km: f64 = steps.iter().map(|s| s.km.unwrap_or(0.0)).sum();
    let balance = if max > 0.0 { min / max } else { 0.0 };
    // Distance score: ½ for every 100 km travelled per step.
    let near = 0.5f64.powf(km / (100.0 * steps.len() as f64));
    Cycle {
        score: 0.4 * balance + 0.4 * mean + 0.2 * near,
        balance,
        km,
        steps,
    }
}
