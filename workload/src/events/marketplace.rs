//! Marketplace events: parties, opportunities under the five collaboration models, applications,
//! matches and contracts.
//!
//! Invariant: a party's home city, kind and currency derive from its id, so every event about
//! the same party agrees on them; opportunities remember their poster and model so closes,
//! matches and contracts stay consistent with the posting.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::planted::{self, PLANT_SHARE};
use super::{Ctx, EventType, Generator, distinct, id_field, log_normal, one, weighted};
use crate::clock::DAY_US;
use crate::entities::{Id, Kind, Opportunity, Pooling, Profile, pick_hot, pick_recent};
use crate::json::JsonWriter;
use crate::taxonomy::{
    CERTIFICATIONS, CITIES, COMPANY_SUFFIXES, City, FIRST_NAMES, PROJECT_NOUNS, RESOURCES, ROLES,
    SECTORS, SKILLS, SURNAMES,
};

/// A collaboration model with its sub-models and the contract template each uses.
pub(crate) struct Model {
    pub name: &'static str,
    /// Relative share of opportunities posted under this model.
    pub share: u32,
    /// (sub-model, contract template) pairs.
    pub sub_models: &'static [(&'static str, &'static str)],
}

pub(crate) const MODELS: [Model; 5] = [
    Model {
        name: "project",
        share: 35,
        sub_models: &[
            ("standard", "services_agreement"),
            ("consortium", "consortium_agreement"),
            ("spv", "spv_shareholders_agreement"),
            ("joint_venture", "joint_venture_agreement"),
        ],
    },
    Model {
        name: "strategic",
        share: 15,
        sub_models: &[
            ("joint_venture", "joint_venture_agreement"),
            ("mentorship", "mentorship_agreement"),
            ("consortium", "consortium_agreement"),
        ],
    },
    Model {
        name: "resource_pooling",
        share: 12,
        sub_models: &[
            ("pooling", "resource_sharing_agreement"),
            ("barter", "barter_agreement"),
        ],
    },
    Model {
        name: "hiring",
        share: 25,
        sub_models: &[
            ("full_time", "employment_contract"),
            ("contract", "contractor_agreement"),
        ],
    },
    Model {
        name: "competition",
        share: 13,
        sub_models: &[
            ("open", "competition_terms"),
            ("invitational", "competition_terms"),
        ],
    },
];
pub(super) const HIRING: u8 = 3;
const COMPETITION: u8 = 4;
pub(super) const RESOURCE_POOLING: u8 = 2;

/// Value of one unit of each currency in pounds sterling, roughly.
fn per_pound(currency: &str) -> f64 {
    match currency {
        "EUR" => 1.17,
        "USD" => 1.27,
        "CAD" => 1.73,
        "CHF" => 1.12,
        "SEK" => 13.5,
        "DKK" => 8.7,
        "PLN" => 5.0,
        _ => 1.0,
    }
}

/// Index of a party's home city, weighted by city size; derived from the party's id key.
pub(super) fn home_city_index(key: u64) -> usize {
    let total: u64 = CITIES.iter().map(|c| u64::from(c.weight)).sum();
    let mut u = key % total;
    for (i, c) in CITIES.iter().enumerate() {
        if u < u64::from(c.weight) {
            return i;
        }
        u -= u64::from(c.weight);
    }
    0
}

fn home_city(key: u64) -> &'static City {
    &CITIES[home_city_index(key)]
}

/// The role a party specialises in (most of its skills come from it); from the id key.
pub(super) fn specialty(key: u64) -> usize {
    (key >> 40) as usize % ROLES.len()
}

fn is_individual(key: u64) -> bool {
    (key >> 24) % 100 < 65
}

pub(super) fn write_location(w: &mut JsonWriter, rng: &mut ChaCha8Rng, city: &City) {
    // Triangular jitter of up to ~4 km around the city centre.
    let dlat = (rng.random::<f64>() + rng.random::<f64>() - 1.0) * 0.04;
    let dlon =
        (rng.random::<f64>() + rng.random::<f64>() - 1.0) * 0.04 / city.lat.to_radians().cos();
    w.key("location");
    w.begin_object();
    w.key("lat");
    w.float(city.lat + dlat, 5);
    w.key("lon");
    w.float(city.lon + dlon, 5);
    w.key("country");
    w.str(city.country);
    w.key("city");
    w.str(city.name);
    w.end_object();
}

