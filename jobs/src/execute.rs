//! Running one job: open its inputs at fixed versions, decide the window from what changed
//! since its watermark, compute the new rows, test the candidate output, publish, report.
//!
//! ```text
//!  inputs@versions ──► window ──► new rows ──► __candidate ──► data tests ──► one commit
//!        │               ▲                                        │ fail
//!        └── watermark ──┘                                        └──► output unchanged
//! ```
//!
//! Invariant: the output changes only in the single publish commit at the end, and only when
//! every data test passed.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::{Duration, NaiveDate, Utc};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use eventlake_lake::{Lake, TableName, query};
use futures::StreamExt;

use crate::changes::{self, Change};
use crate::data_test::{self, CANDIDATE};
use crate::definition::{Body, Job, Strategy};
use crate::error::{Error, Result};
use crate::publish::{Publish, key_match, lake_schema, publish, to_lake};
use crate::record::{JobRun, Status, TestResult};
use crate::silver;
use crate::template::{self, Vars};

/// Options of one `jobs run` invocation.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Rebuild outputs from all input rows.
    pub full_refresh: bool,
    /// Backfill window (inclusive), instead of what changed since the watermark.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The day jobs treat as today.
    pub as_of: NaiveDate,
}

/// The date window a run recomputes.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: NaiveDate,
    to: NaiveDate,
    /// Replace the whole output (first run, full refresh).
    rebuild: bool,
}

/// First day of a full window.
pub(crate) fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

/// Last day of a full window.
pub(crate) fn max_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid")
}

/// Pseudo-input recording the `as_of` day a clock-dependent job was computed for.
const AS_OF_INPUT: &str = "var:as_of";

/// Pseudo-input recording a fingerprint of the job's definition: a changed definition
/// rebuilds the output instead of mixing old and new logic.
const DEFINITION_INPUT: &str = "definition";

struct Outcome {
    status: Status,
    rows: u64,
    window: Option<Window>,
    output_version: Option<u64>,
    tests: Vec<TestResult>,
}

/// Runs a job and returns its record; failures are reported in the record, not raised.
pub async fn execute(
    lake: &Lake,
    job: &Job,
    options: &RunOptions,
    run_id: &str,
    watermark: Option<&BTreeMap<String, u64>>,
) -> JobRun {
    let started_at = Utc::now();
    let mut inputs = BTreeMap::new();
    let mut warnings = Vec::new();
    let result = attempt(
        lake,
        job,
        options,
        run_id,
        watermark,
        &mut inputs,
        &mut warnings,
    )
    .await;
    let (outcome, error) = match result {
        Ok(o) => (o, None),
        Err(e) => (
            Outcome {
                status: Status::Failed,
                rows: 0,
                window: None,
                output_version: None,
                tests: Vec::new(),
            },
            Some(e.to_string()),
        ),
    };
    let error = error.or_else(|| {
        let failed: Vec<String> = outcome
            .tests
            .iter()
            .filter(|t| t.blocks())
            .map(|t| format!("{} ({} failing rows)", t.name, t.failures))
            .collect();
        (!failed.is_empty()).then(|| format!("data tests failed: {}", failed.join(", ")))
    });
    JobRun {
        run_id: run_id.to_owned(),
        job: job.name.clone(),
        status: outcome.status,
        started_at,
        finished_at: Utc::now(),
        rows_written: outcome.rows,
        strategy: job.materialization.strategy.as_str().to_owned(),
        full_refresh: outcome.window.is_some_and(|w| w.rebuild),
        window_from: outcome.window.filter(|w| !w.rebuild).map(|w| w.from),
        window_to: outcome
            .window
            .filter(|w| !w.rebuild && w.to != max_date())
            .map(|w| w.to),
        input_versions: inputs,
        output_table: job.output.to_string(),
        output_version: outcome.output_version,
        tests: outcome.tests,
        warnings,
        error,
    }
}

