//! Candidate generation, scoring and ranking: for every open opportunity and role, the parties
//! sharing a required skill (or offering a needed resource) are looked up in an inverted index,
//! filtered by the hard constraints, scored, and the best `top_k` kept with their reasons.
//!
//! Invariant: work is proportional to the candidates the index yields, never to parties ×
//! opportunities; a pair that breaks a hard constraint or was declined is never scored.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use rayon::prelude::*;

use crate::config::{Config, Factor, ModelConfig};
use crate::constraint::{budget_per_head, check, price};
use crate::feedback::Feedback;
use crate::model::Model;
use crate::profile::{Opportunity, Party, Role, Vocabs};
use crate::score::{self, Interest, Sub};

/// Everything the engine reads, loaded once per run.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The names behind every interned id in `parties` and `opportunities`.
    pub vocabs: Vocabs,
    /// Every party of `silver.parties`, all tenants, ordered by tenant, location cell and id.
    pub parties: Vec<Party>,
    /// (tenant, party id) → index into `parties`.
    pub party_index: HashMap<(u32, String), usize>,
    /// Open opportunities only.
    pub opportunities: Vec<Opportunity>,
    /// Earlier feedback from `silver.match_feedback`; empty when that table is not registered.
    pub feedback: Feedback,
}

impl Inputs {
    /// The party `id` of tenant `tenant`, if it was loaded.
    pub fn party(&self, tenant: u32, id: &str) -> Option<&Party> {
        self.party_index
            .get(&(tenant, id.to_owned()))
            .map(|&i| &self.parties[i])
    }

    /// Open opportunities by (tenant id, opportunity id), the key published rows carry.
    pub fn open_opportunities(&self) -> HashMap<(&str, &str), &Opportunity> {
        self.opportunities
            .iter()
            .map(|o| ((self.vocabs.tenants.name(o.tenant), o.id.as_str()), o))
            .collect()
    }

    /// Resources each party offers and needs across its open resource-pooling opportunities.
    pub fn pools(&self) -> HashMap<usize, (Vec<u32>, Vec<u32>)> {
        let mut pools: HashMap<usize, (Vec<u32>, Vec<u32>)> = HashMap::new();
        for o in &self.opportunities {
            if o.model != Model::ResourcePooling {
                continue;
            }
            if let Some(&p) = self.party_index.get(&(o.tenant, o.poster.clone())) {
                let entry = pools.entry(p).or_default();
                entry.0.extend(&o.offered);
                entry.1.extend(&o.needed);
            }
        }
        for (offered, needed) in pools.values_mut() {
            offered.sort_unstable();
            offered.dedup();
            needed.sort_unstable();
            needed.dedup();
        }
        pools
    }
}

/// One reason of a match: a sub-score, its weight and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The factor's [`Factor::name`], or `interest` for the candidate's side.
    pub factor: &'static str,
    /// The sub-score's value, unweighted, in [0, 1].
    pub score: f64,
    /// The factor's normalised weight in the model; 0 for `interest`.
    pub weight: f64,
    /// What a person reads, e.g. "covers 4 of 5 required skills at the level asked".
    pub text: String,
}

/// A proposed candidate for one role of one opportunity.
#[derive(Debug, Clone)]
pub struct Match {
    /// Index into [`Inputs::opportunities`].
    pub opportunity: usize,
    /// Index into [`Inputs::parties`] of the proposed party.
    pub candidate: usize,
    /// The role's name, or [`RESOURCES_ROLE`] for resource pooling.
    pub role: String,
    /// The ranking score ([`Scored::score`]), in [0, 1].
    pub score: f64,
    /// How well the candidate fits the opportunity.
    pub fit: f64,
    /// How well the opportunity fits the candidate (reciprocal models).
    pub interest: Option<f64>,
    /// Position in the opportunity's list for this role, from 1 (best); ties go to the
    /// smaller party id.
    pub rank: u32,
    /// The top three weighted contributions, then the candidate's side when it counts.
    pub reasons: Vec<Reason>,
}

/// Counts for logs and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Pairs the index yielded (after de-duplication across a role's skills).
    pub candidates: u64,
    /// Pairs that passed the hard constraints and were scored.
    pub scored: u64,
    /// Matches kept: at most `top_k` per opportunity and role.
    pub matches: u64,
}

/// The role name of resource-pooling matches, which match needs rather than roles.
pub const RESOURCES_ROLE: &str = "resources";

