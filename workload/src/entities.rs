//! Tenants, applications and the entities they register.
//!
//! Invariants:
//! - an event only references an entity that an earlier line of the same tenant registered:
//!   pools grow only when a registering event is written (see `EventType::registers`);
//! - an id is a bijection of (kind, tenant, index) salted by the seed, so two different
//!   entities never share an id and the same entity always gets the same id.

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The applications that emit events; `name` is the envelope `source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum App {
    Marketplace,
    Supporter,
    Chat,
    Saas,
    Analysis,
}

impl App {
    pub(crate) const ALL: [App; 5] = [
        App::Marketplace,
        App::Supporter,
        App::Chat,
        App::Saas,
        App::Analysis,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            App::Marketplace => "marketplace",
            App::Supporter => "supporter",
            App::Chat => "chat",
            App::Saas => "saas",
            App::Analysis => "analysis",
        }
    }
}

const TENANT_NAMES: [&str; 8] = [
    "acme-build",
    "helping-hands",
    "northwind-labs",
    "globex-analytics",
    "initech-cloud",
    "umbrella-care",
    "stark-robotics",
    "wayne-foundation",
];

/// Which applications a tenant uses: the builder runs the marketplace, the charity the
/// supporter app, and everyone uses the multi-tenant SaaS.
fn hosts(tenant: usize, app: App) -> bool {
    use App::*;
    match tenant {
        0 => matches!(app, Marketplace | Chat | Saas),
        1 => matches!(app, Supporter | Saas),
        2 => matches!(app, Saas | Chat | Analysis),
        3 => matches!(app, Analysis | Saas),
        _ => matches!(app, Saas | Chat | Analysis),
    }
}

pub(crate) struct Tenants {
    names: Vec<String>,
    /// Per app (indexed like [`App::ALL`]): hosting tenants with cumulative weights.
    by_app: [Vec<(usize, f64)>; 5],
}

impl Tenants {
    pub(crate) fn new(count: u32) -> Self {
        let count = count.max(1) as usize;
        let names = (0..count)
            .map(|t| match TENANT_NAMES.get(t) {
                Some(name) => (*name).to_owned(),
                None => format!("tenant-{t}"),
            })
            .collect();
        let by_app = App::ALL.map(|app| {
            let mut hosting: Vec<usize> = (0..count).filter(|&t| hosts(t, app)).collect();
            if hosting.is_empty() {
                hosting.push(app as usize % count);
            }
            // A few big tenants and a tail of small ones.
            let mut total = 0.0;
            hosting
                .into_iter()
                .enumerate()
                .map(|(rank, t)| {
                    total += 1.0 / (rank as f64 + 1.0);
                    (t, total)
                })
                .collect()
        });
        Self { names, by_app }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, tenant: usize) -> &str {
        &self.names[tenant]
    }

    pub(crate) fn pick(&self, app: App, rng: &mut ChaCha8Rng) -> usize {
        let hosting = &self.by_app[app as usize];
        let total = hosting.last().map_or(1.0, |&(_, c)| c);
        let u = rng.random::<f64>() * total;
        hosting
            .iter()
            .find(|&&(_, c)| u < c)
            .or(hosting.last())
            .map_or(0, |&(t, _)| t)
    }
}

/// What an id names; the prefix makes ids readable and distinct across kinds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Party = 1,
    Opportunity,
    Supporter,
    Campaign,
    Content,
    Room,
    ChatUser,
    Message,
    SaasUser,
    ApiKey,
    Session,
    Analyst,
    Upload,
    Analysis,
    Donation,
    Interaction,
    Conversation,
    Response,
    Application,
    Contract,
    Request,
    Artifact,
    Audit,
}

impl Kind {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Kind::Party => "pty_",
            Kind::Opportunity => "opp_",
            Kind::Supporter => "sup_",
            Kind::Campaign => "cmp_",
            Kind::Content => "cnt_",
            Kind::Room => "room_",
            Kind::ChatUser => "usr_",
            Kind::Message => "msg_",
            Kind::SaasUser => "acct_",
            Kind::ApiKey => "key_",
            Kind::Session => "ses_",
            Kind::Analyst => "anl_",
            Kind::Upload => "upl_",
            Kind::Analysis => "job_",
            Kind::Donation => "don_",
            Kind::Interaction => "int_",
            Kind::Conversation => "conv_",
            Kind::Response => "resp_",
            Kind::Application => "app_",
            Kind::Contract => "ctr_",
            Kind::Request => "req_",
            Kind::Artifact => "art_",
            Kind::Audit => "aud_",
        }
    }
}

/// An id as written: `prefix` + 16 hex digits of `key`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Id {
    pub kind: Kind,
    pub key: u64,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{:016x}", self.kind.prefix(), self.key)
    }
}

/// Tenant slot used for ids that are unique per line rather than per registered entity.
const LINE_SCOPE: u64 = 0xffff;

#[derive(Clone, Copy)]
pub(crate) struct Ids {
    salt: u64,
}

impl Ids {
    pub(crate) fn new(seed: u64) -> Self {
        Self { salt: mix(seed) }
    }

    /// Id of the `index`-th entity of `kind` registered by `tenant`.
    pub(crate) fn entity(self, kind: Kind, tenant: usize, index: u64) -> Id {
        debug_assert!(index < 1 << 40 && (tenant as u64) < LINE_SCOPE);
        self.make(kind, tenant as u64, index)
    }

    /// Id unique to line `seq` (donations, requests, interactions, ...).
    pub(crate) fn line(self, kind: Kind, seq: u64) -> Id {
        self.make(kind, LINE_SCOPE, seq)
    }

    fn make(self, kind: Kind, scope: u64, index: u64) -> Id {
        let raw = ((kind as u64) << 56) | (scope << 40) | (index & ((1 << 40) - 1));
        Id {
            kind,
            key: mix(raw ^ self.salt),
        }
    }
}

/// SplitMix64 finaliser: a bijection on `u64` with good avalanche.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Index in `0..n` with a power law: a few entities get most of the activity.
/// `n` must be positive.
pub(crate) fn pick_hot(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let u: f64 = rng.random();
    ((n as f64 * u * u * u) as u64).min(n - 1)
}

/// Index in `0..n` biased to the most recently registered (n - 1).
pub(crate) fn pick_recent(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    n - 1 - pick_hot(rng, n)
}

#[derive(Clone, Copy)]
pub(crate) struct Opportunity {
    pub poster: u64,
    /// Index into `events::marketplace::MODELS`.
    pub model: u8,
    /// Index into that model's sub-models.
    pub sub_model: u8,
}

#[derive(Clone, Copy)]
pub(crate) struct Message {
    pub sender: u64,
    /// Room index for room messages, recipient user index for direct ones.
    pub target: u64,
    pub direct: bool,
}

#[derive(Clone, Copy)]
pub(crate) struct PendingAnalysis {
    pub analysis: u64,
    pub upload: u64,
    pub kind: u8,
}

/// What the generator remembers of a party's profile: enough to plant opportunities that
/// are right for it (see `events::planted`). Updated by every `party.updated`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Profile {
    /// Index into `taxonomy::CITIES`.
    pub city: u8,
    /// Index into `taxonomy::ROLES` of the role the party specialises in.
    pub specialty: u8,
    /// (index into `taxonomy::SKILLS`, level).
    pub skills: Vec<(u8, u8)>,
    /// Indices into `taxonomy::SECTORS`.
    pub sectors: Vec<u8>,
    /// Indices into `taxonomy::CERTIFICATIONS`.
    pub certifications: Vec<u8>,
    /// First and last available instant (µs); `None` = not stated.
    pub available: Option<(i64, Option<i64>)>,
    pub verified: bool,
    /// Preferred models (indices into `events::marketplace::MODELS`); `None` = not stated.
    pub models: Option<Vec<u8>>,
    pub max_travel_km: Option<i64>,
}

/// An open resource-pooling opportunity's offer and need, for planting barter partners
/// (removed when the opportunity closes).
#[derive(Clone, Debug)]
pub(crate) struct Pooling {
    pub opportunity: u64,
    pub poster: u64,
    pub offered: Vec<u8>,
    pub needed: Vec<u8>,
}

/// Entities one tenant has registered so far.
#[derive(Default)]
pub(crate) struct Pools {
    pub parties: u64,
    /// Per party index.
    pub profiles: Vec<Profile>,
    /// Parties by (home city, specialty role).
    pub by_city_role: std::collections::HashMap<(u8, u8), Vec<u64>>,
    pub pooling: Vec<Pooling>,
    pub opportunities: Vec<Opportunity>,
    pub supporters: u64,
    pub rooms: u64,
    pub chat_users: u64,
    pub messages: Vec<Message>,
    pub saas_users: u64,
    pub sessions: u64,
    /// Open sessions as (session index, user index).
    pub open_sessions: Vec<(u64, u64)>,
    pub analysts: u64,
    /// Uploader (analyst index) per upload.
    pub uploads: Vec<u64>,
    pub analyses: u64,
    pub pending_analyses: VecDeque<PendingAnalysis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_across_tenants_and_indices() {
        let ids = Ids::new(7);
        let mut seen = std::collections::HashSet::new();
        for t in 0..4 {
            for i in 0..1000 {
                assert!(seen.insert(ids.entity(Kind::Party, t, i).to_string()));
            }
        }
        assert!(seen.insert(ids.line(Kind::Party, 0).to_string()));
    }

    #[test]
    fn every_app_has_a_tenant() {
        for count in 1..10 {
            let tenants = Tenants::new(count);
            for app in App::ALL {
                assert!(!tenants.by_app[app as usize].is_empty());
            }
        }
    }
}
