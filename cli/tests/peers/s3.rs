//! The lake in S3 (moto, started here): ingest lands every event exactly once, a rerun writes
//! nothing, two writers committing to the same tables at once both land whole, and the job
//! graph runs — every command exactly as with a local path.

use std::process::{Child, Command, Stdio};

use crate::support::run_ok;
use anyhow::{Context as _, Result, ensure};

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
    let a = crate::support::workload(&first, 3_000, 5, 0.02)?;
    let b = crate::support::workload(&second, 3_000, 6, 0.02)?;
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

/// A commit whose table handle is one version behind, as when two processes commit at once:
/// on S3 it loses the put-if-absent race for that version, is checked for conflicts and lands at
/// the next one; a commit carrying a source checkpoint another writer already moved is refused.
/// The log stays whole and readable.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_commit_race_on_s3_is_retried_and_never_corrupts_the_log() -> Result<()> {
    use eventlake_lake::deltalake::kernel::Transaction;
    use eventlake_lake::deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
    use eventlake_lake::deltalake::protocol::{DeltaOperation, SaveMode};
    use eventlake_lake::deltalake::{self, DeltaTable};

    let moto = aws::moto().await?;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/race";
    let file = dir.path().join("events.ndjson");
    crate::support::workload(&file, 500, 9, 0.0)?;
    run_ok(eventlake(&moto, uri).args(["ingest", "file"]).arg(&file))?;
    let rows = count(&moto, uri, "bronze.events")?;

    deltalake::aws::register_handlers(None);
    let options: std::collections::HashMap<String, String> = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let url = url::Url::parse("s3://lake/race/bronze/events/")?;
    let open = || deltalake::open_table_with_storage_options(url.clone(), options.clone());
    let commit = |table: &DeltaTable, app_id: &str| {
        let properties = CommitProperties::default()
            .with_application_transactions(vec![Transaction::new(app_id, 1)]);
        let snapshot = table.snapshot().cloned();
        let log_store = table.log_store();
        async move {
            let operation = DeltaOperation::Write {
                mode: SaveMode::Append,
                partition_by: None,
                predicate: None,
            };
            CommitBuilder::from(properties)
                .with_actions(vec![])
                .build(Some(&snapshot?), log_store, operation)
                .await
                .map(|f| f.version() as i64)
        }
    };
    let (first, behind, stale) = (open().await?, open().await?, open().await?);
    let start = first.version().context("a version")? as i64;
    ensure!(commit(&first, "race/a").await? == start + 1);
    // `behind` still sees `start`: its put of start + 1 fails, and it lands at start + 2.
    let landed = commit(&behind, "race/b").await?;
    ensure!(
        landed == start + 2,
        "the retried commit landed at {landed}, not {}",
        start + 2
    );
    // `stale` carries the checkpoint `first` already moved: refused, not written.
    let refused = commit(&stale, "race/a").await;
    ensure!(
        refused.is_err(),
        "a commit over a moved checkpoint was accepted: {refused:?}"
    );
    let table = open().await?;
    let version = table.version().map(|v| v as i64);
    ensure!(version == Some(start + 2), "the log is at {version:?}");
    let state = table.snapshot()?;
    for app in ["race/a", "race/b"] {
        ensure!(
            state
                .transaction_version(table.log_store().as_ref(), app)
                .await?
                == Some(1)
        );
    }
    ensure!(
        count(&moto, uri, "bronze.events")? == rows,
        "the rows changed"
    );
    Ok(())
}
