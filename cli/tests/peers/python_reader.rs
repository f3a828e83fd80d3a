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
