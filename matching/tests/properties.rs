//! Property tests of the matching engine on random instances: stable, capacity-respecting
//! mentorship; barter cycles that are real cycles of needed resources; matches that keep
//! every hard constraint, never the poster nor a declined pair, and equal a brute-force
//! top-k over every party (so the inverted and geographic indexes never lose a candidate).

use std::collections::HashSet;

use eventlake_matching::constraint::check;
use eventlake_matching::engine::{self, Inputs, Pair, score_pair};
use eventlake_matching::mentorship::{Instance, assign, blocking_pair};
use eventlake_matching::profile::{Eligibility, Money, Opportunity, Party, Point, Role, Skill};
use eventlake_matching::{Config, Model, barter};
use proptest::prelude::*;
use proptest::sample::subsequence;

fn mentorship() -> impl Strategy<Value = Instance> {
    (1..25usize, 1..8usize).prop_flat_map(|(mentees, mentors)| {
        let all: Vec<usize> = (0..mentors).collect();
        (
            proptest::collection::vec(
                subsequence(all.clone(), 0..=mentors).prop_shuffle(),
                mentees,
            ),
            proptest::collection::vec(0..4usize, mentors),
            proptest::collection::vec(any::<u64>(), mentors),
        )
            .prop_map(move |(prefs, capacity, salts)| {
                // A mentor lists exactly the mentees that list it, in its own order.
                let mentors_prefs = (0..mentors)
                    .map(|m| {
                        let mut list: Vec<usize> = (0..prefs.len())
                            .filter(|e| prefs[*e].contains(&m))
                            .collect();
                        list.sort_by_key(|e| (*e as u64 + 1).wrapping_mul(salts[m] | 1) >> 7);
                        list
                    })
                    .collect();
                Instance {
                    mentees: prefs,
                    mentors: mentors_prefs,
                    capacity,
                }
            })
    })
}

proptest! {
    #[test]
    fn mentorship_is_stable_and_within_capacity(instance in mentorship()) {
        let assigned = assign(&instance);
        prop_assert_eq!(blocking_pair(&instance, &assigned), None);
        for (e, m) in assigned.iter().enumerate() {
            if let Some(m) = m {
                prop_assert!(instance.mentees[e].contains(m) && instance.mentors[*m].contains(&e));
            }
        }
    }
}

/// Mostly around the UK; some across the antimeridian and some near the North Pole, where
/// the geographic index has to wrap and widen.
fn point(rng: &mut u64) -> Point {
    match next(rng) % 6 {
        0 => Point {
            lat: -1.0 + unit(rng) * 2.0,
            lon: {
                let lon = 179.3 + unit(rng) * 1.4;
                if lon > 180.0 { lon - 360.0 } else { lon }
            },
        },
        1 => Point {
            lat: 88.0 + unit(rng) * 2.0,
            lon: -180.0 + unit(rng) * 360.0,
        },
        _ => Point {
            lat: 51.0 + unit(rng) * 2.0,
            lon: -1.0 + unit(rng) * 3.0,
        },
    }
}

/// A tiny deterministic generator for the fields proptest does not need to shrink.
fn next(rng: &mut u64) -> u64 {
    *rng = rng
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *rng >> 33
}

/// True once in `n` draws.
fn one_in(rng: &mut u64, n: u64) -> bool {
    next(rng).is_multiple_of(n)
}

fn unit(rng: &mut u64) -> f64 {
    next(rng) as f64 / (1u64 << 31) as f64
}

