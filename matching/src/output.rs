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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReasonRow {
    pub factor: String,
    pub score: f64,
    pub weight: f64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchRow {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub candidate_id: String,
    pub model: String,
    pub sub_model: String,
    pub role: String,
    pub score: f64,
    pub fit: f64,
    pub interest: Option<f64>,
    pub rank: i64,
    pub reasons: Vec<ReasonRow>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRow {
    pub party_id: String,
    pub role: String,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamRow {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub model: String,
    pub team_rank: i64,
    pub score: f64,
    pub coverage: f64,
    pub complete: bool,
    pub members: Vec<MemberRow>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRow {
    pub giver_id: String,
    pub giver_opportunity_id: String,
    pub receiver_id: String,
    pub receiver_opportunity_id: String,
    pub resources: Vec<String>,
    pub distance_km: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleRow {
    pub tenant_id: String,
    pub cycle_id: String,
    pub rank: i64,
    pub length: i64,
    pub score: f64,
    pub balance: f64,
    pub distance_km: f64,
    pub party_ids: Vec<String>,
    pub steps: Vec<StepRow>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MentorshipRow {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub mentee_id: String,
    pub mentor_id: String,
    pub score: f64,
    /// Position of the mentor in the mentee's preferences (1 = first choice).
    pub mentee_choice: i64,
    /// Position of the mentee in the mentor's preferences.
    pub mentor_choice: i64,
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
