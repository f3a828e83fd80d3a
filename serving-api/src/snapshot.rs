//! The online snapshot: the gold tables the API serves, loaded into memory and keyed for one
//! lookup per request, each entity's JSON serialised once at load time.
//!
//! Invariant: a snapshot is immutable once built; the server swaps whole snapshots, so a
//! request sees one consistent set of table versions, named by `version`. Loading streams
//! record batches: beside the finished entries it holds one batch at a time, never a second
//! copy of a table.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use eventlake_lake::{Lake, TableName, query};
use futures::StreamExt;
use serde::Deserialize;

use crate::metrics;

/// Separates the parts of an entry's sort key.
pub const SEP: char = '\u{1f}';

/// One entity, ready to send, with the key it is sorted and paged by.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Sort and page key: its parts joined by [`SEP`]; unique within its list.
    pub key: Box<str>,
    /// The row as one JSON object, shared by every list that holds it.
    pub json: Arc<str>,
    /// Hash of the content without `run_id`: a job run that recomputes the same result is
    /// no change to push.
    pub content: u64,
}

/// The hash of a row's JSON without its trailing run bookkeeping: `run_id` (the last column
/// of every matching table) and `as_of, run_id` (the last of `gold.user_context`).
pub fn content_hash(json: &str) -> u64 {
    let cut = [",\"as_of\":", ",\"run_id\":"]
        .iter()
        .filter_map(|f| json.rfind(f))
        .min();
    let content = cut.map_or(json, |at| &json[..at]);
    let mut h = DefaultHasher::new();
    content.hash(&mut h);
    h.finish()
}

/// tenant → id → something: every lookup goes through the tenant first, and borrows the
/// request's strings (no allocation per lookup).
pub type ByTenant<T> = HashMap<Box<str>, HashMap<Box<str>, T>>;

/// Lists of entries by tenant and id, each sorted by entry key.
pub type Index = ByTenant<Vec<Entry>>;

/// A supporter's context, ready to send.
#[derive(Debug, Clone)]
pub struct Context {
    /// The `gold.user_context` row as one JSON object.
    pub json: Box<str>,
    /// Its `prompt_context` text, answered by `?format=prompt`; `None` when null.
    pub prompt: Option<String>,
    /// See [`Entry::content`].
    pub content: u64,
}

/// The gold tables in memory.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Table → Delta version loaded.
    pub versions: BTreeMap<String, u64>,
    /// When loading began; `None` for the empty default snapshot.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Swaps before this one (0 for the first snapshot a server loads).
    pub generation: u64,
    /// (tenant, opportunity) → its matches; entry key `role SEP rank`.
    pub opportunity_matches: Index,
    /// (tenant, party) → the matches where it is the candidate; key `opportunity SEP role`.
    pub party_matches: Index,
    /// (tenant, opportunity) → team suggestions; key `model SEP team_rank`.
    pub teams: Index,
    /// (tenant, party) → the barter cycles it takes part in; key `rank SEP cycle_id`.
    pub party_cycles: Index,
    /// (tenant, party) → mentorship pairs; key `mentee|mentor SEP opportunity SEP other party`.
    pub mentorship: Index,
    /// (tenant, supporter) → personalisation context.
    pub contexts: ByTenant<Context>,
    /// (tenant, metric name) → its rows, for the catalogue's tables in the lake.
    pub metrics: metrics::Store,
    /// Rows loaded per table.
    pub rows: BTreeMap<String, usize>,
    /// Estimated heap bytes of the entries and indexes.
    pub bytes: usize,
    /// `table@version` pairs: the snapshot's name in every response.
    name: String,
}

/// The gold tables of entities; the metric tables come from [`crate::metrics::catalogue`].
pub const ENTITY_TABLES: [&str; 5] = [
    "matches",
    "team_suggestions",
    "barter_cycles",
    "mentorship_pairs",
    "user_context",
];

impl Snapshot {
    /// `table@version` pairs, the snapshot's name in every response.
    pub fn version(&self) -> &str {
        &self.name
    }

    /// Seconds since the snapshot was loaded.
    pub fn age_seconds(&self) -> f64 {
        self.loaded_at
            .map(|t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0)
    }

    /// The list under (tenant, id), if any.
    pub fn list<'a>(index: &'a Index, tenant: &str, id: &str) -> Option<&'a [Entry]> {
        index.get(tenant)?.get(id).map(Vec::as_slice)
    }

    /// The context of supporter `id` in `tenant`, if any.
    pub fn context(&self, tenant: &str, id: &str) -> Option<&Context> {
        self.contexts.get(tenant)?.get(id)
    }
}