/// A scored pair: the combined score, both sides, and each weighted sub-score (indexed like
/// [`Factor::ALL`]; `None` where the model gives the factor no weight). A fixed array, so
/// scoring allocates nothing.
#[derive(Debug, Clone)]
pub struct Scored {
    /// `fit`, or for reciprocal models the harmonic mean of `fit` and `interest`; in [0, 1].
    pub score: f64,
    /// Σ weight × sub-score over the model's factors, in [0, 1].
    pub fit: f64,
    /// The candidate's side, for reciprocal models only.
    pub interest: Option<Sub>,
    /// Each factor's sub-score (its value unweighted), indexed like [`Factor::ALL`].
    pub subs: [Option<Sub>; 11],
}

impl Scored {
    /// The top three weighted contributions, then the candidate's side when it counts.
    pub fn reasons(&self, config: &ModelConfig) -> Vec<Reason> {
        let mut ranked: Vec<(Factor, Sub)> = Factor::ALL
            .into_iter()
            .zip(self.subs)
            .filter_map(|(f, s)| Some((f, s?)))
            .collect();
        ranked.sort_by(|a, b| {
            let ca = config.weight(a.0) * a.1.value;
            let cb = config.weight(b.0) * b.1.value;
            cb.total_cmp(&ca).then(a.0.cmp(&b.0))
        });
        let mut out: Vec<Reason> = ranked
            .into_iter()
            .take(3)
            .map(|(f, s)| Reason {
                factor: f.name(),
                score: s.value,
                weight: config.weight(f),
                text: s.text(),
            })
            .collect();
        if let Some(i) = &self.interest {
            out.push(Reason {
                factor: "interest",
                score: i.value,
                weight: 0.0,
                text: i.text(),
            });
        }
        out
    }
}

/// Harmonic mean: both sides must fit for the pair to score well.
pub fn harmonic(a: f64, b: f64) -> f64 {
    if a + b <= 0.0 {
        0.0
    } else {
        2.0 * a * b / (a + b)
    }
}

/// What one candidate brings to one role, and what it wants.
pub struct Pair<'a> {
    /// The opportunity being matched.
    pub opportunity: &'a Opportunity,
    /// The role being filled; `None` for resource pooling, which matches needs.
    pub role: Option<&'a Role>,
    /// The opportunity's poster, when it is a loaded party (for complement and language).
    pub poster: Option<&'a Party>,
    /// The candidate.
    pub party: &'a Party,
    /// (offered, needed) resources of the candidate, for resource pooling.
    pub pool: Option<&'a (Vec<u32>, Vec<u32>)>,
    /// (accepted, declined) suggestions of the candidate.
    pub history: (u32, u32),
}

/// Scores a pair that passed the hard constraints.
pub fn score_pair(config: &ModelConfig, p: &Pair<'_>) -> Scored {
    let o = p.opportunity;
    let no_skills = Vec::new();
    let required = p.role.map_or(&no_skills, |r| &r.skills);
    let where_ = o.location.or(p.poster.and_then(|x| x.location));
    let km = where_
        .zip(p.party.location)
        .map(|(a, b)| score::distance_km(a, b));
    let pay = score::budget(price(o, p.party), budget_per_head(o));
    let mut subs = [None; 11];
    let mut fit = 0.0;
    for factor in Factor::ALL {
        if config.weight(factor) <= 0.0 {
            continue;
        }
        let sub = match factor {
            Factor::Skills => score::skills(required, &p.party.skills),
            Factor::Complement => score::complement(
                required,
                p.poster.map_or(&no_skills[..], |x| &x.skills),
                &p.party.skills,
            ),
            Factor::Resources => score::overlap(
                &o.needed,
                p.pool.map_or(&[][..], |x| &x.0),
                "needed resources offered",
            ),
            Factor::Sectors => score::overlap(&o.sectors, &p.party.sectors, "sectors in common"),
            Factor::Distance => score::distance(km, o.radius_km, o.remote),
            Factor::Budget => pay,
            Factor::Availability => score::availability(p.party.available, o.starts, o.ends),
            Factor::Capacity => score::capacity(p.party.capacity, p.role.map_or(1, |r| r.count)),
            Factor::Reputation => score::reputation(p.history.0, p.history.1),
            Factor::Verified => score::verified(p.party.verified),
            Factor::Language => score::overlap(
                p.poster.map_or(&[][..], |x| &x.languages),
                &p.party.languages,
                "of the poster's languages spoken",
            ),
        };
        fit += config.weight(factor) * sub.value;
        subs[factor as usize] = Some(sub);
    }
    let fit = fit.clamp(0.0, 1.0);
    let interest = config.reciprocal.then(|| {
        if o.model == Model::ResourcePooling {
            let back = score::overlap(
                p.pool.map_or(&[][..], |x| &x.1),
                &o.offered,
                "of the candidate's needs offered back",
            );
            Sub {
                value: 0.5 + 0.5 * back.value,
                why: back.why,
            }
        } else {
            score::interest(&Interest {
                model_preferred: p.party.models.as_ref().map(|m| m.contains(&o.model)),
                remote: o.remote,
                remote_ok: p.party.remote_ok,
                km,
                max_travel_km: p.party.max_travel_km,
                pay,
                sectors: score::overlap(&p.party.sectors, &o.sectors, "sectors"),
            })
        }
    });
    let score = interest.map_or(fit, |i| harmonic(fit, i.value));
    Scored {
        score,
        fit,
        interest,
        subs,
    }
}

