//! Planted opportunities: postings built around parties the generator chose, so the matching
//! engine's quality can be measured against known right answers (see `crate::truth`).
//!
//! A role-based plant takes an anchor party, finds peers with the same home city and
//! specialty who hold the same skills and are available and open to the model, and posts an
//! on-site opportunity in that city asking for those skills at the targets' lowest level, for
//! dates they are all available. A barter plant posts, next to an existing resource-pooling
//! opportunity, one that needs part of what it offers and offers part of what it needs.
//!
//! Invariant: see `crate::truth` — every planted party passes every hard constraint.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::marketplace::{HIRING, MODELS, RESOURCE_POOLING, write_location, write_strings};
use super::{Ctx, EventType, Generator, id_field};
use crate::clock::DAY_US;
use crate::entities::{Kind, Opportunity, Pooling, Pools, Profile};
use crate::taxonomy::{CERTIFICATIONS, CITIES, RESOURCES, ROLES, SECTORS, SKILLS};
use crate::truth::Planted;

/// Share of postings that are planted.
pub(super) const PLANT_SHARE: f64 = 0.25;
/// Radius of a planted on-site opportunity, km (targets live within a few km of the centre).
const RADIUS_KM: i64 = 50;

/// What a planted posting will say.
pub(super) enum Plan {
    Roles {
        poster: u64,
        city: u8,
        role: usize,
        /// (skill, level) the role requires.
        skills: Vec<(u8, u8)>,
        targets: Vec<u64>,
        starts: i64,
        ends: i64,
        sector: u8,
        verified_only: bool,
        country_only: bool,
        certification: Option<u8>,
    },
    Barter {
        poster: u64,
        city: u8,
        partner: Pooling,
        offered: Vec<u8>,
        needed: Vec<u8>,
    },
}

fn open_to(p: &Profile, model: u8) -> bool {
    p.models.as_ref().is_none_or(|m| m.contains(&model))
}

/// Whether `p` states availability covering `starts..=ends`.
fn available(p: &Profile, starts: i64, ends: i64) -> bool {
    p.available
        .is_some_and(|(from, to)| from <= starts && to.is_none_or(|t| t >= ends))
}

/// A plan for a posting of `model`, or `None` when no fitting parties were found quickly.
pub(super) fn plan(rng: &mut ChaCha8Rng, pools: &Pools, model: u8, at: i64) -> Option<Plan> {
    if pools.parties < 20 {
        return None;
    }
    if model == RESOURCE_POOLING {
        return barter(rng, pools);
    }
    for _ in 0..8 {
        let anchor = rng.random_range(0..pools.parties);
        let a = &pools.profiles[anchor as usize];
        let Some((from, _)) = a.available else {
            continue;
        };
        if !open_to(a, model) {
            continue;
        }
        let role = a.specialty as usize;
        let mut held: Vec<(u8, u8)> = a
            .skills
            .iter()
            .copied()
            .filter(|(s, _)| ROLES[role].1.contains(&(*s as usize)))
            .collect();
        if held.is_empty() {
            continue;
        }
        held.truncate(2);
        let starts = (at + 14 * DAY_US).max(from);
        let ends = starts + 60 * DAY_US;
        if !available(a, starts, ends) {
            continue;
        }
        let peers = pools.by_city_role.get(&(a.city, a.specialty))?;
        let want = if model == HIRING { 2 } else { 3 };
        let mut targets = vec![anchor];
        for _ in 0..40 {
            if targets.len() == want {
                break;
            }
            let p = peers[rng.random_range(0..peers.len())];
            let profile = &pools.profiles[p as usize];
            let holds_all = held
                .iter()
                .all(|(s, _)| profile.skills.iter().any(|(x, _)| x == s));
            if !targets.contains(&p)
                && holds_all
                && open_to(profile, model)
                && available(profile, starts, ends)
            {
                targets.push(p);
            }
        }
        if targets.len() < 2 {
            continue;
        }
        let profiles: Vec<&Profile> = targets
            .iter()
            .map(|&t| &pools.profiles[t as usize])
            .collect();
        let skills = held
            .iter()
            .map(|(s, _)| {
                let level = profiles
                    .iter()
                    .filter_map(|p| p.skills.iter().find(|(x, _)| x == s).map(|(_, l)| *l))
                    .min()
                    .unwrap_or(1);
                (*s, level)
            })
            .collect();
        let poster = loop {
            let p = rng.random_range(0..pools.parties);
            if !targets.contains(&p) {
                break p;
            }
        };
        let certification = a
            .certifications
            .iter()
            .copied()
            .find(|c| profiles.iter().all(|p| p.certifications.contains(c)));
        return Some(Plan::Roles {
            poster,
            city: a.city,
            role,
            skills,
            starts,
            ends,
            sector: a.sectors.first().copied().unwrap_or(0),
            verified_only: profiles.iter().all(|p| p.verified) && rng.random_bool(0.5),
            country_only: rng.random_bool(0.3),
            certification: certification.filter(|_| rng.random_bool(0.3)),
            targets,
        });
    }
    None
}

