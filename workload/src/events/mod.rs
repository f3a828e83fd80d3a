//! Event types, their envelope, and the generator that writes one good line at a time.
//!
//! Invariant: every line written by [`Generator::write`] is a complete envelope whose payload
//! satisfies the contract in `lake/contracts/<source>/<event_type>.toml` (required fields
//! present, types, enums, ranges), and only references entities registered by earlier lines of
//! the same tenant. `tests/integration/contracts.rs` checks this against the contract files.

mod analysis;
mod chat;
mod marketplace;
mod planted;
mod saas;
mod supporter;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::config::Mix;
use crate::entities::{App, Id, Ids, Pools, Tenants};
use crate::json::JsonWriter;
use crate::truth::Planted;

/// Every event type the workload emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    PartyRegistered,
    PartyUpdated,
    OpportunityPosted,
    OpportunityClosed,
    ApplicationSubmitted,
    MatchViewed,
    MatchAccepted,
    MatchDeclined,
    ContractGenerated,
    SupporterRegistered,
    SupporterUpdated,
    DonationMade,
    InteractionLogged,
    AgentResponseRated,
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    RoomCreated,
    UserJoined,
    UserLeft,
    ApiRequest,
    SessionStarted,
    SessionEnded,
    ArtifactGenerated,
    UploadReceived,
    AnalysisRequested,
    AnalysisCompleted,
    AnalysisFailed,
    AuditLogged,
}

/// A value that breaks a field's range while keeping its type.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Breach {
    Int(i64),
    Float(f64),
}

/// Static facts about an event type.
pub(crate) struct Spec {
    pub name: &'static str,
    pub app: App,
    /// Relative volume per 10 000 events.
    pub weight: u32,
    /// Top-level payload fields the contract marks `required = true`.
    pub required: &'static [&'static str],
    /// JSON pointers (into the envelope) of range-checked fields and a value outside the range.
    pub out_of_range: &'static [(&'static str, Breach)],
}

const MATCH_REQUIRED: &[&str] = &["opportunity_id", "candidate_id"];
const MATCH_RANGE: &[(&str, Breach)] = &[("/payload/rank", Breach::Int(0))];
const MESSAGE_REQUIRED: &[&str] = &[
    "message_id",
    "kind",
    "sender_id",
    "length",
    "has_attachment",
];
const ANALYSIS_RANGE: &[(&str, Breach)] = &[("/payload/duration_ms", Breach::Int(-5))];

impl EventType {
    pub(crate) const ALL: [EventType; 29] = [
        EventType::PartyRegistered,
        EventType::PartyUpdated,
        EventType::OpportunityPosted,
        EventType::OpportunityClosed,
        EventType::ApplicationSubmitted,
        EventType::MatchViewed,
        EventType::MatchAccepted,
        EventType::MatchDeclined,
        EventType::ContractGenerated,
        EventType::SupporterRegistered,
        EventType::SupporterUpdated,
        EventType::DonationMade,
        EventType::InteractionLogged,
        EventType::AgentResponseRated,
        EventType::MessageCreated,
        EventType::MessageUpdated,
        EventType::MessageDeleted,
        EventType::RoomCreated,
        EventType::UserJoined,
        EventType::UserLeft,
        EventType::ApiRequest,
        EventType::SessionStarted,
        EventType::SessionEnded,
        EventType::ArtifactGenerated,
        EventType::UploadReceived,
        EventType::AnalysisRequested,
        EventType::AnalysisCompleted,
        EventType::AnalysisFailed,
        EventType::AuditLogged,
    ];

