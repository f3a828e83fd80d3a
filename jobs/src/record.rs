//! Run records: one row per job run in `ops.job_runs`, and `run_results.json` summarising an
//! invocation. The last successful record of a job is its watermark: the input versions its
//! published output reflects.
//!
//! Invariant: a record is written after its job's publish commit, so a watermark never claims
//! more than was published; a crash in between only makes the next run redo idempotent work.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use deltalake::protocol::SaveMode;
use eventlake_lake::{Lake, TableName};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::publish::{lake_schema, to_lake};

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Output published.
    Success,
    /// Inputs unchanged since the last successful run: nothing to do.
    UpToDate,
    /// The job errored; its output is unchanged.
    Failed,
    /// A data test failed; its output is unchanged.
    TestFailed,
    /// Not run because a job it depends on did not succeed.
    Skipped,
}

impl Status {
    /// The snake_case code stored in `ops.job_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::UpToDate => "up_to_date",
            Status::Failed => "failed",
            Status::TestFailed => "test_failed",
            Status::Skipped => "skipped",
        }
    }

    /// Whether the job's output reflects its inputs after this run.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Success | Status::UpToDate)
    }
}

/// The outcome of one data test.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Whether the test query returned no rows.
    pub passed: bool,
    /// The test's severity: whether a failure blocks the publish.
    pub severity: crate::definition::Severity,
    /// Rows the test query returned (0 when it passed).
    pub failures: u64,
    /// The first failing rows, rendered as text.
    pub sample: Vec<String>,
}

/// The record of one job run.
#[derive(Debug, Clone, Serialize)]
pub struct JobRun {
    /// Id of the invocation (a UUID v4), shared by every job it ran.
    pub run_id: String,
    /// Name of the job.
    pub job: String,
    /// How the run ended.
    pub status: Status,
    /// When the run began.
    pub started_at: DateTime<Utc>,
    /// When the run ended.
    pub finished_at: DateTime<Utc>,
    /// Rows the run computed and published (0 when it published nothing).
    pub rows_written: u64,
    /// The job's materialisation strategy (`replace_partitions`).
    pub strategy: String,
    /// Whether the run rebuilt the whole output (first run, `--full-refresh`, new definition).
    pub full_refresh: bool,
    /// First day of the recomputed window (inclusive); `None` for a rebuild or no window.
    pub window_from: Option<NaiveDate>,
    /// Last day of the recomputed window (inclusive); `None` when open-ended or no window.
    pub window_to: Option<NaiveDate>,
    /// Delta version read of each input (`layer.name`), plus the pseudo-inputs `definition`
    /// (the job's fingerprint) and `var:as_of`; a successful run's map is its watermark.
    pub input_versions: BTreeMap<String, u64>,
    /// The job's output table (`layer.name`).
    pub output_table: String,
    /// Delta version of the output after the run; `None` if it failed or the table is absent.
    pub output_version: Option<u64>,
    /// Outcome of each data test, in definition order; empty if the tests did not run.
    pub tests: Vec<TestResult>,
    /// Problems that did not fail the run (a stale input, a failed `warn` test).
    pub warnings: Vec<String>,
    /// Why the run failed, its tests blocked the publish, or it was skipped; `None` otherwise.
    pub error: Option<String>,
}

impl TestResult {
    /// A failed test that blocks the publish.
    pub fn blocks(&self) -> bool {
        !self.passed && self.severity == crate::definition::Severity::Error
    }
}

impl JobRun {
    /// Wall-clock time of the run, `finished_at - started_at`, in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        (self.finished_at - self.started_at).num_milliseconds()
    }
}

/// `ops.job_runs`.
pub fn table() -> TableName {
    TableName::new("ops", "job_runs").expect("valid")
}

fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("job", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("started_at", ts.clone(), false),
        Field::new("finished_at", ts, false),
        Field::new("duration_ms", DataType::Int64, false),
        Field::new("rows_written", DataType::Int64, false),
        Field::new("strategy", DataType::Utf8, false),
        Field::new("full_refresh", DataType::Boolean, false),
        Field::new("window_from", DataType::Date32, true),
        Field::new("window_to", DataType::Date32, true),
        Field::new("input_versions", DataType::Utf8, false),
        Field::new("output_table", DataType::Utf8, false),
        Field::new("output_version", DataType::Int64, true),
        Field::new("tests", DataType::Utf8, false),
        Field::new("warnings", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
    ]))
}