/// Heap entry ordered so the heap's top is the worst kept candidate.
struct Kept<'a> {
    score: f64,
    id: &'a str,
    index: usize,
}

impl Ord for Kept<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Better = higher score, then smaller id; the heap keeps the worst on top.
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(other.id))
    }
}
impl PartialOrd for Kept<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Kept<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept<'_> {}

/// Size of a geographic cell of the index, in degrees.
const CELL_DEGREES: f64 = 1.0;
/// Beyond this many cells a radius is searched through the skill index alone.
const MAX_CELLS: i64 = 400;

pub(crate) fn cell(degrees: f64) -> i16 {
    (degrees / CELL_DEGREES).floor() as i16
}

/// A longitude cell brought into [-180°, 180°): cell 180 is cell -180.
fn wrap(l: i16) -> i16 {
    let n = (360.0 / CELL_DEGREES) as i16;
    let min = cell(-180.0);
    (l - min).rem_euclid(n) + min
}

/// Inverted indexes: (tenant, skill) → parties with it; the same per 1° cell of the party's
/// location, for on-site work; (tenant, resource) → parties offering it.
struct Index {
    skills: HashMap<(u32, u32), Vec<u32>>,
    located: HashMap<(u32, u32, i16, i16), Vec<u32>>,
    offers: HashMap<(u32, u32), Vec<u32>>,
}

impl Index {
    /// Cells that may hold a party within `radius_km` of `at`, or `None` when there are too
    /// many to be worth it.
    fn cells(at: crate::profile::Point, radius_km: f64) -> Option<Vec<(i16, i16)>> {
        let dlat = radius_km / 111.0;
        if at.lat - dlat <= -89.0 || at.lat + dlat >= 89.0 {
            return None; // the circle reaches a pole: every longitude
        }
        let (lat0, lat1) = (at.lat - dlat, at.lat + dlat);
        let widest = lat0.abs().max(lat1.abs()).min(89.0).to_radians().cos();
        let dlon = radius_km / (111.0 * widest);
        if dlon >= 180.0 {
            return None;
        }
        let (c0, c1) = (cell(lat0), cell(lat1));
        let (l0, l1) = (cell(at.lon - dlon), cell(at.lon + dlon));
        if i64::from(c1 - c0 + 1) * i64::from(l1 - l0 + 1) > MAX_CELLS {
            return None;
        }
        Some(
            (c0..=c1)
                .flat_map(|a| (l0..=l1).map(move |b| (a, wrap(b))))
                .collect(),
        )
    }

    /// Posting lists of the parties holding one of `role`'s skills, near the opportunity
    /// when its work is on site.
    fn role<'a>(&'a self, o: &Opportunity, role: &Role) -> Vec<&'a Vec<u32>> {
        let on_site = (!o.remote).then_some(o.location).flatten().and_then(|at| {
            Self::cells(
                at,
                o.radius_km.unwrap_or(crate::constraint::DEFAULT_RADIUS_KM),
            )
        });
        match on_site {
            Some(cells) => role
                .skills
                .iter()
                .flat_map(|s| {
                    cells
                        .iter()
                        .filter_map(move |&(a, b)| self.located.get(&(o.tenant, s.id, a, b)))
                })
                .collect(),
            None => role
                .skills
                .iter()
                .filter_map(|s| self.skills.get(&(o.tenant, s.id)))
                .collect(),
        }
    }
}

fn index(inputs: &Inputs, pools: &HashMap<usize, (Vec<u32>, Vec<u32>)>) -> Index {
    let mut skills: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    let mut located: HashMap<(u32, u32, i16, i16), Vec<u32>> = HashMap::new();
    for (i, p) in inputs.parties.iter().enumerate() {
        for s in &p.skills {
            skills.entry((p.tenant, s.id)).or_default().push(i as u32);
            if let Some(at) = p.location {
                located
                    .entry((p.tenant, s.id, cell(at.lat), wrap(cell(at.lon))))
                    .or_default()
                    .push(i as u32);
            }
        }
    }
    let mut offers: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    let mut pooled: Vec<_> = pools.iter().collect();
    pooled.sort_unstable_by_key(|(p, _)| **p);
    for (&p, (offered, _)) in pooled {
        for &r in offered {
            offers
                .entry((inputs.parties[p].tenant, r))
                .or_default()
                .push(p as u32);
        }
    }
    Index {
        skills,
        located,
        offers,
    }
}

