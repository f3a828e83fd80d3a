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

use chrono::{NaiveDate, Utc};
use deltalake::DeltaTable;
use eventlake_lake::{Lake, TableName, query};
use futures::StreamExt;

use crate::candidate::{distinct_keys, new_keys_only, register_candidate};
use crate::data_test;
use crate::definition::{Body, Job, Strategy};
use crate::error::{Error, Result};
use crate::publish::{Publish, lake_schema, publish, to_lake};
use crate::record::{JobRun, Status, TestResult};
use crate::silver;
use crate::template::{self, Vars};
use crate::window::{Window, max_date, min_date, plan_window};

/// Options of one `jobs run` invocation.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Rebuild outputs from all input rows.
    pub full_refresh: bool,
    /// Backfill window (inclusive), instead of what changed since the watermark.
    pub from: Option<NaiveDate>,
    /// Last day of the backfill window (inclusive); open-ended when only `from` is given.
    pub to: Option<NaiveDate>,
    /// The day jobs treat as today.
    pub as_of: NaiveDate,
}

/// Pseudo-input recording the `as_of` day a clock-dependent job was computed for.
const AS_OF_INPUT: &str = "var:as_of";

/// Pseudo-input recording a fingerprint of the job's definition: a changed definition
/// rebuilds the output instead of mixing old and new logic.
pub(crate) const DEFINITION_INPUT: &str = "definition";

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
    let ctx = query::empty_session();
    let mut opened = BTreeMap::new();
    for table in &job.reads {
        if !lake.exists(table).await? {
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
    let output = if lake.exists(&job.output).await? {
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
        Body::Matching { output } => {
            let config = eventlake_matching::Config::builtin();
            eventlake_matching::compute(&ctx, *output, &config, run_id)
                .await
                .map_err(|e| job_err(e.to_string()))?
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