    pub(crate) fn spec(self) -> Spec {
        use App::*;
        use EventType::*;
        let (name, app, weight, required, out_of_range): (_, _, _, &[&str], &[(&str, Breach)]) =
            match self {
                PartyRegistered => (
                    "party.registered",
                    Marketplace,
                    60,
                    &[
                        "party_id",
                        "kind",
                        "name",
                        "skills",
                        "sectors",
                        "location",
                        "capacity",
                        "rate",
                        "languages",
                        "verified",
                    ],
                    &[],
                ),
                PartyUpdated => (
                    "party.updated",
                    Marketplace,
                    40,
                    &["party_id"],
                    &[
                        ("/payload/capacity", Breach::Int(0)),
                        ("/payload/skills/0/level", Breach::Int(11)),
                        ("/payload/location/lat", Breach::Float(123.4)),
                    ],
                ),
                OpportunityPosted => (
                    "opportunity.posted",
                    Marketplace,
                    50,
                    &[
                        "opportunity_id",
                        "poster_id",
                        "title",
                        "collaboration_model",
                        "sub_model",
                        "required_roles",
                        "sectors",
                        "remote",
                        "starts_on",
                    ],
                    &[("/payload/required_roles/0/skills/0/level", Breach::Int(11))],
                ),
                OpportunityClosed => (
                    "opportunity.closed",
                    Marketplace,
                    30,
                    &["opportunity_id", "reason"],
                    &[],
                ),
                ApplicationSubmitted => (
                    "application.submitted",
                    Marketplace,
                    200,
                    &[
                        "application_id",
                        "opportunity_id",
                        "applicant_id",
                        "role",
                        "message_length",
                    ],
                    &[("/payload/message_length", Breach::Int(-12))],
                ),
                MatchViewed => (
                    "match.viewed",
                    Marketplace,
                    400,
                    MATCH_REQUIRED,
                    MATCH_RANGE,
                ),
                MatchAccepted => (
                    "match.accepted",
                    Marketplace,
                    60,
                    MATCH_REQUIRED,
                    MATCH_RANGE,
                ),
                MatchDeclined => (
                    "match.declined",
                    Marketplace,
                    60,
                    MATCH_REQUIRED,
                    MATCH_RANGE,
                ),
                ContractGenerated => (
                    "contract.generated",
                    Marketplace,
                    20,
                    &[
                        "contract_id",
                        "opportunity_id",
                        "party_ids",
                        "value_minor",
                        "currency",
                        "template",
                    ],
                    &[("/payload/value_minor", Breach::Int(-100))],
                ),
                SupporterRegistered => (
                    "supporter.registered",
                    Supporter,
                    150,
                    &[
                        "supporter_id",
                        "interests",
                        "preferred_channel",
                        "consent",
                        "country",
                    ],
                    &[],
                ),
                SupporterUpdated => (
                    "supporter.updated",
                    Supporter,
                    40,
                    &["supporter_id"],
                    &[("/payload/birth_year", Breach::Int(1850))],
                ),
                DonationMade => (
                    "donation.made",
                    Supporter,
                    600,
                    &[
                        "donation_id",
                        "amount_minor",
                        "currency",
                        "campaign_id",
                        "cause",
                        "channel",
                        "recurring",
                        "gift_aid",
                    ],
                    &[
                        ("/payload/amount_minor", Breach::Int(-500)),
                        ("/payload/amount_minor", Breach::Int(0)),
                    ],
                ),
                InteractionLogged => (
                    "interaction.logged",
                    Supporter,
                    2000,
                    &["interaction_id", "kind"],
                    &[("/payload/duration_ms", Breach::Int(-250))],
                ),
                AgentResponseRated => (
                    "agent.response_rated",
                    Supporter,
                    100,
                    &["conversation_id", "response_id", "rating"],
                    &[
                        ("/payload/rating", Breach::Int(9)),
                        ("/payload/rating", Breach::Int(0)),
                    ],
                ),
                MessageCreated => (
                    "message.created",
                    Chat,
                    1100,
                    MESSAGE_REQUIRED,
                    &[("/payload/length", Breach::Int(-1))],
                ),
                MessageUpdated => (
                    "message.updated",
                    Chat,
                    100,
                    MESSAGE_REQUIRED,
                    &[("/payload/length", Breach::Int(-1))],
                ),
                MessageDeleted => (
                    "message.deleted",
                    Chat,
                    50,
                    &["message_id", "kind", "sender_id"],
                    &[("/payload/length", Breach::Int(-1))],
                ),
                RoomCreated => (
                    "room.created",
                    Chat,
                    30,
                    &["room_id", "name", "visibility", "created_by"],
                    &[],
                ),
                UserJoined => ("user.joined", Chat, 150, &["room_id", "user_id"], &[]),
                UserLeft => ("user.left", Chat, 50, &["room_id", "user_id"], &[]),
                ApiRequest => (
                    "api.request",
                    Saas,
                    3000,
                    &[
                        "request_id",
                        "route",
                        "method",
                        "status",
                        "latency_ms",
                        "tier",
                        "api_key_id",
                    ],
                    &[
                        ("/payload/status", Breach::Int(700)),
                        ("/payload/latency_ms", Breach::Float(-3.5)),
                    ],
                ),
                SessionStarted => (
                    "session.started",
                    Saas,
                    250,
                    &["session_id", "user_id"],
                    &[],
                ),
                SessionEnded => (
                    "session.ended",
                    Saas,
                    220,
                    &["session_id", "user_id", "duration_ms"],
                    &[("/payload/duration_ms", Breach::Int(-1000))],
                ),
                ArtifactGenerated => (
                    "artifact.generated",
                    Saas,
                    150,
                    &["artifact_id", "kind", "size_bytes"],
                    &[("/payload/size_bytes", Breach::Int(-1))],
                ),
                UploadReceived => (
                    "upload.received",
                    Analysis,
                    80,
                    &["upload_id", "size_bytes", "rows", "format"],
                    &[("/payload/rows", Breach::Int(-10))],
                ),
                AnalysisRequested => (
                    "analysis.requested",
                    Analysis,
                    120,
                    &["analysis_id", "upload_id", "kind"],
                    &[],
                ),
                AnalysisCompleted => (
                    "analysis.completed",
                    Analysis,
                    100,
                    &["analysis_id", "upload_id", "kind", "duration_ms"],
                    ANALYSIS_RANGE,
                ),
                AnalysisFailed => (
                    "analysis.failed",
                    Analysis,
                    20,
                    &[
                        "analysis_id",
                        "upload_id",
                        "kind",
                        "duration_ms",
                        "error_class",
                    ],
                    ANALYSIS_RANGE,
                ),
                AuditLogged => (
                    "audit.logged",
                    Analysis,
                    200,
                    &["audit_id", "actor_id", "action", "resource", "outcome"],
                    &[],
                ),
            };
        Spec {
            name,
            app,
            weight,
            required,
            out_of_range,
        }
    }