fn write_money_range(w: &mut JsonWriter, key: &str, low: f64, spread: f64, currency: &str) {
    let round = if low >= 10_000.0 { 1000.0 } else { 10.0 };
    let min = ((low / round).round() * round).max(round);
    let max = ((min * spread / round).round() * round).max(min);
    w.key(key);
    w.begin_object();
    w.key("min");
    w.int(min as i64);
    w.key("max");
    w.int(max as i64);
    w.key("currency");
    w.str(currency);
    w.end_object();
}

pub(super) fn write_strings(w: &mut JsonWriter, key: &str, items: &[&str], picks: &[usize]) {
    w.key(key);
    w.begin_array();
    for &i in picks {
        w.str(items[i]);
    }
    w.end_array();
}

/// Party profile fields in contract order; `kind` and `party_id` are written separately.
#[derive(Clone, Copy, PartialEq)]
enum PartyField {
    Name,
    Skills,
    Sectors,
    Certifications,
    Location,
    Capacity,
    Availability,
    Rate,
    Languages,
    Verified,
    Preferences,
}

/// Fields a `party.updated` may carry.
const UPDATABLE: [PartyField; 8] = [
    PartyField::Skills,
    PartyField::Certifications,
    PartyField::Location,
    PartyField::Capacity,
    PartyField::Availability,
    PartyField::Rate,
    PartyField::Verified,
    PartyField::Preferences,
];

