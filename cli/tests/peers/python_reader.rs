//! An independent reader — the Python `deltalake` package — reads both bronze tables and
//! agrees with our own counts.

use crate::support::{eventlake, python, run_ok, scalar};

// `os._exit` after printing: deltalake's Python bindings sometimes abort during interpreter
// teardown ("terminate called without an active exception", seen here once in 7 runs),
// after the tables were read and the answer printed.
const READ: &str = r#"
import os, sys, json, deltalake
out = {}
for name in ("events", "events_rejected"):
    t = deltalake.DeltaTable(f"{sys.argv[1]}/bronze/{name}").to_pyarrow_table()
    out[name] = {"rows": t.num_rows, "columns": t.column_names}
print(json.dumps(out), flush=True)
os._exit(0)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn python_deltalake_reads_both_tables() -> anyhow::Result<()> {
    let python = python(&["deltalake", "pyarrow"]);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("e.ndjson");
    let lake = dir.path().join("lake");
    crate::support::workload(&file, 5_000, 9, 0.05)?;
    run_ok(
        eventlake(&lake)
            .args(["ingest", "file", "--flush-records", "1000"])
            .arg(&file),
    )?;
    let output = run_ok(
        std::process::Command::new(python)
            .args(["-c", READ])
            .arg(&lake),
    )?;
    let read: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let events = scalar(&lake, "SELECT count(*) FROM bronze.events").await?;
    let rejected = scalar(&lake, "SELECT count(*) FROM bronze.events_rejected").await?;
    assert_eq!(read["events"]["rows"].as_i64(), Some(events), "{read}");
    assert_eq!(
        read["events_rejected"]["rows"].as_i64(),
        Some(rejected),
        "{read}"
    );
    assert_eq!(events + rejected, 5_000);
    let columns = read["events"]["columns"].to_string();
    for column in [
        "event_id",
        "payload",
        "occurred_at",
        "event_date",
        "source_position",
    ] {
        assert!(
            columns.contains(column),
            "python does not see {column}: {columns}"
        );
    }
    Ok(())
}

/// Counts every table three ways: DuckDB's `delta_scan` and Polars' `read_delta` (both read
/// the Delta log), and DuckDB's plain `read_parquet` of the table's folder (which does not).
const COUNT_ALL: &str = r#"
import os, sys, json, duckdb, polars as pl
from duckdb_extensions import import_extension
con = duckdb.connect()
import_extension("delta", con=con)
con.sql("LOAD delta")
out = {}
for table in sys.argv[2:]:
    path = os.path.join(sys.argv[1], *table.split("."))
    out[table] = {
        "delta_scan": con.sql(f"SELECT count(*) FROM delta_scan('{path}')").fetchone()[0],
        "polars": pl.read_delta(path).height,
        "parquet_folder": con.sql(
            f"SELECT count(*) FROM read_parquet('{path}/**/*.parquet', hive_partitioning = false)"
        ).fetchone()[0],
    }
print(json.dumps(out), flush=True)
os._exit(0)
"#;

/// After jobs and a compaction, the readers analysts use (DuckDB with its Delta extension,
/// Polars) count every table as `eventlake sql` does; a plain read of the Parquet files in
/// the table's folder counts the compacted-away files too.
#[tokio::test(flavor = "multi_thread")]
async fn log_aware_readers_count_every_table_as_we_do_after_compaction() -> anyhow::Result<()> {
    let python = python(&["duckdb", "duckdb_extensions", "polars"]);
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let lines = crate::support::workload(&dir.path().join("all.ndjson"), 4_000, 3, 0.02)?;
    for part in 0..4 {
        let file = dir.path().join(format!("part-{part}.ndjson"));
        let mut text = Vec::new();
        for line in lines.iter().skip(part).step_by(4) {
            text.extend_from_slice(&line.bytes);
            text.push(b'\n');
        }
        std::fs::write(&file, text)?;
        run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    }
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-06-30"]))?;
    run_ok(eventlake(&lake).args(["maintain", "--only", "compact,checkpoint"]))?;

    let tables = eventlake_lake::Lake::new(lake.to_str().unwrap())?
        .tables()
        .await?;
    assert!(tables.len() > 20, "{tables:?}");
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let output = run_ok(
        std::process::Command::new(python)
            .args(["-c", COUNT_ALL])
            .arg(&lake)
            .args(&names),
    )?;
    let read: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    for name in &names {
        let ours = scalar(&lake, &format!("SELECT count(*) FROM {name}")).await?;
        assert_eq!(
            read[name]["delta_scan"].as_i64(),
            Some(ours),
            "{name}: {read}"
        );
        assert_eq!(read[name]["polars"].as_i64(), Some(ours), "{name}: {read}");
    }
    let events = scalar(&lake, "SELECT count(*) FROM bronze.events").await?;
    let plain = read["bronze.events"]["parquet_folder"]
        .as_i64()
        .unwrap_or_default();
    assert!(
        plain >= 2 * events,
        "a plain Parquet read should count the compacted-away files too: {plain} vs {events}"
    );
    Ok(())
}
