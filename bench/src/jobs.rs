//! `eventlake-bench jobs`: the whole job graph (`jobs run --full-refresh`) on a generated lake,
//! then each gold query (metrics and user context) three ways in one run:
//! as a job (query, data tests, Delta commit, run record), as a bare DataFusion query, and in
//! DuckDB over the very same Parquet files (the tables' current Delta snapshots).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use eventlake_jobs::{Body, Project, RunOptions};
use eventlake_lake::{Lake, query};

use crate::args::BenchArgs;
use eventlake::Context;
use eventlake::commands::ingest;

/// Creates one view per lake table over its Parquet files, then times each query
/// materialised into a DuckDB table. Prints `{"job": seconds}`.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, duckdb
spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for table, files in spec["tables"].items():
    layer, name = table.split(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    listing = ", ".join("'" + f + "'" for f in files)
    con.execute(f"CREATE VIEW {layer}.{name} AS SELECT * FROM read_parquet([{listing}], hive_partitioning = true, union_by_name = true)")
out = {}
for job, sql in spec["queries"].items():
    # The one function the queries use that DuckDB spells differently (same t-digest idea).
    sql = sql.replace("approx_percentile_cont(", "approx_quantile(")
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE result AS {sql}")
    out[job] = time.perf_counter() - started
print(json.dumps(out))
"#;

/// The day the benchmark's jobs treat as today: the generated workload's end.
fn as_of() -> NaiveDate {
    eventlake_workload::WorkloadConfig::default()
        .end
        .date_naive()
}

pub async fn run(ctx: &Context, args: &BenchArgs) -> Result<()> {
    let (dir, input) = crate::input(args)?;
    let lake_dir = dir.join("jobs-lake");
    let _ = std::fs::remove_dir_all(&lake_dir);
    let lake = Lake::new(lake_dir.to_str().context("lake path is not UTF-8")?)?;
    let file = eventlake_ingest::source::file::FileInput {
        path: Some(input.clone()),
        source_id: None,
    };
    let report = ingest::run_file(&lake, &file, ctx.config.ingest.clone(), false).await?;
    println!(
        "lake: {} ({} events ingested)",
        lake_dir.display(),
        report.accepted
    );

    let project = Project::builtin()?;
    let options = RunOptions {
        full_refresh: true,
        from: None,
        to: None,
        as_of: as_of(),
    };
    let started = Instant::now();
    let runs = eventlake_jobs::run(&lake, &project, &[], &options, &Quiet).await?;
    let graph = started.elapsed();
    eventlake::commands::jobs::check(&runs)?;
    let job_time: BTreeMap<&str, Duration> = runs
        .iter()
        .map(|r| {
            (
                r.job.as_str(),
                Duration::from_millis(r.duration_ms() as u64),
            )
        })
        .collect();
    let layer_time = |layer: &str| -> f64 {
        runs.iter()
            .filter(|r| r.output_table.starts_with(layer))
            .map(|r| r.duration_ms() as f64 / 1000.0)
            .sum()
    };
    println!(
        "\nfull job graph: {} jobs in {:.2} s (silver {:.2} s, gold {:.2} s, the rest is run records)",
        runs.len(),
        graph.as_secs_f64(),
        layer_time("silver."),
        layer_time("gold.")
    );

    // The gold SQL jobs: metrics and user context.
    let gold: Vec<(String, String)> = project
        .jobs()
        .iter()
        .filter(|j| j.output.layer == "gold" && matches!(j.body, Body::Sql(_)))
        .map(|j| Ok((j.name.clone(), eventlake_jobs::compile(j, as_of())?)))
        .collect::<Result<_>>()?;
    let session = query::session(&lake).await?;
    let mut bare = BTreeMap::new();
    for (name, sql) in &gold {
        let started = Instant::now();
        session.sql(sql).await?.collect().await?;
        bare.insert(name.clone(), started.elapsed());
    }
    let duckdb = match &args.python {
        Some(python) => Some(duckdb(&lake, &gold, python, &dir).await?),
        None => None,
    };

    println!(
        "\n| gold job | job: query + tests + commit (s) | DataFusion query (s) | DuckDB query (s) | DuckDB ÷ DataFusion |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (mut total_job, mut total_bare, mut total_duck) = (0.0, 0.0, 0.0);
    for (name, _) in &gold {
        let job = job_time
            .get(name.as_str())
            .copied()
            .unwrap_or_default()
            .as_secs_f64();
        let ours = bare[name].as_secs_f64();
        total_job += job;
        total_bare += ours;
        let duck = duckdb.as_ref().and_then(|d| d.get(name)).copied();
        total_duck += duck.unwrap_or_default();
        let (duck_s, ratio) = match duck {
            Some(d) => (format!("{d:.3}"), format!("{:.2}", d / ours)),
            None => ("skipped".into(), String::new()),
        };
        println!("| {name} | {job:.3} | {ours:.3} | {duck_s} | {ratio} |");
    }
    let ratio = if duckdb.is_some() {
        format!("{:.2}", total_duck / total_bare)
    } else {
        String::new()
    };
    println!("| **total** | {total_job:.3} | {total_bare:.3} | {total_duck:.3} | {ratio} |");
    if duckdb.is_none() {
        println!("(DuckDB skipped: pass --python with duckdb installed)");
    }
    Ok(())
}

/// Times the queries in DuckDB over the same Parquet files the lake tables hold now.
async fn duckdb(
    lake: &Lake,
    queries: &[(String, String)],
    python: &std::path::Path,
    dir: &std::path::Path,
) -> Result<BTreeMap<String, f64>> {
    let mut tables = BTreeMap::new();
    for table in lake.tables().await? {
        let delta = lake.open(&table).await?;
        let files: Vec<String> = delta
            .get_file_uris()?
            .map(|uri| uri.trim_start_matches("file://").to_owned())
            .collect();
        if !files.is_empty() {
            tables.insert(table.to_string(), files);
        }
    }
    let queries: BTreeMap<&str, &str> = queries
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let spec = dir.join("duckdb-jobs.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({"tables": tables, "queries": queries}))?,
    )?;
    let stdout = crate::python(python, DUCKDB_SCRIPT, &[spec.as_os_str()])?;
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("DuckDB script printed {stdout:?}"))
}

pub(super) struct Quiet;

impl eventlake_jobs::Observer for Quiet {
    fn started(&self, _: &eventlake_jobs::Job, _: usize, _: usize) {}
    fn finished(&self, _: &eventlake_jobs::JobRun) {}
}