fn days(date: Option<NaiveDate>) -> Option<i32> {
    date.map(|d| (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32)
}

/// Appends one run record to `ops.job_runs` in its own commit.
pub async fn append(lake: &Lake, run: &JobRun) -> Result<()> {
    let micros = |t: DateTime<Utc>| t.timestamp_micros();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(vec![run.run_id.as_str()])),
            Arc::new(StringArray::from(vec![run.job.as_str()])),
            Arc::new(StringArray::from(vec![run.status.as_str()])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![micros(run.started_at)]).with_timezone("UTC"),
            ),
            Arc::new(
                TimestampMicrosecondArray::from(vec![micros(run.finished_at)]).with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from(vec![run.duration_ms()])),
            Arc::new(Int64Array::from(vec![run.rows_written as i64])),
            Arc::new(StringArray::from(vec![run.strategy.as_str()])),
            Arc::new(BooleanArray::from(vec![run.full_refresh])),
            Arc::new(Date32Array::from(vec![days(run.window_from)])),
            Arc::new(Date32Array::from(vec![days(run.window_to)])),
            Arc::new(StringArray::from(vec![json(&run.input_versions)])),
            Arc::new(StringArray::from(vec![run.output_table.as_str()])),
            Arc::new(Int64Array::from(vec![run.output_version.map(|v| v as i64)])),
            Arc::new(StringArray::from(vec![json(&run.tests)])),
            Arc::new(StringArray::from(vec![json(&run.warnings)])),
            Arc::new(StringArray::from(vec![run.error.as_deref()])),
        ],
    )?;
    let name = table();
    let delta = lake
        .open_or_create(
            &name,
            &schema(),
            &[],
            "One row per job run: status, rows, versions, tests.",
        )
        .await?;
    delta
        .write(vec![batch])
        .with_save_mode(SaveMode::Append)
        .with_commit_properties(eventlake_lake::commit::properties())
        .await
        .map_err(|e| Error::delta(&name, e))?;
    Ok(())
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("run records serialise")
}

/// The latest successful record of each job: its input versions (the watermark).
pub async fn watermarks(lake: &Lake) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut out = BTreeMap::new();
    if !lake.exists(&table()).await? {
        return Ok(out);
    }
    let ctx = eventlake_lake::query::empty_session();
    eventlake_lake::query::register(&ctx, lake, &table()).await?;
    let batches = ctx
        .sql(
            "SELECT job, input_versions FROM (
                SELECT job, input_versions,
                       row_number() OVER (PARTITION BY job ORDER BY finished_at DESC) AS n
                FROM ops.job_runs WHERE status IN ('success', 'up_to_date')
             ) WHERE n = 1",
        )
        .await?
        .collect()
        .await?;
    for batch in batches {
        // Strings come back from Parquet as Utf8View; the lake types are plain Utf8.
        let batch = to_lake(&batch, &lake_schema(&batch.schema()))?;
        let jobs = strings(&batch, 0);
        let versions = strings(&batch, 1);
        for i in 0..batch.num_rows() {
            let parsed: BTreeMap<String, u64> =
                serde_json::from_str(versions.value(i)).map_err(|e| Error::Job {
                    job: jobs.value(i).to_owned(),
                    reason: format!("unreadable input_versions in ops.job_runs: {e}"),
                })?;
            out.insert(jobs.value(i).to_owned(), parsed);
        }
    }
    Ok(out)
}

fn strings(batch: &RecordBatch, i: usize) -> &StringArray {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
}

/// `run_results.json`: the invocation's records, written below the lake root.
#[derive(Debug, Serialize)]
pub struct RunResults<'a> {
    /// Id of the invocation (a UUID v4), shared by all its records.
    pub run_id: &'a str,
    /// When the invocation began.
    pub started_at: DateTime<Utc>,
    /// When its last job finished.
    pub finished_at: DateTime<Utc>,
    /// Whether every job ended `success` or `up_to_date`.
    pub success: bool,
    /// The records of the jobs, in the order they ran.
    pub results: &'a [JobRun],
}

/// Where `run_results.json` lives, relative to the lake root.
pub const RUN_RESULTS: &str = "ops/run_results.json";

/// Writes `run_results.json`.
pub async fn write_results(lake: &Lake, results: &RunResults<'_>) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(results).expect("run results serialise");
    lake.put(RUN_RESULTS, bytes).await?;
    Ok(())
}