async fn attempt(
    lake: &Lake,
    job: &Job,
    options: &RunOptions,
    run_id: &str,
    watermark: Option<&BTreeMap<String, u64>>,
    inputs: &mut BTreeMap<String, u64>,
    warnings: &mut Vec<String>,
) -> Result<Outcome> {
    let job_err = |reason: String| Error::Job {
        job: job.name.clone(),
        reason,
    };
    let clock = std::time::Instant::now();
    let phase = |name: &str| tracing::debug!(job = %job.name, phase = name, ms = clock.elapsed().as_millis() as u64, "phase done");
    let existing = lake.tables().await?;
    phase("list");
    let ctx = query::empty_session();
    let mut opened = BTreeMap::new();
    for table in &job.reads {
        if !existing.contains(table) {
            return Err(job_err(format!("input table {table} does not exist yet")));
        }
        let delta = lake.open(table).await?;
        check_freshness(job, table, &delta, warnings).await?;
        query::register_delta(&ctx, table, &delta).await?;
        inputs.insert(table.to_string(), delta.version().unwrap_or_default());
        opened.insert(table.clone(), delta);
    }
    inputs.insert(DEFINITION_INPUT.into(), job.fingerprint());
    if let Body::Sql(sql) = &job.body
        && template::uses_as_of(sql)
    {
        inputs.insert(
            AS_OF_INPUT.into(),
            (options.as_of - min_date()).num_days() as u64,
        );
    }
    for check in &job.tests {
        if let crate::definition::Check::Relationships { to, .. } = &check.check
            && !opened.contains_key(to)
        {
            query::register(&ctx, lake, to).await?;
        }
    }
    let output = if existing.contains(&job.output) {
        let delta = lake.open(&job.output).await?;
        query::register_delta(&ctx, &job.output, &delta).await?;
        Some(delta)
    } else {
        None
    };

    phase("open");
    if let (Some(from), Some(to)) = (options.from, options.to)
        && from > to
    {
        return Err(job_err(format!(
            "backfill window is empty: --from {from} is after --to {to}"
        )));
    }
    let Some(window) =
        plan_window(job, options, watermark, inputs, &opened, output.is_some()).await?
    else {
        return Ok(Outcome {
            status: Status::UpToDate,
            rows: 0,
            window: None,
            output_version: output.and_then(|o| o.version()),
            tests: Vec::new(),
        });
    };
    // A backfill recomputes its window only: it must not claim the inputs' other changes as
    // processed, so it records the watermark it started from.
    if !window.rebuild
        && (options.from.is_some() || options.to.is_some())
        && let Some(previous) = watermark
    {
        *inputs = previous.clone();
    }
    let vars = Vars {
        from: window.from,
        to: window.to,
        as_of: options.as_of,
        run_id: run_id.to_owned(),
        is_incremental: !window.rebuild,
        this: job.output.to_string(),
    };

    let (schema, mut batches) = match &job.body {
        Body::Sql(sql) => {
            let sql = template::render(sql, &vars).map_err(job_err)?;
            let df = ctx.sql(&sql).await?;
            let schema = lake_schema(df.schema().as_arrow());
            let batches = df.collect().await?;
            (schema, batches)
        }
        Body::Silver { event_types } => {
            silver::compute(&ctx, lake, job, event_types, window.from, window.to).await?
        }
    };
    phase("compute");
    batches = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| to_lake(b, &schema))
        .collect::<Result<_>>()?;

    let m = &job.materialization;
    let incremental = m.strategy.is_incremental() && !window.rebuild && output.is_some();
    if incremental && m.strategy != Strategy::ReplacePartitions {
        batches = new_keys_only(
            &ctx,
            &schema,
            batches,
            &m.unique_key,
            m.strategy,
            &job.output,
        )
        .await?;
    } else if !m.unique_key.is_empty() {
        batches = distinct_keys(&ctx, &schema, batches, &m.unique_key).await?;
    }
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    phase("dedup");

    let how = if !incremental {
        Publish::Overwrite
    } else {
        match m.strategy {
            Strategy::Table => Publish::Overwrite,
            Strategy::Append => Publish::Append,
            Strategy::Merge => Publish::Merge {
                keys: m.unique_key.clone(),
            },
            Strategy::ReplacePartitions => Publish::ReplaceWindow {
                column: m.partition_by.clone().expect("checked at load"),
                from: window.from,
                to: window.to,
            },
        }
    };
    if matches!(how, Publish::Append | Publish::Merge { .. }) && rows == 0 {
        return Ok(Outcome {
            status: Status::Success,
            rows: 0,
            window: Some(window),
            output_version: output.and_then(|o| o.version()),
            tests: Vec::new(),
        });
    }

    register_candidate(&ctx, job, &schema, &batches, &how, output.is_some()).await?;
    let mut tests = Vec::new();
    for test in &job.tests {
        let result = data_test::run(&ctx, test, &vars)
            .await
            .map_err(|e| job_err(format!("data test {} could not run: {e}", test.name)))?;
        tests.push(result);
    }
    phase("tests");
    for t in tests.iter().filter(|t| !t.passed && !t.blocks()) {
        tracing::warn!(job = %job.name, test = %t.name, rows = t.failures, "data test failed (warn severity)");
        warnings.push(format!(
            "data test {} failed on {} row(s) (severity warn)",
            t.name, t.failures
        ));
    }
    if tests.iter().any(|t| t.blocks()) {
        return Ok(Outcome {
            status: Status::TestFailed,
            rows: 0,
            window: Some(window),
            output_version: output.and_then(|o| o.version()),
            tests,
        });
    }
    drop(ctx);
    let metadata = vec![
        ("eventlake.job".to_owned(), serde_json::json!(job.name)),
        ("eventlake.run_id".to_owned(), serde_json::json!(run_id)),
    ];
    let version = publish(
        lake,
        &job.output,
        output,
        schema,
        batches,
        how,
        m.partition_by.as_deref(),
        metadata,
    )
    .await?;
    phase("publish");
    Ok(Outcome {
        status: Status::Success,
        rows,
        window: Some(window),
        output_version: Some(version),
        tests,
    })
}

