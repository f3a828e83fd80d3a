//! The four gold tables the engine publishes, their Arrow schemas, and the row types that
//! fill them (serialised into Arrow by `arrow-json`).
//!
//! Invariant: every row carries `tenant_id` (the serving API scopes every lookup by it) and
//! the `run_id` of the run that computed it.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::Result;

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn f64_(name: &str) -> Field {
    Field::new(name, DataType::Float64, false)
}

fn i64_(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn list_of(name: &str, fields: Vec<Field>) -> Field {
    let item = Field::new("element", DataType::Struct(Fields::from(fields)), false);
    Field::new(name, DataType::List(Arc::new(item)), false)
}

fn strings(name: &str) -> Field {
    let item = Field::new("element", DataType::Utf8, false);
    Field::new(name, DataType::List(Arc::new(item)), false)
}

/// `gold.matches`.
pub fn matches_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("tenant_id"),
        utf8("opportunity_id"),
        utf8("candidate_id"),
        utf8("model"),
        utf8("sub_model"),
        utf8("role"),
        f64_("score"),
        f64_("fit"),
        Field::new("interest", DataType::Float64, true),
        i64_("rank"),
        list_of(
            "reasons",
            vec![utf8("factor"), f64_("score"), f64_("weight"), utf8("text")],
        ),
        utf8("run_id"),
    ]))
}

/// One reason of a match: a sub-score, its weight and its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReasonRow {
    /// The sub-score's name (`skills`, `distance`, …), or `interest` for the candidate's side.
    pub factor: String,
    /// The sub-score's value, unweighted, in [0, 1].
    pub score: f64,
    /// The factor's normalised weight in the model; 0 for `interest`.
    pub weight: f64,
    /// What a person reads, e.g. "12 km away".
    pub text: String,
}

/// A row of `gold.matches`: one proposed candidate for one role of one open opportunity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchRow {
    /// The tenant; every lookup is scoped by it.
    pub tenant_id: String,
    /// The open opportunity matched.
    pub opportunity_id: String,
    /// The proposed party; never the poster, never a declined pair.
    pub candidate_id: String,
    /// The opportunity's collaboration model, e.g. `resource_pooling`.
    pub model: String,
    /// The opportunity's sub-model (e.g. `mentorship`); empty when it has none.
    pub sub_model: String,
    /// The role's name, or `resources` for resource pooling.
    pub role: String,
    /// `fit`, or for reciprocal models the harmonic mean of `fit` and `interest`; in [0, 1].
    pub score: f64,
    /// How well the candidate fits the opportunity: Σ weight × sub-score, in [0, 1].
    pub fit: f64,
    /// How well the opportunity fits the candidate, in [0, 1]; null unless reciprocal.
    pub interest: Option<f64>,
    /// Position in the opportunity's list for this role, from 1 (best).
    pub rank: i64,
    /// The top three weighted contributions, then the candidate's side when it counts.
    pub reasons: Vec<ReasonRow>,
    /// The run that computed the row.
    pub run_id: String,
}

/// `gold.team_suggestions`.
pub fn teams_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("tenant_id"),
        utf8("opportunity_id"),
        utf8("model"),
        i64_("team_rank"),
        f64_("score"),
        f64_("coverage"),
        Field::new("complete", DataType::Boolean, false),
        list_of(
            "members",
            vec![utf8("party_id"), utf8("role"), f64_("score")],
        ),
        utf8("run_id"),
    ]))
}

/// A member of a suggested team.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRow {
    /// The party, a candidate published for the role in `gold.matches`.
    pub party_id: String,
    /// The name of the role it fills (one slot of it).
    pub role: String,
    /// Its match score for that role, in [0, 1].
    pub score: f64,
}

/// A row of `gold.team_suggestions`: one suggested team for a project or competition
/// opportunity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamRow {
    /// The tenant; every lookup is scoped by it.
    pub tenant_id: String,
    /// The opportunity the team is for.
    pub opportunity_id: String,
    /// The opportunity's collaboration model: `project` or `competition`.
    pub model: String,
    /// Position among the opportunity's suggestions, from 1 (best score).
    pub team_rank: i64,
    /// Mean member score times coverage, in [0, 1].
    pub score: f64,
    /// Share of the universe (role slots and required skills) covered, in [0, 1].
    pub coverage: f64,
    /// Whether every role slot is filled and every required skill covered.
    pub complete: bool,
    /// The members in the order the greedy cover picked them; no party twice.
    pub members: Vec<MemberRow>,
    /// The run that computed the row.
    pub run_id: String,
}

