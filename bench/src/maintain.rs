//! `eventlake-bench maintain`: what compaction buys a reader and what it costs a writer, in
//! one run. A lake is built from many small commits (the workload dealt into `--commits`
//! files, each spanning every day partition); the same DuckDB `delta_scan` aggregate over
//! `bronze.events` is timed before and after `maintain` compacts it (ratio); then a second
//! workload is ingested into two copies of the lake, one quiet and one with `maintain`
//! compacting in a loop beside it (ratio of throughputs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use eventlake::Context;
use eventlake::commands::{generate, ingest};
use eventlake_ingest::source::file::FileInput;
use eventlake_lake::maintain::{self, Steps};
use eventlake_lake::{Lake, TableName};
use eventlake_workload::WorkloadConfig;

use crate::args::MaintainBenchArgs;

/// Times one aggregate over `delta_scan` (median of five runs after a warm-up) and prints
/// `seconds rows digest`, so the two runs can be checked to agree.
const DUCKDB_SCRIPT: &str = r#"
import sys, time, statistics, hashlib, duckdb
from duckdb_extensions import import_extension
table = sys.argv[1]
con = duckdb.connect()
import_extension("delta", con=con)
con.sql("LOAD delta")
query = f"""SELECT event_type, count(*) AS n, count(DISTINCT subject_id) AS subjects
            FROM delta_scan('{table}') GROUP BY event_type ORDER BY event_type"""
con.sql(query).fetchall()
times, rows = [], None
for _ in range(5):
    started = time.perf_counter()
    rows = con.sql(query).fetchall()
    times.append(time.perf_counter() - started)
digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
print(statistics.median(times), sum(r[1] for r in rows), digest)
"#;

pub async fn run(ctx: &Context, args: &MaintainBenchArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("eventlake-bench-maintain-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let first = parts(&dir, "first", args.events, 7, args.commits)?;
    let second = parts(&dir, "second", args.events, 8, args.commits)?;
    let lake_dir = dir.join("lake");
    let _ = std::fs::remove_dir_all(&lake_dir);
    let lake = Lake::new(path_str(&lake_dir)?)?;
    let built = ingest_parts(ctx, &lake, &first).await?;
    let events = TableName::events();
    println!(
        "lake: {} events in {} commits ({:.0} events/s)",
        args.events,
        first.len(),
        args.events as f64 / built.as_secs_f64()
    );

    let table = lake
        .table_url(&events)
        .to_file_path()
        .ok()
        .context("a local lake")?;
    let python = args
        .python
        .as_deref()
        .context("pass --python (or EVENTLAKE_BENCH_PYTHON): an interpreter with duckdb and duckdb-extension-delta")?;
    let before = duckdb(python, &table)?;

    let mut config = ctx.config.clone();
    config.maintain.file_retention = Duration::from_secs(7 * 24 * 3600);
    let compact_only = Steps {
        compact: true,
        vacuum: false,
        checkpoint: true,
    };
    let report = maintain::maintain(&lake, &events, &config, compact_only, false).await?;
    let after = duckdb(python, &table)?;
    ensure!(
        before.rows == after.rows && before.digest == after.digest,
        "DuckDB's answer changed with compaction: {before:?} → {after:?}"
    );

    println!("\n| bronze.events | files | MiB | DuckDB delta_scan aggregate, s | rows |");
    println!("|---|---:|---:|---:|---:|");
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "| before compaction | {} | {:.1} | {:.3} | {} |",
        report.before.count,
        mib(report.before.bytes),
        before.seconds,
        before.rows
    );
    println!(
        "| after compaction ({:.1} s) | {} | {:.1} | {:.3} | {} |",
        report.elapsed.as_secs_f64(),
        report.after.count,
        mib(report.after.bytes),
        after.seconds,
        after.rows
    );
    println!(
        "compaction makes the aggregate {:.2}× as fast",
        before.seconds / after.seconds
    );

    // Ingest beside maintenance: the same second workload into two copies of the built lake.
    let quiet = copy(&lake_dir, &dir.join("lake-quiet"))?;
    let busy = copy(&lake_dir, &dir.join("lake-busy"))?;
    let alone = ingest_parts(ctx, &quiet, &second).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let passes = {
        let (busy, config, stop) = (busy.clone(), config.clone(), stop.clone());
        tokio::spawn(async move {
            let mut passes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                maintain::maintain(&busy, &TableName::events(), &config, compact_only, false)
                    .await?;
                passes += 1;
            }
            Ok::<_, anyhow::Error>(passes)
        })
    };
    let beside = ingest_parts(ctx, &busy, &second).await?;
    stop.store(true, Ordering::Relaxed);
    let passes = passes.await??;
    let rate = |d: Duration| args.events as f64 / d.as_secs_f64();
    println!(
        "\n| ingest of {} events in {} commits | s | events/s |",
        args.events,
        second.len()
    );
    println!("|---|---:|---:|");
    println!(
        "| alone | {:.2} | {:.0} |",
        alone.as_secs_f64(),
        rate(alone)
    );
    println!(
        "| beside maintain compacting in a loop ({passes} passes) | {:.2} | {:.0} |",
        beside.as_secs_f64(),
        rate(beside)
    );
    println!(
        "beside maintenance, ingest runs at {:.2}× its quiet throughput",
        rate(beside) / rate(alone)
    );
    Ok(())
}

