//! The matching view of parties and opportunities, read from `silver.parties` and
//! `silver.opportunities`, with names interned to small ids so comparisons are integer work.
//!
//! Invariant: skill, sector, certification and resource lists are sorted and de-duplicated
//! (a skill keeps its highest level), so set operations are merges; money is converted to
//! pounds sterling once, here, so every comparison is in one currency.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::model::Model;

/// Names to dense ids, one space per vocabulary.
#[derive(Debug, Default)]
pub struct Vocab {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Vocab {
    /// The id of `name`, interning it as the next dense id if it is new.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    /// The id of `name` if it was interned; never interns.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name interned as `id`; panics on an id this vocabulary did not hand out.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Names interned so far; the ids are `0..len`.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name was interned yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn ids(&mut self, names: &[String]) -> Vec<u32> {
        let mut out: Vec<u32> = names.iter().map(|n| self.id(n)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Every vocabulary the engine interns.
#[derive(Debug, Default)]
pub struct Vocabs {
    /// Tenant ids (`tenant_id`).
    pub tenants: Vocab,
    /// Skill names of the taxonomy, for parties and roles alike.
    pub skills: Vocab,
    /// Sector names.
    pub sectors: Vocab,
    /// Certification names, held or required.
    pub certifications: Vocab,
    /// Resource names, offered or needed by opportunities.
    pub resources: Vocab,
    /// Working languages (ISO 639-1 codes).
    pub languages: Vocab,
}

/// A skill and its level (1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skill {
    /// Skill id in [`Vocabs::skills`].
    pub id: u32,
    /// Proficiency from 1 (foundation) to 5 (expert).
    pub level: u8,
}

/// Whether `skills` hold `need` at its level or above.
pub fn holds(skills: &[Skill], need: &Skill) -> bool {
    skills
        .iter()
        .any(|s| s.id == need.id && s.level >= need.level)
}

/// A point on the globe, in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude (WGS 84), in [-90, 90].
    pub lat: f64,
    /// Longitude (WGS 84), in [-180, 180].
    pub lon: f64,
}

/// A money range in pounds sterling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money {
    /// Lower bound, in pounds.
    pub min: f64,
    /// Upper bound, in pounds; never below `min`.
    pub max: f64,
}

/// A party as the engine sees it.
#[derive(Debug, Clone)]
pub struct Party {
    /// Tenant id in [`Vocabs::tenants`].
    pub tenant: u32,
    /// The party's id, unique within its tenant.
    pub id: String,
    /// Whether the party is an individual (its rate is a day rate) rather than a company.
    pub individual: bool,
    /// Skills held, sorted by id, each once at its highest level.
    pub skills: Vec<Skill>,
    /// Sector ids it works in, sorted.
    pub sectors: Vec<u32>,
    /// Certification ids it holds, sorted.
    pub certifications: Vec<u32>,
    /// Where it is based, if stated.
    pub location: Option<Point>,
    /// Country of its location (ISO 3166-1 alpha-2), if stated.
    pub country: Option<String>,
    /// Engagements it can run at the same time, at least 1 (1 when not stated).
    pub capacity: u32,
    /// First and last available day (days since 1970-01-01); `None` = not stated.
    pub available: Option<(i32, Option<i32>)>,
    /// Day rate for an individual, typical engagement price for a company; in pounds.
    pub rate: Option<Money>,
    /// Working language ids, sorted.
    pub languages: Vec<u32>,
    /// Whether the marketplace verified its identity and credentials.
    pub verified: bool,
    /// Preferred models; `None` = not stated.
    pub models: Option<Vec<Model>>,
    /// Whether remote engagements are acceptable; `None` = not stated.
    pub remote_ok: Option<bool>,
    /// Furthest it will travel for on-site work, in km; `None` = not stated.
    pub max_travel_km: Option<f64>,
}

/// A role to fill.
#[derive(Debug, Clone)]
pub struct Role {
    /// Role title, unique within its opportunity; names the role's match list.
    pub name: String,
    /// Required skills at the minimum level asked, sorted by id.
    pub skills: Vec<Skill>,
    /// Headcount: how many people or parties the role needs, 1–100.
    pub count: u32,
}

/// Who may take part.
#[derive(Debug, Clone, Default)]
pub struct Eligibility {
    /// Only parties verified by the marketplace (`min_verified`).
    pub verified_only: bool,
    /// Allowed countries (ISO 3166-1 alpha-2); empty = any.
    pub countries: Vec<String>,
    /// Least capacity a party must have.
    pub min_capacity: Option<u32>,
    /// Certification ids a party must all hold, sorted.
    pub certifications: Vec<u32>,
}