/// Writes one profile field and remembers it in `profile`.
fn write_party_field(
    w: &mut JsonWriter,
    rng: &mut ChaCha8Rng,
    field: PartyField,
    key: u64,
    at: i64,
    profile: &mut Profile,
) {
    let individual = is_individual(key);
    let city = home_city(key);
    match field {
        PartyField::Name => {
            w.key("name");
            let first = FIRST_NAMES[(key >> 8) as usize % FIRST_NAMES.len()];
            let last = SURNAMES[(key >> 16) as usize % SURNAMES.len()];
            if individual {
                w.str_args(format_args!("{first} {last}"));
            } else {
                let suffix = COMPANY_SUFFIXES[(key >> 32) as usize % COMPANY_SUFFIXES.len()];
                w.str(&format!("{last} {suffix}"));
            }
        }
        PartyField::Skills => {
            // A party specialises in one role's skills and adds a few others.
            let role = ROLES[specialty(key)].1;
            let want = if individual {
                rng.random_range(2..=6)
            } else {
                rng.random_range(4..=12)
            };
            let mut from_role = 0;
            let (skills, n) = distinct::<12>(rng, want, |rng| {
                from_role += 1;
                if from_role <= role.len() && rng.random_bool(0.8) {
                    role[from_role - 1]
                } else {
                    rng.random_range(0..SKILLS.len())
                }
            });
            w.key("skills");
            w.begin_array();
            profile.skills.clear();
            for &s in &skills[..n] {
                w.begin_object();
                w.key("name");
                w.str(SKILLS[s]);
                w.key("level");
                let level = weighted(rng, &[(1, 5), (2, 15), (3, 35), (4, 30), (5, 15)]);
                w.int(level);
                profile.skills.push((s as u8, level as u8));
                if rng.random_bool(0.7) {
                    w.key("years_experience");
                    w.int(rng.random_range(1..=35));
                }
                w.end_object();
            }
            w.end_array();
        }
        PartyField::Sectors => {
            let want = rng.random_range(1..=3);
            let (sectors, n) = distinct::<3>(rng, want, |rng| rng.random_range(0..SECTORS.len()));
            write_strings(w, "sectors", &SECTORS, &sectors[..n]);
            profile.sectors = sectors[..n].iter().map(|&x| x as u8).collect();
        }
        PartyField::Certifications => {
            let want = rng.random_range(0..=4);
            let (certs, n) =
                distinct::<4>(rng, want, |rng| rng.random_range(0..CERTIFICATIONS.len()));
            write_strings(w, "certifications", &CERTIFICATIONS, &certs[..n]);
            profile.certifications = certs[..n].iter().map(|&x| x as u8).collect();
        }
        PartyField::Location => write_location(w, rng, city),
        PartyField::Capacity => {
            w.key("capacity");
            w.int(if individual {
                rng.random_range(1..=3)
            } else {
                rng.random_range(2..=40)
            });
        }
        PartyField::Availability => {
            let from = at + rng.random_range(0..60) * DAY_US;
            w.key("availability");
            w.begin_object();
            w.key("from");
            w.date(from);
            let mut to = None;
            if rng.random_bool(0.7) {
                let last = from + rng.random_range(30..365) * DAY_US;
                w.key("to");
                w.date(last);
                to = Some(last);
            }
            w.end_object();
            profile.available = Some((from, to));
        }
        PartyField::Rate => {
            let fx = per_pound(city.currency);
            if individual {
                let day_rate = log_normal(rng, 450.0, 0.35).clamp(150.0, 2500.0) * fx;
                write_money_range(
                    w,
                    "rate",
                    day_rate,
                    rng.random_range(1.1..1.5),
                    city.currency,
                );
            } else {
                let budget = log_normal(rng, 80_000.0, 1.0).clamp(10_000.0, 5e6) * fx;
                write_money_range(w, "rate", budget, rng.random_range(1.5..4.0), city.currency);
            }
        }
        PartyField::Languages => {
            w.key("languages");
            w.begin_array();
            w.str("en");
            if city.language != "en" && (city.country != "IE" || rng.random_bool(0.1)) {
                w.str(city.language);
            } else if rng.random_bool(0.08) {
                w.str(one(rng, &["pl", "ro", "pt", "es", "ur", "pa"]));
            }
            w.end_array();
        }
        PartyField::Verified => {
            w.key("verified");
            profile.verified = rng.random_bool(0.6);
            w.bool(profile.verified);
        }
        PartyField::Preferences => {
            let want = rng.random_range(1..=3);
            let (models, n) = distinct::<3>(rng, want, |rng| rng.random_range(0..MODELS.len()));
            w.key("preferences");
            w.begin_object();
            w.key("collaboration_models");
            w.begin_array();
            for &m in &models[..n] {
                w.str(MODELS[m].name);
            }
            w.end_array();
            profile.models = Some(models[..n].iter().map(|&m| m as u8).collect());
            w.key("remote_ok");
            w.bool(rng.random_bool(0.55));
            profile.max_travel_km = None;
            if rng.random_bool(0.6) {
                let km = weighted(rng, &[(25, 20), (50, 30), (100, 25), (250, 15), (1000, 10)]);
                w.key("max_travel_km");
                w.int(km);
                profile.max_travel_km = Some(km);
            }
            w.end_object();
        }
    }
}