    /// Weight in the marketplace-only mix (about five parties per opportunity, for matching
    /// benchmarks), or `None` for other applications' events.
    fn marketplace_weight(self) -> Option<u32> {
        use EventType::*;
        Some(match self {
            PartyRegistered => 500,
            PartyUpdated => 40,
            OpportunityPosted => 100,
            OpportunityClosed => 10,
            ApplicationSubmitted => 60,
            MatchViewed => 120,
            MatchAccepted => 30,
            MatchDeclined => 30,
            ContractGenerated => 10,
            _ => return None,
        })
    }

    /// Whether writing this event registers an entity that later lines rely on.
    /// Such lines are always emitted good, so a rejected line never leaves later references
    /// dangling.
    pub(crate) fn registers(self) -> bool {
        use EventType::*;
        matches!(
            self,
            PartyRegistered
                | OpportunityPosted
                | SupporterRegistered
                | RoomCreated
                | UserJoined
                | MessageCreated
                | SessionStarted
                | UploadReceived
                | AnalysisRequested
        )
    }
}

/// Where and when the line being written happens.
#[derive(Clone, Copy)]
pub(crate) struct Ctx {
    /// Line number in the stream.
    pub seq: u64,
    pub tenant: usize,
    /// `occurred_at`, microseconds since the epoch.
    pub at: i64,
}

/// Writes good lines; owns the registered entities of every tenant.
pub(crate) struct Generator {
    tenants: Tenants,
    pools: Vec<Pools>,
    ids: Ids,
    writer: JsonWriter,
    /// Event types with cumulative weights.
    mix: Vec<(EventType, u32)>,
    /// Planted matching ground truth, in posting order.
    truth: Vec<Planted>,
}

impl Generator {
    pub(crate) fn new(seed: u64, tenants: u32, mix: Mix) -> Self {
        let tenants = Tenants::new(tenants);
        let pools = (0..tenants.len()).map(|_| Pools::default()).collect();
        let mut total = 0;
        let mix = EventType::ALL
            .iter()
            .filter_map(|&ty| {
                let weight = match mix {
                    Mix::All => ty.spec().weight,
                    Mix::Marketplace => ty.marketplace_weight()?,
                };
                total += weight;
                Some((ty, total))
            })
            .collect();
        Self {
            tenants,
            pools,
            ids: Ids::new(seed),
            writer: JsonWriter::with_capacity(2048),
            mix,
            truth: Vec::new(),
        }
    }

    /// The ground truth planted so far.
    pub(crate) fn truth(&self) -> &[Planted] {
        &self.truth
    }

    /// The last line written.
    pub(crate) fn line(&self) -> &[u8] {
        self.writer.bytes()
    }

