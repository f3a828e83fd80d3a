//! The lake in S3 (moto, started here): ingest lands every event exactly once, a rerun writes
//! nothing, two writers committing to the same tables at once both land whole, and the job
//! graph runs — every command exactly as with a local path.

use std::process::{Child, Command, Stdio};

use anyhow::{Result, ensure};
use eventlake_tests::run_ok;

use crate::aws::{self, Peer};

fn eventlake(moto: &Peer, uri: &str) -> Command {
    aws::eventlake(uri, moto, None)
}

fn count(moto: &Peer, uri: &str, table: &str) -> Result<u64> {
    aws::count(uri, moto, &format!("SELECT count(*) FROM {table}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_lake_works_like_a_local_one() -> Result<()> {
    let moto = aws::moto().await?;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/prefix";
    let (first, second) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    let a = eventlake_tests::workload(&first, 3_000, 5, 0.02)?;
    let b = eventlake_tests::workload(&second, 3_000, 6, 0.02)?;
    // Two writers at once, committing to the same bronze tables.
    let spawn = |file: &std::path::Path| -> Result<Child> {
        Ok(eventlake(&moto, uri)
            .args(["ingest", "file"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?)
    };
    let (one, two) = (spawn(&first)?, spawn(&second)?);
    for child in [one, two] {
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stored = count(&moto, uri, "bronze.events")? + count(&moto, uri, "bronze.events_rejected")?;
    ensure!(
        stored as usize == a.len() + b.len(),
        "{stored} rows for {} lines",
        a.len() + b.len()
    );
    // A rerun finds both checkpoints and writes nothing.
    run_ok(eventlake(&moto, uri).args(["ingest", "file"]).arg(&first))?;
    let again = count(&moto, uri, "bronze.events")? + count(&moto, uri, "bronze.events_rejected")?;
    ensure!(
        again == stored,
        "the rerun changed the lake: {stored} → {again}"
    );
    run_ok(eventlake(&moto, uri).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    ensure!(count(&moto, uri, "gold.metrics_active_users")? > 0);
    ensure!(
        count(&moto, uri, "silver.sessions")? > 0 || count(&moto, uri, "silver.donations")? > 0
    );
    Ok(())
}