impl Generator {
    pub(super) fn marketplace(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx) {
        use EventType::*;
        let ids = self.ids;
        let t = ctx.tenant;
        let party = |i: u64| ids.entity(Kind::Party, t, i);
        let opportunity = |i: u64| ids.entity(Kind::Opportunity, t, i);
        let pools = &mut self.pools[t];
        match ty {
            PartyRegistered => {
                let index = pools.parties;
                pools.parties += 1;
                let id = party(index);
                let city = home_city_index(id.key) as u8;
                let role = specialty(id.key) as u8;
                pools.profiles.push(Profile {
                    city,
                    specialty: role,
                    ..Profile::default()
                });
                pools
                    .by_city_role
                    .entry((city, role))
                    .or_default()
                    .push(index);
                self.open(rng, ty, ctx, id);
                let profile = &mut self.pools[t].profiles[index as usize];
                let w = &mut self.writer;
                id_field(w, "party_id", id);
                w.key("kind");
                w.str(if is_individual(id.key) {
                    "individual"
                } else {
                    "company"
                });
                use PartyField::*;
                for field in [
                    Name,
                    Skills,
                    Sectors,
                    Certifications,
                    Location,
                    Capacity,
                    Availability,
                    Rate,
                    Languages,
                    Verified,
                    Preferences,
                ] {
                    let optional_share = match field {
                        Certifications => 0.85,
                        Availability => 0.8,
                        Preferences => 0.7,
                        _ => 1.0,
                    };
                    if optional_share >= 1.0 || rng.random_bool(optional_share) {
                        write_party_field(w, rng, field, id.key, ctx.at, profile);
                    }
                }
            }
            PartyUpdated => {
                let index = pick_hot(rng, pools.parties);
                let id = party(index);
                self.open(rng, ty, ctx, id);
                let profile = &mut self.pools[t].profiles[index as usize];
                let w = &mut self.writer;
                id_field(w, "party_id", id);
                let want = rng.random_range(1..=3);
                let (mut fields, n) =
                    distinct::<3>(rng, want, |rng| rng.random_range(0..UPDATABLE.len()));
                fields[..n].sort_unstable();
                for &f in &fields[..n] {
                    write_party_field(w, rng, UPDATABLE[f], id.key, ctx.at, profile);
                }
            }
            OpportunityPosted => {
                let model = weighted(
                    rng,
                    &[0u8, 1, 2, 3, 4].map(|m| (m, MODELS[m as usize].share)),
                );
                let subs = MODELS[model as usize].sub_models;
                let sub_model = rng.random_range(0..subs.len()) as u8;
                if rng.random_bool(PLANT_SHARE)
                    && let Some(plan) = planted::plan(rng, pools, model, ctx.at)
                {
                    self.write_planted(rng, ctx, plan, model, sub_model);
                    return;
                }
                let poster = pick_hot(rng, pools.parties);
                let index = pools.opportunities.len() as u64;
                pools.opportunities.push(Opportunity {
                    poster,
                    model,
                    sub_model,
                });
                let poster_id = party(poster);
                self.open(rng, ty, ctx, poster_id);
                let w = &mut self.writer;
                let (offered, needed) =
                    write_opportunity(w, rng, ctx, opportunity(index), poster_id, model, sub_model);
                if model == RESOURCE_POOLING {
                    self.pools[t].pooling.push(Pooling {
                        opportunity: index,
                        poster,
                        offered,
                        needed,
                    });
                }
            }
            OpportunityClosed => {
                let which = pick_recent(rng, pools.opportunities.len() as u64);
                let poster = pools.opportunities[which as usize].poster;
                pools.pooling.retain(|p| p.opportunity != which);
                self.open(rng, ty, ctx, party(poster));
                let w = &mut self.writer;
                id_field(w, "opportunity_id", opportunity(which));
                w.key("reason");
                w.str(weighted(
                    rng,
                    &[("filled", 50), ("expired", 30), ("cancelled", 20)],
                ));
            }
            ApplicationSubmitted => {
                let which = pick_recent(rng, pools.opportunities.len() as u64);
                let o = pools.opportunities[which as usize];
                let applicant = other_party(rng, pools.parties, o.poster);
                self.open(rng, ty, ctx, party(applicant));
                let w = &mut self.writer;
                id_field(w, "application_id", ids.line(Kind::Application, ctx.seq));
                id_field(w, "opportunity_id", opportunity(which));
                id_field(w, "applicant_id", party(applicant));
                w.key("role");
                w.str(one(rng, &ROLES).0);
                w.key("message_length");
                w.int(log_normal(rng, 600.0, 0.7).min(20_000.0) as i64);
                if rng.random_bool(0.6) {
                    w.key("proposed_rate");
                    w.int((log_normal(rng, 450.0, 0.4) / 10.0).round() as i64 * 10);
                }
            }
            MatchViewed | MatchAccepted | MatchDeclined => {
                let which = pick_recent(rng, pools.opportunities.len() as u64);
                let o = pools.opportunities[which as usize];
                let candidate = other_party(rng, pools.parties, o.poster);
                self.open(rng, ty, ctx, party(candidate));
                let w = &mut self.writer;
                id_field(w, "opportunity_id", opportunity(which));
                id_field(w, "candidate_id", party(candidate));
                if rng.random_bool(0.85) {
                    // The matching job runs daily; its run id is the day it ran.
                    w.key("run_id");
                    let day = chrono::DateTime::from_timestamp_micros(ctx.at)
                        .expect("generated times are within chrono's range")
                        .date_naive();
                    w.str_args(format_args!("match-run-{day}"));
                }
                if rng.random_bool(0.9) {
                    w.key("rank");
                    w.int(1 + pick_hot(rng, 25) as i64);
                }
                if ty == MatchDeclined && rng.random_bool(0.7) {
                    w.key("reason");
                    w.str(weighted(
                        rng,
                        &[
                            ("skills_mismatch", 30),
                            ("too_far", 15),
                            ("too_expensive", 25),
                            ("unavailable", 15),
                            ("not_verified", 5),
                            ("other", 10),
                        ],
                    ));
                }
            }
            ContractGenerated => {
                let which = pick_recent(rng, pools.opportunities.len() as u64);
                let o = pools.opportunities[which as usize];
                let others = match o.model {
                    HIRING | COMPETITION => 1,
                    _ => rng.random_range(1..=4),
                };
                let parties = pools.parties;
                let (members, n) = distinct::<4>(rng, others, |rng| {
                    other_party(rng, parties, o.poster) as usize
                });
                let poster_id = party(o.poster);
                self.open(rng, ty, ctx, poster_id);
                let w = &mut self.writer;
                id_field(w, "contract_id", ids.line(Kind::Contract, ctx.seq));
                id_field(w, "opportunity_id", opportunity(which));
                w.key("party_ids");
                w.begin_array();
                w.str_args(format_args!("{poster_id}"));
                for &m in &members[..n] {
                    w.str_args(format_args!("{}", party(m as u64)));
                }
                w.end_array();
                let currency = home_city(poster_id.key).currency;
                w.key("value_minor");
                let value = log_normal(rng, 45_000.0, 1.0) * per_pound(currency);
                w.int((value.round() as i64).max(1) * 100);
                w.key("currency");
                w.str(currency);
                w.key("template");
                w.str(MODELS[o.model as usize].sub_models[o.sub_model as usize].1);
            }
            _ => unreachable!("{ty:?} is not a marketplace event"),
        }
        self.close();
    }
}