/// An open opportunity as the engine sees it.
#[derive(Debug, Clone)]
pub struct Opportunity {
    /// Tenant id in [`Vocabs::tenants`].
    pub tenant: u32,
    /// The opportunity's id, unique within its tenant.
    pub id: String,
    /// Party id of the poster, within the same tenant.
    pub poster: String,
    /// The collaboration model it is matched under.
    pub model: Model,
    /// Variant within the model (`mentorship`, `spv`, …); empty when not given.
    pub sub_model: String,
    /// Roles to fill, one per name (duplicates merged).
    pub roles: Vec<Role>,
    /// Sector ids the work belongs to, sorted.
    pub sectors: Vec<u32>,
    /// Budget for the whole opportunity in pounds (for hiring, the salary of one hire).
    pub budget: Option<Money>,
    /// Where the work happens; `None` for fully remote work.
    pub location: Option<Point>,
    /// Whether the work can be done remotely (then no radius applies).
    pub remote: bool,
    /// How far candidates may be for on-site work, in km; `None` = [`DEFAULT_RADIUS_KM`].
    ///
    /// [`DEFAULT_RADIUS_KM`]: crate::constraint::DEFAULT_RADIUS_KM
    pub radius_km: Option<f64>,
    /// Planned start day (days since 1970-01-01).
    pub starts: i32,
    /// Planned end day (days since 1970-01-01); `None` = open-ended, counted as 90 days.
    pub ends: Option<i32>,
    /// Resource ids the poster brings, sorted.
    pub offered: Vec<u32>,
    /// Resource ids the poster is looking for, sorted; never one it offers.
    pub needed: Vec<u32>,
    /// Who may take part; the default lets anyone.
    pub eligibility: Eligibility,
}

/// Value of one unit of each currency in pounds sterling (a fixed table: matching only needs
/// to compare orders of magnitude, and a fixed table keeps runs reproducible).
pub fn to_pounds(amount: f64, currency: &str) -> f64 {
    let per_pound = match currency {
        "EUR" => 1.17,
        "USD" => 1.27,
        "CAD" => 1.73,
        "CHF" => 1.12,
        "SEK" => 13.5,
        "DKK" => 8.7,
        "PLN" => 5.0,
        _ => 1.0,
    };
    amount / per_pound
}

pub(crate) fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32
}

// ---- rows as they come out of the silver tables (via arrow-json) ----

#[derive(Deserialize)]
pub(crate) struct SkillRow {
    name: String,
    level: i64,
}

#[derive(Deserialize)]
pub(crate) struct LocationRow {
    lat: f64,
    lon: f64,
    country: String,
}

#[derive(Deserialize)]
pub(crate) struct MoneyRow {
    min: i64,
    max: i64,
    currency: String,
}

#[derive(Deserialize)]
pub(crate) struct AvailabilityRow {
    from: NaiveDate,
    to: Option<NaiveDate>,
}

#[derive(Deserialize)]
pub(crate) struct PreferencesRow {
    collaboration_models: Option<Vec<String>>,
    remote_ok: Option<bool>,
    max_travel_km: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct PartyRow {
    tenant_id: String,
    party_id: String,
    kind: Option<String>,
    skills: Option<Vec<SkillRow>>,
    sectors: Option<Vec<String>>,
    certifications: Option<Vec<String>>,
    location: Option<LocationRow>,
    capacity: Option<i64>,
    availability: Option<AvailabilityRow>,
    rate: Option<MoneyRow>,
    languages: Option<Vec<String>>,
    verified: Option<bool>,
    preferences: Option<PreferencesRow>,
}

#[derive(Deserialize)]
pub(crate) struct RoleRow {
    role: String,
    skills: Vec<SkillRow>,
    count: i64,
}

#[derive(Deserialize)]
pub(crate) struct EligibilityRow {
    min_verified: Option<bool>,
    countries: Option<Vec<String>>,
    min_capacity: Option<i64>,
    required_certifications: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub(crate) struct OpportunityRow {
    tenant_id: String,
    opportunity_id: String,
    poster_id: Option<String>,
    collaboration_model: Option<String>,
    sub_model: Option<String>,
    required_roles: Option<Vec<RoleRow>>,
    sectors: Option<Vec<String>>,
    budget: Option<MoneyRow>,
    location: Option<LocationRow>,
    remote: Option<bool>,
    radius_km: Option<i64>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    resources_offered: Option<Vec<String>>,
    resources_needed: Option<Vec<String>>,
    eligibility: Option<EligibilityRow>,
}

fn skills(vocab: &mut Vocab, rows: &[SkillRow]) -> Vec<Skill> {
    let mut out: Vec<Skill> = rows
        .iter()
        .map(|s| Skill {
            id: vocab.id(&s.name),
            level: s.level.clamp(1, 5) as u8,
        })
        .collect();
    // Highest level first within an id, then keep the first of each id.
    out.sort_unstable_by(|a, b| a.id.cmp(&b.id).then(b.level.cmp(&a.level)));
    out.dedup_by_key(|s| s.id);
    out
}

/// The roles of a posting; roles listed twice under one name are merged (headcounts added,
/// skills united at the higher level), so a role name identifies one list of matches.
fn roles(vocab: &mut Vocab, rows: Vec<RoleRow>) -> Vec<Role> {
    let mut out: Vec<Role> = Vec::new();
    for r in rows {
        let count = r.count.clamp(1, 100) as u32;
        let mut skills_ = skills(vocab, &r.skills);
        match out.iter_mut().find(|x| x.name == r.role) {
            Some(role) => {
                role.count = (role.count + count).min(100);
                skills_.extend(role.skills.iter().copied());
                skills_.sort_unstable_by(|a, b| a.id.cmp(&b.id).then(b.level.cmp(&a.level)));
                skills_.dedup_by_key(|s| s.id);
                role.skills = skills_;
            }
            None => out.push(Role {
                name: r.role,
                skills: skills_,
                count,
            }),
        }
    }
    out
}

fn money(row: &MoneyRow) -> Money {
    Money {
        min: to_pounds(row.min as f64, &row.currency),
        max: to_pounds(row.max.max(row.min) as f64, &row.currency),
    }
}

impl PartyRow {
    /// Load order: by tenant, then by 1° cell of the location, then by id. Parties of one
    /// place are neighbours in memory, so walking a cell's posting list stays in cache; the
    /// order never decides a result (ties are broken by party id).
    pub(crate) fn key(&self) -> (&str, i16, i16, &str) {
        let cell = crate::engine::cell;
        let (lat, lon) = self
            .location
            .as_ref()
            .map_or((i16::MAX, i16::MAX), |l| (cell(l.lat), cell(l.lon)));
        (&self.tenant_id, lat, lon, &self.party_id)
    }