/// The JSON array of `entries`.
pub fn array<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> String {
    let entries: Vec<&Entry> = entries.into_iter().collect();
    let mut out =
        String::with_capacity(2 + entries.iter().map(|e| e.json.len() + 1).sum::<usize>());
    out.push('[');
    for (i, e) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    out.push(']');
    out
}

/// Every gold table the snapshot reads.
pub fn tables() -> impl Iterator<Item = String> {
    ENTITY_TABLES
        .iter()
        .map(|t| (*t).to_owned())
        .chain(metrics::catalogue().iter().map(|m| m.table.clone()))
}

/// Each row of `batch` as one JSON object.
fn lines(batch: &RecordBatch) -> Result<Vec<String>, arrow::error::ArrowError> {
    let mut buf = Vec::new();
    let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
    writer.write(batch)?;
    writer.finish()?;
    let text =
        String::from_utf8(buf).map_err(|e| arrow::error::ArrowError::JsonError(e.to_string()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Streams `table`'s batches into `f`; returns the rows seen.
async fn scan(
    ctx: &SessionContext,
    table: &str,
    mut f: impl FnMut(&RecordBatch) -> Result<(), BoxError>,
) -> Result<usize, BoxError> {
    let mut stream = ctx
        .sql(&format!("SELECT * FROM gold.{table}"))
        .await?
        .execute_stream()
        .await?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        f(&batch)?;
    }
    Ok(rows)
}

/// Streams `table`'s rows as JSON lines into `f`.
async fn scan_json(
    ctx: &SessionContext,
    table: &str,
    mut f: impl FnMut(String) -> Result<(), BoxError>,
) -> Result<usize, BoxError> {
    scan(ctx, table, |batch| {
        for line in lines(batch)? {
            f(line)?;
        }
        Ok(())
    })
    .await
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
struct TeamKey {
    tenant_id: String,
    opportunity_id: String,
    model: String,
    team_rank: i64,
}

#[derive(Deserialize)]
struct CycleKey {
    tenant_id: String,
    cycle_id: String,
    rank: i64,
    party_ids: Vec<String>,
}

#[derive(Deserialize)]
struct PairKey {
    tenant_id: String,
    opportunity_id: String,
    mentee_id: String,
    mentor_id: String,
}

#[derive(Deserialize)]
struct ContextKey {
    tenant_id: String,
    supporter_id: String,
    prompt_context: Option<String>,
}

/// Builds indexes while counting their heap bytes.
#[derive(Default)]
struct Builder {
    bytes: usize,
}

impl Builder {
    fn push(&mut self, index: &mut Index, tenant: &str, id: &str, sort: String, json: &Arc<str>) {
        let by_id = index.entry(tenant.into()).or_default();
        let list = by_id.entry(id.into()).or_insert_with_key(|i| {
            self.bytes += std::mem::size_of::<(Box<str>, Vec<Entry>)>() + i.len();
            Vec::new()
        });
        self.bytes += std::mem::size_of::<Entry>() + sort.len();
        list.push(Entry {
            key: sort.into_boxed_str(),
            content: content_hash(json),
            json: Arc::clone(json),
        });
    }

    fn json(&mut self, line: String) -> Arc<str> {
        self.bytes += line.len();
        Arc::from(line)
    }
}

fn sort(index: &mut Index) {
    for list in index.values_mut().flat_map(HashMap::values_mut) {
        list.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        list.shrink_to_fit();
    }
}

/// Loads the snapshot from the lake; a gold table not built yet is simply empty.
pub async fn load(lake: &Lake) -> Result<Snapshot, BoxError> {
    let mut snapshot = Snapshot {
        loaded_at: Some(Utc::now()),
        ..Snapshot::default()
    };
    let ctx = query::empty_session();
    for name in tables() {
        let table = TableName::new("gold", &name)?;
        if lake.exists(&table).await? {
            let delta = lake.open(&table).await?;
            snapshot
                .versions
                .insert(table.to_string(), delta.version().unwrap_or_default());
            query::register_delta(&ctx, &table, &delta).await?;
        }
    }
    let has = |snapshot: &Snapshot, t: &str| snapshot.versions.contains_key(&format!("gold.{t}"));
    let mut b = Builder::default();
    let mut rows = BTreeMap::new();
    if has(&snapshot, "matches") {
        let (by_opportunity, by_party) = (
            &mut snapshot.opportunity_matches,
            &mut snapshot.party_matches,
        );
        let n = scan_json(&ctx, "matches", |line| {
            let k: MatchKey = serde_json::from_str(&line)?;
            let json = b.json(line);
            let sort = format!("{}{SEP}{:010}", k.role, k.rank);
            b.push(by_opportunity, &k.tenant_id, &k.opportunity_id, sort, &json);
            let sort = format!("{}{SEP}{}", k.opportunity_id, k.role);
            b.push(by_party, &k.tenant_id, &k.candidate_id, sort, &json);
            Ok(())
        })
        .await?;
        rows.insert("gold.matches".to_owned(), n);
    }
    if has(&snapshot, "team_suggestions") {
        let teams = &mut snapshot.teams;
        let n = scan_json(&ctx, "team_suggestions", |line| {
            let k: TeamKey = serde_json::from_str(&line)?;
            let json = b.json(line);
            let sort = format!("{}{SEP}{:010}", k.model, k.team_rank);
            b.push(teams, &k.tenant_id, &k.opportunity_id, sort, &json);
            Ok(())
        })
        .await?;
        rows.insert("gold.team_suggestions".to_owned(), n);
    }
    if has(&snapshot, "barter_cycles") {
        let cycles = &mut snapshot.party_cycles;
        let n = scan_json(&ctx, "barter_cycles", |line| {
            let k: CycleKey = serde_json::from_str(&line)?;
            let json = b.json(line);
            let mut parties = k.party_ids;
            parties.sort_unstable();
            parties.dedup();
            for party in parties {
                let sort = format!("{:010}{SEP}{}", k.rank, k.cycle_id);
                b.push(cycles, &k.tenant_id, &party, sort, &json);
            }
            Ok(())
        })
        .await?;
        rows.insert("gold.barter_cycles".to_owned(), n);
    }
    if has(&snapshot, "mentorship_pairs") {
        let pairs = &mut snapshot.mentorship;
        let n = scan_json(&ctx, "mentorship_pairs", |line| {
            let k: PairKey = serde_json::from_str(&line)?;
            let json = b.json(line);
            let sort = format!("mentee{SEP}{}{SEP}{}", k.opportunity_id, k.mentor_id);
            b.push(pairs, &k.tenant_id, &k.mentee_id, sort, &json);
            let sort = format!("mentor{SEP}{}{SEP}{}", k.opportunity_id, k.mentee_id);
            b.push(pairs, &k.tenant_id, &k.mentor_id, sort, &json);
            Ok(())
        })
        .await?;
        rows.insert("gold.mentorship_pairs".to_owned(), n);
    }
    if has(&snapshot, "user_context") {
        let contexts = &mut snapshot.contexts;
        let n = scan_json(&ctx, "user_context", |line| {
            let k: ContextKey = serde_json::from_str(&line)?;
            b.bytes += line.len()
                + k.prompt_context.as_ref().map_or(0, String::len)
                + k.tenant_id.len()
                + k.supporter_id.len()
                + std::mem::size_of::<(Box<str>, Context)>();
            contexts.entry(k.tenant_id.into()).or_default().insert(
                k.supporter_id.into(),
                Context {
                    content: content_hash(&line),
                    json: line.into_boxed_str(),
                    prompt: k.prompt_context,
                },
            );
            Ok(())
        })
        .await?;
        rows.insert("gold.user_context".to_owned(), n);
    }
    for metric in metrics::catalogue() {
        if has(&snapshot, &metric.table) {
            let mut loader = metrics::Loader::new(metric);
            let n = scan(&ctx, &metric.table, |batch| loader.add(batch)).await?;
            rows.insert(format!("gold.{}", metric.table), n);
            b.bytes += loader.finish(&mut snapshot.metrics);
        }
    }
    for index in [
        &mut snapshot.opportunity_matches,
        &mut snapshot.party_matches,
        &mut snapshot.teams,
        &mut snapshot.party_cycles,
        &mut snapshot.mentorship,
    ] {
        sort(index);
    }
    snapshot.rows = rows;
    snapshot.bytes = b.bytes;
    snapshot.name = snapshot
        .versions
        .iter()
        .map(|(t, v)| format!("{t}@{v}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok(snapshot)
}