/// Warns or fails when an input's latest commit is older than the job's freshness limits.
async fn check_freshness(
    job: &Job,
    table: &TableName,
    delta: &DeltaTable,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let Some(limit) = job.freshness.iter().find(|f| f.table == table.to_string()) else {
        return Ok(());
    };
    let mut history = delta.history(Some(1));
    let last = match history.next().await {
        Some(Ok(commit)) => commit.timestamp,
        _ => None,
    };
    let Some(last) = last else { return Ok(()) };
    let age_hours = (Utc::now().timestamp_millis() - last) as f64 / 3_600_000.0;
    let message = format!("input {table} was last written {age_hours:.1} h ago");
    if limit.error_after_hours.is_some_and(|h| age_hours > h) {
        return Err(Error::Job {
            job: job.name.clone(),
            reason: format!(
                "{message}, over the error limit of {} h",
                limit.error_after_hours.unwrap_or_default()
            ),
        });
    }
    if limit.warn_after_hours.is_some_and(|h| age_hours > h) {
        tracing::warn!(job = %job.name, %table, age_hours, "stale input");
        warnings.push(message);
    }
    Ok(())
}

/// The window to recompute, or `None` when the output already reflects these inputs.
async fn plan_window(
    job: &Job,
    options: &RunOptions,
    watermark: Option<&BTreeMap<String, u64>>,
    inputs: &BTreeMap<String, u64>,
    opened: &BTreeMap<TableName, DeltaTable>,
    output_exists: bool,
) -> Result<Option<Window>> {
    let full = Window {
        from: min_date(),
        to: max_date(),
        rebuild: true,
    };
    if options.full_refresh
        || !output_exists
        || watermark.and_then(|w| w.get(DEFINITION_INPUT)) != inputs.get(DEFINITION_INPUT)
    {
        return Ok(Some(full));
    }
    if !job.materialization.strategy.is_incremental() {
        return Ok((watermark != Some(inputs)).then_some(full));
    }
    if options.from.is_some() || options.to.is_some() {
        return Ok(Some(Window {
            from: options.from.unwrap_or_else(min_date),
            to: options.to.unwrap_or_else(max_date),
            rebuild: false,
        }));
    }
    let watermark = watermark.expect("checked above");
    if watermark == inputs {
        return Ok(None);
    }
    let mut change = Change::None;
    for (name, version) in inputs.iter().filter(|(n, _)| *n != DEFINITION_INPUT) {
        let since = watermark.get(name).copied();
        let part = match (since, opened.iter().find(|(t, _)| &t.to_string() == name)) {
            (Some(since), _) if since == *version => Change::None,
            (Some(since), Some((_, delta))) if since < *version => {
                changes::between(delta, name, since, *version).await?
            }
            _ => Change::Unbounded,
        };
        change = change.union(part);
    }
    let lookback = Duration::days(i64::from(job.materialization.lookback_days));
    Ok(match change {
        Change::None => None,
        Change::Unbounded => Some(Window {
            rebuild: false,
            ..full
        }),
        Change::Dates(dates) => Some(Window {
            from: *dates.first().expect("non-empty") - lookback,
            to: max_date(),
            rebuild: false,
        }),
    })
}