/// A party other than `not` (there are at least two parties).
fn other_party(rng: &mut ChaCha8Rng, parties: u64, not: u64) -> u64 {
    let p = pick_hot(rng, parties);
    if p == not { (p + 1) % parties } else { p }
}

/// Writes a posting's payload; returns the resources it offers and needs.
fn write_opportunity(
    w: &mut JsonWriter,
    rng: &mut ChaCha8Rng,
    ctx: Ctx,
    id: Id,
    poster: Id,
    model: u8,
    sub_model: u8,
) -> (Vec<u8>, Vec<u8>) {
    let city = home_city(poster.key);
    let Model {
        name: model_name,
        sub_models: subs,
        ..
    } = &MODELS[model as usize];
    id_field(w, "opportunity_id", id);
    id_field(w, "poster_id", poster);
    let roles_wanted = match model {
        HIRING => 1,
        COMPETITION | RESOURCE_POOLING => rng.random_range(1..=2),
        _ => rng.random_range(1..=4),
    };
    let (roles, n_roles) = distinct::<4>(rng, roles_wanted, |rng| rng.random_range(0..ROLES.len()));
    let want_sectors = rng.random_range(1..=2);
    let (sectors, n_sectors) =
        distinct::<2>(rng, want_sectors, |rng| rng.random_range(0..SECTORS.len()));
    w.key("title");
    w.str(&format!(
        "{} for {} {} in {}",
        ROLES[roles[0]].0,
        SECTORS[sectors[0]].to_lowercase(),
        one(rng, &PROJECT_NOUNS),
        city.name
    ));
    w.key("collaboration_model");
    w.str(model_name);
    w.key("sub_model");
    w.str(subs[sub_model as usize].0);
    w.key("required_roles");
    w.begin_array();
    for &r in &roles[..n_roles] {
        let (role, role_skills) = ROLES[r];
        w.begin_object();
        w.key("role");
        w.str(role);
        let want = rng.random_range(1..=3);
        let (skills, n) = distinct::<3>(rng, want, |rng| one(rng, role_skills));
        w.key("skills");
        w.begin_array();
        for &s in &skills[..n] {
            w.begin_object();
            w.key("name");
            w.str(SKILLS[s]);
            w.key("level");
            w.int(weighted(rng, &[(2, 20), (3, 40), (4, 30), (5, 10)]));
            w.end_object();
        }
        w.end_array();
        w.key("count");
        w.int(if model == HIRING {
            rng.random_range(1..=2)
        } else {
            rng.random_range(1..=3)
        });
        w.end_object();
    }
    w.end_array();
    write_strings(w, "sectors", &SECTORS, &sectors[..n_sectors]);
    let fx = per_pound(city.currency);
    if model != COMPETITION && rng.random_bool(0.85) {
        let low = match model {
            HIRING => log_normal(rng, 45_000.0, 0.35),
            _ => log_normal(rng, 150_000.0, 1.2).clamp(10_000.0, 5e7),
        };
        write_money_range(
            w,
            "budget",
            low * fx,
            rng.random_range(1.2..2.0),
            city.currency,
        );
    }
    let remote = rng.random_bool(0.25);
    if !remote || rng.random_bool(0.4) {
        write_location(w, rng, city);
        if rng.random_bool(0.8) {
            w.key("radius_km");
            w.int(weighted(
                rng,
                &[(10, 15), (25, 30), (50, 30), (100, 20), (500, 5)],
            ));
        }
    }
    w.key("remote");
    w.bool(remote);
    let starts = ctx.at + rng.random_range(7..90) * DAY_US;
    w.key("starts_on");
    w.date(starts);
    if rng.random_bool(0.8) {
        w.key("ends_on");
        w.date(starts + rng.random_range(30..540) * DAY_US);
    }
    let pooling = model == RESOURCE_POOLING;
    let mut resources = [Vec::new(), Vec::new()];
    for (slot, key) in ["resources_offered", "resources_needed"]
        .into_iter()
        .enumerate()
    {
        if pooling || rng.random_bool(0.2) {
            let want = rng.random_range(1..=3);
            // A posting does not need what it offers.
            let offered = resources[0].clone();
            let (res, n) = distinct::<3>(rng, want, |rng| {
                loop {
                    let r = rng.random_range(0..RESOURCES.len());
                    if !offered.contains(&(r as u8)) {
                        break r;
                    }
                }
            });
            write_strings(w, key, &RESOURCES, &res[..n]);
            resources[slot] = res[..n].iter().map(|&r| r as u8).collect();
        }
    }
    if rng.random_bool(0.5) {
        w.key("eligibility");
        w.begin_object();
        if rng.random_bool(0.6) {
            w.key("min_verified");
            w.bool(true);
        }
        if rng.random_bool(0.4) {
            w.key("countries");
            w.begin_array();
            w.str(city.country);
            if city.country != "GB" && rng.random_bool(0.5) {
                w.str("GB");
            }
            w.end_array();
        }
        if rng.random_bool(0.3) {
            w.key("min_capacity");
            w.int(rng.random_range(1..=5));
        }
        if rng.random_bool(0.4) {
            let want = rng.random_range(1..=2);
            let (certs, n) =
                distinct::<2>(rng, want, |rng| rng.random_range(0..CERTIFICATIONS.len()));
            write_strings(w, "required_certifications", &CERTIFICATIONS, &certs[..n]);
        }
        w.end_object();
    }
    if model == COMPETITION {
        w.key("prize");
        w.begin_object();
        w.key("amount_minor");
        w.int(weighted(
            rng,
            &[
                (250_000, 30),
                (500_000, 30),
                (1_000_000, 25),
                (2_500_000, 15),
            ],
        ));
        w.key("currency");
        w.str(city.currency);
        w.end_object();
    }
    let [offered, needed] = resources;
    (offered, needed)
}