/// DuckDB's timing of the aggregate, its row total and a digest of its answer.
#[derive(Debug)]
struct Scan {
    seconds: f64,
    rows: u64,
    digest: String,
}

fn duckdb(python: &Path, table: &Path) -> Result<Scan> {
    let out = crate::python(python, DUCKDB_SCRIPT, &[table.as_os_str()])?;
    let line = out.lines().last().unwrap_or_default();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [seconds, rows, digest] = fields[..] else {
        bail!("DuckDB script printed {out:?}");
    };
    Ok(Scan {
        seconds: seconds.parse()?,
        rows: rows.parse()?,
        digest: digest.to_owned(),
    })
}

/// A generated workload (no bad records) dealt round-robin into `parts` files, so each file
/// spans every day; written once per directory and reused.
fn parts(dir: &Path, name: &str, events: u64, seed: u64, parts: usize) -> Result<Vec<PathBuf>> {
    let input = dir.join(format!("{name}-{events}-{seed}.ndjson"));
    if !input.exists() {
        let config = WorkloadConfig {
            events,
            seed,
            bad_ratio: 0.0,
            ..WorkloadConfig::default()
        };
        generate::write_file(config, &input, false)?;
    }
    let text = std::fs::read(&input)?;
    let parts = parts.max(1);
    let mut dealt = vec![Vec::new(); parts];
    for (i, line) in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let part = &mut dealt[i % parts];
        part.extend_from_slice(line);
        part.push(b'\n');
    }
    let mut paths = Vec::new();
    for (i, part) in dealt.into_iter().enumerate() {
        let path = dir.join(format!("{name}-{events}-{seed}-part-{i}.ndjson"));
        std::fs::write(&path, part)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Ingests each file in turn (one run, so at least one commit, each); returns the total time.
async fn ingest_parts(ctx: &Context, lake: &Lake, parts: &[PathBuf]) -> Result<Duration> {
    let started = Instant::now();
    for path in parts {
        let input = FileInput {
            path: Some(path.clone()),
            source_id: None,
        };
        ingest::run_file(lake, &input, ctx.config.ingest.clone(), false).await?;
    }
    Ok(started.elapsed())
}

/// A copy of a local lake folder, opened.
fn copy(from: &Path, to: &Path) -> Result<Lake> {
    let _ = std::fs::remove_dir_all(to);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()?;
    ensure!(
        status.success(),
        "cp -r {} {} failed",
        from.display(),
        to.display()
    );
    Ok(Lake::new(path_str(to)?)?)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .context("the working directory's path is not UTF-8")
}