fn column_list(schema: &arrow::datatypes::Schema, alias: &str) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{alias}.{}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keeps one row per key (the first seen).
async fn distinct_keys(
    ctx: &SessionContext,
    schema: &arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    keys: &[String],
) -> Result<Vec<RecordBatch>> {
    let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
    ctx.register_table("__rows", Arc::new(table))?;
    // Duplicates are rare: a cheap hash aggregate finds whether there are any before a
    // window function keeps the first row of each key.
    let keys_sql = keys.join(", ");
    let duplicated = ctx
        .sql(&format!(
            "SELECT count(*) FROM (SELECT {keys_sql} FROM __rows GROUP BY {keys_sql} HAVING count(*) > 1)"
        ))
        .await?
        .collect()
        .await?;
    let any = duplicated
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
        })
        .is_some_and(|a| a.value(0) > 0);
    if !any {
        ctx.deregister_table("__rows")?;
        return Ok(batches);
    }
    let sql = format!(
        "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {keys}) AS __n FROM __rows) n WHERE __n = 1",
        cols = column_list(schema, "n"),
        keys = keys.join(", "),
    );
    let out = ctx.sql(&sql).await?.collect().await?;
    ctx.deregister_table("__rows")?;
    out.iter().map(|b| to_lake(b, schema)).collect()
}

/// For `append`: rows whose key the table does not hold yet. For `merge`: one row per key.
async fn new_keys_only(
    ctx: &SessionContext,
    schema: &arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    keys: &[String],
    strategy: Strategy,
    this: &TableName,
) -> Result<Vec<RecordBatch>> {
    let batches = distinct_keys(ctx, schema, batches, keys).await?;
    if strategy != Strategy::Append {
        return Ok(batches);
    }
    let table = MemTable::try_new(schema.clone(), vec![batches])?;
    ctx.register_table("__rows", Arc::new(table))?;
    let sql = format!(
        "SELECT {cols} FROM __rows n WHERE NOT EXISTS (SELECT 1 FROM {this} t WHERE {on})",
        cols = column_list(schema, "n"),
        on = key_match(keys, "t", "n"),
    );
    let out = ctx.sql(&sql).await?.collect().await?;
    ctx.deregister_table("__rows")?;
    out.iter().map(|b| to_lake(b, schema)).collect()
}

/// Registers `__candidate`: the output as it would be after publishing `batches`.
async fn register_candidate(
    ctx: &SessionContext,
    job: &Job,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    how: &Publish,
    output_exists: bool,
) -> Result<()> {
    let table = MemTable::try_new(schema.clone(), vec![batches.to_vec()])?;
    ctx.register_table("__new", Arc::new(table))?;
    let this = &job.output;
    let new = format!("SELECT {} FROM __new n", column_list(schema, "n"));
    let old = column_list(schema, "t");
    let sql = match how {
        _ if !output_exists => new,
        Publish::Overwrite => new,
        Publish::Append => format!("SELECT {old} FROM {this} t UNION ALL {new}"),
        Publish::ReplaceWindow { column, from, to } => format!(
            "SELECT {old} FROM {this} t WHERE NOT (t.{column} BETWEEN DATE '{from}' AND DATE '{to}') UNION ALL {new}"
        ),
        Publish::Merge { keys } => format!(
            "SELECT {old} FROM {this} t WHERE NOT EXISTS (SELECT 1 FROM __new n WHERE {on}) UNION ALL {new}",
            on = key_match(keys, "t", "n"),
        ),
    };
    let view = ctx.sql(&sql).await?.into_view();
    ctx.register_table(CANDIDATE, view)?;
    Ok(())
}