/// `gold.barter_cycles`.
pub fn cycles_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("tenant_id"),
        utf8("cycle_id"),
        i64_("rank"),
        i64_("length"),
        f64_("score"),
        f64_("balance"),
        f64_("distance_km"),
        strings("party_ids"),
        list_of(
            "steps",
            vec![
                utf8("giver_id"),
                utf8("giver_opportunity_id"),
                utf8("receiver_id"),
                utf8("receiver_opportunity_id"),
                strings("resources"),
                Field::new("distance_km", DataType::Float64, true),
            ],
        ),
        utf8("run_id"),
    ]))
}

/// One step of a barter cycle: the giver's opportunity offers resources the receiver's needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRow {
    /// The poster of the giving opportunity.
    pub giver_id: String,
    /// The resource-pooling opportunity that offers the resources.
    pub giver_opportunity_id: String,
    /// The poster of the receiving opportunity.
    pub receiver_id: String,
    /// The resource-pooling opportunity that needs the resources.
    pub receiver_opportunity_id: String,
    /// Names of the resources given: needed by the receiver, offered by the giver; never empty.
    pub resources: Vec<String>,
    /// Distance between the two opportunities' places, in km; null if either is unknown.
    pub distance_km: Option<f64>,
}

/// A row of `gold.barter_cycles`: an exchange among 2 or 3 resource-pooling opportunities.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleRow {
    /// The tenant; every lookup is scoped by it.
    pub tenant_id: String,
    /// The giver opportunity ids in step order, joined by `>`.
    pub cycle_id: String,
    /// Position among the tenant's cycles, from 1 (best score).
    pub rank: i64,
    /// Number of steps: 2 or 3.
    pub length: i64,
    /// 0.4 × balance + 0.4 × mean coverage + 0.2 × distance score, in [0, 1].
    pub score: f64,
    /// Smallest step coverage over the largest: 1 when everyone gets as much as they give.
    pub balance: f64,
    /// Total distance over the steps, in km (a step of unknown distance counts 0).
    pub distance_km: f64,
    /// The givers' party ids in step order; distinct.
    pub party_ids: Vec<String>,
    /// The steps in order; each receiver is the next step's giver, the last gives to the first.
    pub steps: Vec<StepRow>,
    /// The run that computed the row.
    pub run_id: String,
}

/// `gold.mentorship_pairs`.
pub fn mentorship_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("tenant_id"),
        utf8("opportunity_id"),
        utf8("mentee_id"),
        utf8("mentor_id"),
        f64_("score"),
        i64_("mentee_choice"),
        i64_("mentor_choice"),
        utf8("run_id"),
    ]))
}

/// A row of `gold.mentorship_pairs`: one mentee's mentor in the stable assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MentorshipRow {
    /// The tenant; every lookup is scoped by it.
    pub tenant_id: String,
    /// The mentee's `strategic`/`mentorship` opportunity.
    pub opportunity_id: String,
    /// The opportunity's poster.
    pub mentee_id: String,
    /// The assigned mentor, a candidate published for the opportunity in `gold.matches`.
    pub mentor_id: String,
    /// The pair's match score (its best row over the opportunity's roles), in [0, 1].
    pub score: f64,
    /// Position of the mentor in the mentee's preferences (1 = first choice).
    pub mentee_choice: i64,
    /// Position of the mentee in the mentor's preferences.
    pub mentor_choice: i64,
    /// The run that computed the row.
    pub run_id: String,
}

/// Rows per record batch.
const BATCH: usize = 8192;

/// Serialises rows into record batches of `schema`, a batch at a time, so only one batch of
/// rows is alive beside the Arrow output.
pub fn to_batches<T: Serialize>(
    schema: &SchemaRef,
    rows: impl IntoIterator<Item = T>,
) -> Result<Vec<RecordBatch>> {
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(BATCH)
        .build_decoder()?;
    let mut out = Vec::new();
    let mut chunk = Vec::with_capacity(BATCH);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(BATCH));
        decoder.serialize(&chunk)?;
        if let Some(batch) = decoder.flush()? {
            out.push(batch);
        }
    }
    Ok(out)
}