    /// Writes one good line occurring at `at` (µs since the epoch) and returns its type.
    pub(crate) fn write(&mut self, rng: &mut ChaCha8Rng, seq: u64, at: i64) -> EventType {
        let total = self.mix.last().map_or(1, |&(_, c)| c);
        let u = rng.random_range(0..total);
        let wanted = self
            .mix
            .iter()
            .find(|&&(_, c)| u < c)
            .map_or(EventType::ApiRequest, |&(ty, _)| ty);
        let tenant = self.tenants.pick(wanted.spec().app, rng);
        let ty = self.resolve(wanted, tenant);
        let ctx = Ctx { seq, tenant, at };
        match ty.spec().app {
            App::Marketplace => self.marketplace(rng, ty, ctx),
            App::Supporter => self.supporter(rng, ty, ctx),
            App::Chat => self.chat(rng, ty, ctx),
            App::Saas => self.saas(rng, ty, ctx),
            App::Analysis => self.analysis(rng, ty, ctx),
        }
        ty
    }

    /// Replaces an event type whose references cannot be met yet by the event that registers
    /// what is missing.
    fn resolve(&self, mut ty: EventType, tenant: usize) -> EventType {
        use EventType::*;
        let p = &self.pools[tenant];
        loop {
            ty = match ty {
                PartyUpdated | OpportunityPosted if p.parties == 0 => PartyRegistered,
                OpportunityClosed | ApplicationSubmitted | MatchViewed | MatchAccepted
                | MatchDeclined | ContractGenerated
                    if p.parties < 2 =>
                {
                    PartyRegistered
                }
                OpportunityClosed | ApplicationSubmitted | MatchViewed | MatchAccepted
                | MatchDeclined | ContractGenerated
                    if p.opportunities.is_empty() =>
                {
                    OpportunityPosted
                }
                SupporterUpdated | DonationMade | InteractionLogged | AgentResponseRated
                    if p.supporters == 0 =>
                {
                    SupporterRegistered
                }
                MessageCreated | UserJoined | UserLeft if p.rooms == 0 => RoomCreated,
                MessageCreated | UserLeft if p.chat_users == 0 => UserJoined,
                MessageUpdated | MessageDeleted if p.messages.is_empty() => MessageCreated,
                ApiRequest | SessionEnded | ArtifactGenerated if p.open_sessions.is_empty() => {
                    SessionStarted
                }
                AnalysisRequested | AuditLogged if p.uploads.is_empty() => UploadReceived,
                AnalysisCompleted | AnalysisFailed if p.pending_analyses.is_empty() => {
                    AnalysisRequested
                }
                _ => return ty,
            }
        }
    }

    /// Starts a line: the envelope up to and including the opening of `payload`.
    fn open(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx, subject: Id) {
        let spec = ty.spec();
        let w = &mut self.writer;
        w.clear();
        w.begin_object();
        w.key("event_id");
        // A version-4 UUID drawn from the seeded generator.
        let hi = (rng.random::<u64>() & !0xf000) | 0x4000;
        let lo = (rng.random::<u64>() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        w.str_args(format_args!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        ));
        w.key("event_type");
        w.str(spec.name);
        w.key("source");
        w.str(spec.app.name());
        w.key("tenant_id");
        w.str(self.tenants.name(ctx.tenant));
        w.key("subject_id");
        w.str_args(format_args!("{subject}"));
        w.key("occurred_at");
        w.timestamp(ctx.at);
        w.key("schema_version");
        w.int(1);
        w.key("payload");
        w.begin_object();
    }

    /// Ends a line: closes `payload` and the envelope.
    fn close(&mut self) {
        self.writer.end_object();
        self.writer.end_object();
    }
}

/// Writes `key: "<id>"`.
fn id_field(w: &mut JsonWriter, key: &str, id: Id) {
    w.key(key);
    w.str_args(format_args!("{id}"));
}

fn one<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|&(_, w)| w).sum();
    let mut u = rng.random_range(0..total);
    for &(item, w) in items {
        if u < w {
            return item;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

/// Log-normal draw with the given median; `sigma` sets the length of the tail.
fn log_normal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    median * (sigma * z).exp()
}

/// Up to `N` distinct indices in `0..n`, drawn by `draw`; returns how many were filled.
fn distinct<const N: usize>(
    rng: &mut ChaCha8Rng,
    want: usize,
    mut draw: impl FnMut(&mut ChaCha8Rng) -> usize,
) -> ([usize; N], usize) {
    let mut out = [0; N];
    let mut len = 0;
    let want = want.min(N);
    for _ in 0..want * 4 {
        if len == want {
            break;
        }
        let x = draw(rng);
        if !out[..len].contains(&x) {
            out[len] = x;
            len += 1;
        }
    }
    (out, len)
}
