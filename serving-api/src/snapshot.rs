//! The online snapshot: the gold tables the API serves, loaded into memory and keyed for one
//! lookup per request, each entity's JSON serialised once at load time.
//!
//! Invariant: a snapshot is immutable once built; the server swaps whole snapshots, so a
//! request sees one consistent set of table versions, named by `version`.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use eventlake_lake::{Lake, TableName, query};
use serde::Deserialize;

/// One match, ready to send.
#[derive(Debug, Clone)]
pub struct Item {
    pub role: String,
    pub rank: i64,
    pub json: Box<str>,
}

/// A supporter's context, ready to send.
#[derive(Debug, Clone)]
pub struct Context {
    pub json: Box<str>,
    pub prompt: Option<String>,
}

/// The gold tables in memory.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Table → Delta version loaded.
    pub versions: BTreeMap<String, u64>,
    pub loaded_at: Option<DateTime<Utc>>,
    /// (tenant, opportunity) → its matches, by role then rank.
    pub by_opportunity: HashMap<(String, String), Vec<Item>>,
    /// (tenant, party) → the matches where it is the candidate, by score.
    pub by_party: HashMap<(String, String), Vec<Item>>,
    /// (tenant, supporter) → personalisation context.
    pub contexts: HashMap<(String, String), Context>,
}

impl Snapshot {
    /// `table@version` pairs, the snapshot's name in every response.
    pub fn version(&self) -> String {
        self.versions
            .iter()
            .map(|(t, v)| format!("{t}@{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Deserialize)]
struct MatchKey {
    tenant_id: String,
    opportunity_id: String,
    candidate_id: String,
    role: String,
    rank: i64,
}

#[derive(Deserialize)]
struct ContextKey {
    tenant_id: String,
    supporter_id: String,
    prompt_context: Option<String>,
}

/// Each row of `batches` as a JSON object (one line per row).
fn lines(batches: &[RecordBatch]) -> Result<Vec<String>, arrow::error::ArrowError> {
    let mut out = Vec::new();
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        let mut buf = Vec::new();
        let mut writer = arrow_json_writer(&mut buf);
        writer.write(batch)?;
        writer.finish()?;
        let text = String::from_utf8(buf)
            .map_err(|e| arrow::error::ArrowError::JsonError(e.to_string()))?;
        out.extend(text.lines().map(str::to_owned));
    }
    Ok(out)
}

fn arrow_json_writer(buf: &mut Vec<u8>) -> arrow::json::LineDelimitedWriter<&mut Vec<u8>> {
    arrow::json::LineDelimitedWriter::new(buf)
}

/// Loads the snapshot from the lake; a gold table not built yet is simply empty.
pub async fn load(lake: &Lake) -> Result<Snapshot, Box<dyn std::error::Error + Send + Sync>> {
    let mut snapshot = Snapshot {
        loaded_at: Some(Utc::now()),
        ..Snapshot::default()
    };
    let ctx = query::empty_session();
    for name in crate::refresh::TABLES {
        let table = TableName::new("gold", name)?;
        if lake.exists(&table).await? {
            let delta = lake.open(&table).await?;
            snapshot
                .versions
                .insert(table.to_string(), delta.version().unwrap_or_default());
            query::register_delta(&ctx, &table, &delta).await?;
        }
    }
    if snapshot.versions.contains_key("gold.matches") {
        let batches = ctx
            .sql("SELECT * FROM gold.matches ORDER BY tenant_id, opportunity_id, role, rank")
            .await?
            .collect()
            .await?;
        for line in lines(&batches)? {
            let key: MatchKey = serde_json::from_str(&line)?;
            let item = Item {
                role: key.role,
                rank: key.rank,
                json: line.into_boxed_str(),
            };
            snapshot
                .by_party
                .entry((key.tenant_id.clone(), key.candidate_id))
                .or_default()
                .push(item.clone());
            snapshot
                .by_opportunity
                .entry((key.tenant_id, key.opportunity_id))
                .or_default()
                .push(item);
        }
    }
    if snapshot.versions.contains_key("gold.user_context") {
        let batches = ctx
            .sql("SELECT * FROM gold.user_context")
            .await?
            .collect()
            .await?;
        for line in lines(&batches)? {
            let key: ContextKey = serde_json::from_str(&line)?;
            snapshot.contexts.insert(
                (key.tenant_id, key.supporter_id),
                Context {
                    json: line.into_boxed_str(),
                    prompt: key.prompt_context,
                },
            );
        }
    }
    Ok(snapshot)
}