fn ids(rng: &mut u64, below: u64, most: u64) -> Vec<u32> {
    let mut v: Vec<u32> = (0..next(rng) % (most + 1))
        .map(|_| (next(rng) % below) as u32)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn skills(rng: &mut u64, most: u64) -> Vec<Skill> {
    ids(rng, 8, most)
        .into_iter()
        .map(|id| Skill {
            id,
            level: 1 + (next(rng) % 5) as u8,
        })
        .collect()
}

fn party(rng: &mut u64, i: usize) -> Party {
    let from = (next(rng) % 100) as i32;
    Party {
        tenant: 0,
        id: format!("p{i:03}"),
        individual: one_in(rng, 2),
        skills: skills(rng, 4),
        sectors: ids(rng, 4, 2),
        certifications: ids(rng, 4, 2),
        location: (!one_in(rng, 10)).then(|| point(rng)),
        country: Some(["GB", "FR"][(next(rng) % 2) as usize].to_owned()),
        capacity: 1 + (next(rng) % 4) as u32,
        available: (!one_in(rng, 3)).then(|| (from, one_in(rng, 2).then_some(from + 40))),
        rate: (!one_in(rng, 4)).then(|| Money {
            min: 100.0 + (next(rng) % 900) as f64,
            max: 2000.0,
        }),
        languages: ids(rng, 3, 2),
        verified: one_in(rng, 2),
        models: one_in(rng, 2).then(|| vec![Model::ALL[(next(rng) % 5) as usize]]),
        remote_ok: one_in(rng, 2).then_some(true),
        max_travel_km: one_in(rng, 2).then_some(50.0),
    }
}

fn opportunity(rng: &mut u64, i: usize, parties: usize) -> Opportunity {
    let model = Model::ALL[(next(rng) % 5) as usize];
    let starts = (next(rng) % 120) as i32;
    let mut needed = ids(rng, 5, 3);
    if model == Model::ResourcePooling && needed.is_empty() {
        needed.push(0);
    }
    Opportunity {
        tenant: 0,
        id: format!("o{i:03}"),
        poster: format!("p{:03}", next(rng) as usize % parties),
        model,
        sub_model: "standard".into(),
        roles: (0..1 + next(rng) % 3)
            .map(|r| Role {
                name: format!("role{r}"),
                skills: {
                    let s = skills(rng, 3);
                    if s.is_empty() {
                        vec![Skill { id: 0, level: 2 }]
                    } else {
                        s
                    }
                },
                count: 1 + (next(rng) % 3) as u32,
            })
            .collect(),
        sectors: ids(rng, 4, 2),
        budget: one_in(rng, 2).then(|| Money {
            min: 1000.0,
            max: 1000.0 + (next(rng) % 200_000) as f64,
        }),
        location: (!one_in(rng, 4)).then(|| point(rng)),
        remote: one_in(rng, 4),
        radius_km: one_in(rng, 2).then(|| [10.0, 50.0, 150.0][(next(rng) % 3) as usize]),
        starts,
        ends: one_in(rng, 2).then_some(starts + 30),
        offered: ids(rng, 5, 3),
        needed,
        eligibility: Eligibility {
            verified_only: one_in(rng, 4),
            countries: if one_in(rng, 4) {
                vec!["GB".into()]
            } else {
                Vec::new()
            },
            min_capacity: one_in(rng, 4).then_some(2),
            certifications: if one_in(rng, 5) {
                ids(rng, 4, 1)
            } else {
                Vec::new()
            },
        },
    }
}

fn inputs(seed: u64, parties: usize, opportunities: usize, declines: usize) -> Inputs {
    let mut rng = seed;
    let mut inputs = Inputs::default();
    inputs.vocabs.tenants.id("t");
    for i in 0..parties {
        let p = party(&mut rng, i);
        inputs.party_index.insert((0, p.id.clone()), i);
        inputs.parties.push(p);
    }
    for i in 0..opportunities {
        inputs.opportunities.push(opportunity(&mut rng, i, parties));
    }
    for _ in 0..declines {
        let o = next(&mut rng) as usize % opportunities;
        let p = next(&mut rng) as usize % parties;
        let event =
            ["match.declined", "match.accepted", "match.viewed"][(next(&mut rng) % 3) as usize];
        inputs
            .feedback
            .add(0, &format!("o{o:03}"), &format!("p{p:03}"), event);
    }
    inputs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matches_keep_every_constraint_and_equal_brute_force(
        seed in any::<u64>(),
        parties in 2..60usize,
        opportunities in 1..12usize,
        declines in 0..40usize,
    ) {
        let inputs = inputs(seed, parties, opportunities, declines);
        let config = Config::builtin();
        let (matches, _) = engine::run(&inputs, &config);
        let pools = inputs.pools();
        for m in &matches {
            let o = &inputs.opportunities[m.opportunity];
            let p = &inputs.parties[m.candidate];
            let role = o.roles.iter().find(|r| r.name == m.role);
            prop_assert!(p.id != o.poster, "matched to its own opportunity");
            prop_assert!(!inputs.feedback.declined(0, &o.id, &p.id), "declined pair proposed");
            prop_assert_eq!(check(o, role, p), Ok(()));
            prop_assert!((0.0..=1.0).contains(&m.score));
        }
        // Brute force: every party, same constraints, same score, same order.
        for (i, o) in inputs.opportunities.iter().enumerate() {
            let model = config.model(o.model);
            let roles: Vec<Option<&Role>> = if o.model == Model::ResourcePooling {
                vec![None]
            } else {
                o.roles.iter().map(Some).collect()
            };
            for role in roles {
                let poster = inputs.party(0, &o.poster);
                let mut want: Vec<(f64, &str)> = inputs
                    .parties
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| check(o, role, p).is_ok() && !inputs.feedback.declined(0, &o.id, &p.id))
                    .filter(|(j, _)| {
                        o.model != Model::ResourcePooling
                            || pools.get(j).is_some_and(|(offered, _)| {
                                o.needed.iter().any(|r| offered.contains(r))
                            })
                    })
                    .map(|(j, p)| {
                        let pair = Pair {
                            opportunity: o,
                            role,
                            poster,
                            party: p,
                            pool: pools.get(&j),
                            history: inputs.feedback.counts(0, &p.id),
                        };
                        (score_pair(model, &pair).score, p.id.as_str())
                    })
                    .collect();
                want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
                want.truncate(model.top_k);
                let name = role.map_or(engine::RESOURCES_ROLE, |r| r.name.as_str());
                let got: Vec<&str> = matches
                    .iter()
                    .filter(|m| m.opportunity == i && m.role == name)
                    .map(|m| inputs.parties[m.candidate].id.as_str())
                    .collect();
                let want: Vec<&str> = want.into_iter().map(|(_, id)| id).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn barter_cycles_are_real_cycles_of_needed_resources(
        seed in any::<u64>(),
        n in 2..40usize,
        declines in 0..30usize,
    ) {
        let mut inputs = inputs(seed, n, n, declines);
        for o in &mut inputs.opportunities {
            o.model = Model::ResourcePooling;
        }
        let pooling: Vec<&Opportunity> = inputs.opportunities.iter().collect();
        let posters: Vec<Option<&Party>> = pooling.iter().map(|o| inputs.party(0, &o.poster)).collect();
        let cycles = barter::cycles(&pooling, &posters, &inputs.feedback);
        let mut uses = std::collections::HashMap::new();
        for c in &cycles {
            for s in &c.steps {
                *uses.entry(s.giver).or_insert(0) += 1;
            }
        }
        prop_assert!(uses.values().all(|&n| n <= barter::CYCLES_PER_OPPORTUNITY));
        for c in cycles {
            prop_assert!(c.steps.len() == 2 || c.steps.len() == 3);
            let givers: HashSet<&str> = c.steps.iter().map(|s| pooling[s.giver].poster.as_str()).collect();
            prop_assert_eq!(givers.len(), c.steps.len(), "a poster appears twice");
            for (i, s) in c.steps.iter().enumerate() {
                let next = &c.steps[(i + 1) % c.steps.len()];
                prop_assert_eq!(s.receiver, next.giver, "not a cycle");
                let (giver, receiver) = (pooling[s.giver], pooling[s.receiver]);
                prop_assert!(!s.resources.is_empty());
                for r in &s.resources {
                    prop_assert!(giver.offered.contains(r) && receiver.needed.contains(r));
                }
                prop_assert!(!inputs.feedback.declined(0, &receiver.id, &giver.poster));
            }
            prop_assert!((0.0..=1.0).contains(&c.balance));
        }
    }
}