/// Per-thread scratch: a stamp per party marks the candidates already seen for the current role.
struct Scratch {
    seen: Vec<u32>,
    stamp: u32,
}

/// Matches every open opportunity; returns the matches and the counts.
pub fn run(inputs: &Inputs, config: &Config) -> (Vec<Match>, Stats) {
    let pools = inputs.pools();
    let index = index(inputs, &pools);
    let n = inputs.parties.len();
    let history: Vec<(u32, u32)> = inputs
        .parties
        .iter()
        .map(|p| inputs.feedback.counts(p.tenant, &p.id))
        .collect();
    let shared = Shared {
        inputs,
        config,
        index: &index,
        pools: &pools,
        history: &history,
    };
    let per_opportunity: Vec<(Vec<Match>, Stats)> = inputs
        .opportunities
        .par_iter()
        .enumerate()
        .map_init(
            || Scratch {
                seen: vec![0; n],
                stamp: 0,
            },
            |scratch, (i, o)| opportunity(&shared, scratch, i, o),
        )
        .collect();
    let mut stats = Stats::default();
    let mut matches = Vec::new();
    for (m, s) in per_opportunity {
        stats.candidates += s.candidates;
        stats.scored += s.scored;
        stats.matches += m.len() as u64;
        matches.extend(m);
    }
    (matches, stats)
}

/// What every opportunity's matching reads.
struct Shared<'a> {
    inputs: &'a Inputs,
    config: &'a Config,
    index: &'a Index,
    pools: &'a HashMap<usize, (Vec<u32>, Vec<u32>)>,
    /// (accepted, declined) per party index.
    history: &'a [(u32, u32)],
}

fn opportunity(
    shared: &Shared<'_>,
    scratch: &mut Scratch,
    at: usize,
    o: &Opportunity,
) -> (Vec<Match>, Stats) {
    let Shared {
        inputs,
        config,
        index,
        pools,
        history,
    } = *shared;
    let model = config.model(o.model);
    let poster = inputs.party(o.tenant, &o.poster);
    let declined = inputs.feedback.declined_for(o.tenant, &o.id);
    let pooling = o.model == Model::ResourcePooling;
    // The same pair for ranking and for the published row, so order and scores agree.
    let pair = |role, p: usize| Pair {
        opportunity: o,
        role,
        poster,
        party: &inputs.parties[p],
        pool: pooling.then(|| pools.get(&p)).flatten(),
        history: history[p],
    };
    let mut stats = Stats::default();
    let mut out = Vec::new();
    // Resource pooling matches needs to offers; every other model matches each role.
    let lists: Vec<(Option<&Role>, Vec<&Vec<u32>>)> = if o.model == Model::ResourcePooling {
        let lists = o
            .needed
            .iter()
            .filter_map(|r| index.offers.get(&(o.tenant, *r)))
            .collect();
        vec![(None, lists)]
    } else {
        o.roles
            .iter()
            .map(|role| (Some(role), index.role(o, role)))
            .collect()
    };
    for (role, lists) in lists {
        scratch.stamp += 1;
        let stamp = scratch.stamp;
        let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(model.top_k + 1);
        for &p in lists.iter().flat_map(|l| l.iter()) {
            let slot = &mut scratch.seen[p as usize];
            if *slot == stamp {
                continue;
            }
            *slot = stamp;
            stats.candidates += 1;
            let party = &inputs.parties[p as usize];
            if check(o, role, party).is_err()
                || declined.is_some_and(|d| d.contains(party.id.as_str()))
            {
                continue;
            }
            stats.scored += 1;
            let kept = Kept {
                score: score_pair(model, &pair(role, p as usize)).score,
                id: &party.id,
                index: p as usize,
            };
            if heap.len() < model.top_k {
                heap.push(kept);
            } else if heap.peek().is_some_and(|worst| kept < *worst) {
                heap.pop();
                heap.push(kept);
            }
        }
        let mut kept = heap.into_vec();
        kept.sort();
        for (rank, k) in kept.iter().enumerate() {
            let scored = score_pair(model, &pair(role, k.index));
            out.push(Match {
                opportunity: at,
                candidate: k.index,
                role: role.map_or(RESOURCES_ROLE, |r| &r.name).to_owned(),
                score: scored.score,
                fit: scored.fit,
                interest: scored.interest.map(|i| i.value),
                rank: rank as u32 + 1,
                reasons: scored.reasons(model),
            });
        }
    }
    (out, stats)
}