fn barter(rng: &mut ChaCha8Rng, pools: &Pools) -> Option<Plan> {
    let partner = pools
        .pooling
        .get(rng.random_range(0..pools.pooling.len().max(1)))?;
    if partner.offered.is_empty() || partner.needed.is_empty() {
        return None;
    }
    let city = pools.profiles[partner.poster as usize].city;
    let neighbours: Vec<&Vec<u64>> = (0..ROLES.len() as u8)
        .filter_map(|r| pools.by_city_role.get(&(city, r)))
        .collect();
    for _ in 0..8 {
        let list = neighbours[rng.random_range(0..neighbours.len())];
        let poster = list[rng.random_range(0..list.len())];
        if poster != partner.poster {
            return Some(Plan::Barter {
                poster,
                city,
                offered: subset(rng, &partner.needed),
                needed: subset(rng, &partner.offered),
                partner: partner.clone(),
            });
        }
    }
    None
}

/// A non-empty random subset of `items` (which is not empty), in the original order: a
/// partner rarely offers exactly, and only, what the other needs.
fn subset(rng: &mut ChaCha8Rng, items: &[u8]) -> Vec<u8> {
    let keep = rng.random_range(1..=items.len());
    let mut picked: Vec<usize> = (0..items.len()).collect();
    for i in 0..keep {
        let j = rng.random_range(i..picked.len());
        picked.swap(i, j);
    }
    picked.truncate(keep);
    picked.sort_unstable();
    picked.into_iter().map(|i| items[i]).collect()
}

impl Generator {
    /// Writes the posting `plan` describes and records its truth.
    pub(super) fn write_planted(
        &mut self,
        rng: &mut ChaCha8Rng,
        ctx: Ctx,
        plan: Plan,
        model: u8,
        sub_model: u8,
    ) {
        let t = ctx.tenant;
        let ids = self.ids;
        let party = |i: u64| ids.entity(Kind::Party, t, i);
        let index = self.pools[t].opportunities.len() as u64;
        let id = ids.entity(Kind::Opportunity, t, index);
        let (poster, city) = match &plan {
            Plan::Roles { poster, city, .. } | Plan::Barter { poster, city, .. } => {
                (*poster, *city)
            }
        };
        let sub_model = if model == RESOURCE_POOLING {
            1
        } else {
            sub_model
        };
        self.pools[t].opportunities.push(Opportunity {
            poster,
            model,
            sub_model,
        });
        self.open(rng, EventType::OpportunityPosted, ctx, party(poster));
        let w = &mut self.writer;
        let city_ = &CITIES[city as usize];
        id_field(w, "opportunity_id", id);
        id_field(w, "poster_id", party(poster));
        let m = &MODELS[model as usize];
        let (role, skills, count) = match &plan {
            Plan::Roles {
                role,
                skills,
                targets,
                ..
            } => (*role, skills.clone(), targets.len()),
            Plan::Barter { .. } => {
                let role = self.pools[t].profiles[poster as usize].specialty as usize;
                (role, vec![(ROLES[role].1[0] as u8, 2)], 1)
            }
        };
        w.key("title");
        w.str(&format!("{} wanted in {}", ROLES[role].0, city_.name));
        w.key("collaboration_model");
        w.str(m.name);
        w.key("sub_model");
        w.str(m.sub_models[sub_model as usize].0);
        w.key("required_roles");
        w.begin_array();
        w.begin_object();
        w.key("role");
        w.str(ROLES[role].0);
        w.key("skills");
        w.begin_array();
        for (s, level) in &skills {
            w.begin_object();
            w.key("name");
            w.str(SKILLS[*s as usize]);
            w.key("level");
            w.int(i64::from(*level));
            w.end_object();
        }
        w.end_array();
        w.key("count");
        w.int(count as i64);
        w.end_object();
        w.end_array();
        write_location(w, rng, city_);
        w.key("radius_km");
        w.int(RADIUS_KM);
        w.key("remote");
        w.bool(false);
        let truth = match plan {
            Plan::Roles {
                targets,
                starts,
                ends,
                sector,
                verified_only,
                country_only,
                certification,
                ..
            } => {
                write_strings(w, "sectors", &SECTORS, &[sector as usize]);
                w.key("starts_on");
                w.date(starts);
                w.key("ends_on");
                w.date(ends);
                if verified_only || country_only || certification.is_some() {
                    w.key("eligibility");
                    w.begin_object();
                    if verified_only {
                        w.key("min_verified");
                        w.bool(true);
                    }
                    if country_only {
                        w.key("countries");
                        w.begin_array();
                        w.str(city_.country);
                        w.end_array();
                    }
                    if let Some(c) = certification {
                        write_strings(w, "required_certifications", &CERTIFICATIONS, &[c as usize]);
                    }
                    w.end_object();
                }
                targets
            }
            Plan::Barter {
                partner,
                offered,
                needed,
                ..
            } => {
                write_strings(w, "sectors", &SECTORS, &[0]);
                w.key("starts_on");
                w.date(ctx.at + 14 * DAY_US);
                let list = |r: &[u8]| r.iter().map(|&x| x as usize).collect::<Vec<_>>();
                write_strings(w, "resources_offered", &RESOURCES, &list(&offered));
                write_strings(w, "resources_needed", &RESOURCES, &list(&needed));
                self.pools[t].pooling.push(Pooling {
                    opportunity: index,
                    poster,
                    offered,
                    needed,
                });
                vec![partner.poster]
            }
        };
        self.close();
        self.truth.push(Planted {
            tenant_id: self.tenants.name(t).to_owned(),
            opportunity_id: id.to_string(),
            model: m.name,
            parties: truth.into_iter().map(|p| party(p).to_string()).collect(),
        });
    }
}