    pub(crate) fn into_party(self, v: &mut Vocabs) -> Party {
        let empty = Vec::new();
        Party {
            tenant: v.tenants.id(&self.tenant_id),
            id: self.party_id,
            individual: self.kind.as_deref() == Some("individual"),
            skills: skills(&mut v.skills, self.skills.as_deref().unwrap_or(&[])),
            sectors: v.sectors.ids(self.sectors.as_ref().unwrap_or(&empty)),
            certifications: v
                .certifications
                .ids(self.certifications.as_ref().unwrap_or(&empty)),
            location: self.location.as_ref().map(|l| Point {
                lat: l.lat,
                lon: l.lon,
            }),
            country: self.location.map(|l| l.country),
            capacity: self.capacity.unwrap_or(1).clamp(1, 10_000) as u32,
            available: self
                .availability
                .map(|a| (day_number(a.from), a.to.map(day_number))),
            rate: self.rate.as_ref().map(money),
            languages: v.languages.ids(self.languages.as_ref().unwrap_or(&empty)),
            verified: self.verified.unwrap_or(false),
            models: self
                .preferences
                .as_ref()
                .and_then(|p| p.collaboration_models.as_ref())
                .map(|ms| ms.iter().filter_map(|m| Model::parse(m)).collect()),
            remote_ok: self.preferences.as_ref().and_then(|p| p.remote_ok),
            max_travel_km: self
                .preferences
                .as_ref()
                .and_then(|p| p.max_travel_km)
                .map(|k| k as f64),
        }
    }
}

impl OpportunityRow {
    /// `None` when the row lacks what matching needs (a model, a poster, a start day).
    pub(crate) fn into_opportunity(self, v: &mut Vocabs) -> Option<Opportunity> {
        let empty = Vec::new();
        let model = Model::parse(self.collaboration_model.as_deref()?)?;
        let eligibility = self.eligibility.map(|e| Eligibility {
            verified_only: e.min_verified.unwrap_or(false),
            countries: e.countries.unwrap_or_default(),
            min_capacity: e.min_capacity.map(|c| c.max(1) as u32),
            certifications: v
                .certifications
                .ids(e.required_certifications.as_ref().unwrap_or(&empty)),
        });
        Some(Opportunity {
            tenant: v.tenants.id(&self.tenant_id),
            id: self.opportunity_id,
            poster: self.poster_id?,
            model,
            sub_model: self.sub_model.unwrap_or_default(),
            roles: roles(&mut v.skills, self.required_roles.unwrap_or_default()),
            sectors: v.sectors.ids(self.sectors.as_ref().unwrap_or(&empty)),
            budget: self.budget.as_ref().map(money),
            location: self.location.map(|l| Point {
                lat: l.lat,
                lon: l.lon,
            }),
            remote: self.remote.unwrap_or(false),
            radius_km: self.radius_km.map(|r| r as f64),
            starts: day_number(self.starts_on?),
            ends: self.ends_on.map(day_number),
            needed: {
                // What an opportunity offers itself is not something it needs.
                let offered = self.resources_offered.as_ref().unwrap_or(&empty);
                let needed: Vec<String> = self
                    .resources_needed
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| !offered.contains(r))
                    .collect();
                v.resources.ids(&needed)
            },
            offered: v
                .resources
                .ids(self.resources_offered.as_ref().unwrap_or(&empty)),
            eligibility: eligibility.unwrap_or_default(),
        })
    }
}
