//! The lake in the Glue Data Catalog (moto's S3 and Glue, started here): `catalog sync`
//! registers every table in the shape Athena reads as native Delta, a second sync writes
//! nothing, a job whose output gains a column makes the next sync update exactly that table,
//! a Glue table eventlake did not create is left as it was, and with `[catalog]` configured
//! the writers register the tables they create by themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use aws_sdk_glue::types::{Column, DatabaseInput, StorageDescriptor, TableInput};

use crate::aws::{self, Peer};
use crate::support::run_ok;

async fn glue(moto: &Peer) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(&aws::sdk_config(&moto.endpoint).await)
}

/// Each table's columns as `eventlake sql` sees them: name → DataFusion type.
fn described(uri: &str, moto: &Peer, table: &str) -> Result<Vec<String>> {
    let out = run_ok(aws::eventlake(uri, moto, None).args([
        "sql",
        "--format",
        "json",
        &format!("DESCRIBE {table}"),
    ]))?;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    Ok(rows
        .iter()
        .filter_map(|r| r["column_name"].as_str().map(str::to_owned))
        .collect())
}

/// `(VersionId, UpdateTime)` of every Glue table of the database.
async fn versions(glue: &aws_sdk_glue::Client) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let tables = glue.get_tables().database_name("eventlake").send().await?;
    for t in tables.table_list() {
        out.insert(
            t.name().to_owned(),
            format!("{:?} {:?}", t.version_id(), t.update_time()),
        );
    }
    Ok(out)
}

fn sync(uri: &str, moto: &Peer) -> Result<String> {
    let out = run_ok(aws::eventlake(uri, moto, None).args(["catalog", "sync"]))?;
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_sync_registers_every_table_once_and_follows_schema_changes() -> Result<()> {
    let moto = aws::moto().await?;
    let glue = glue(&moto).await;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/analysts";
    let file = dir.path().join("events.ndjson");
    crate::support::workload(&file, 3_000, 4, 0.02)?;
    run_ok(
        aws::eventlake(uri, &moto, None)
            .args(["ingest", "file"])
            .arg(&file),
    )?;
    run_ok(aws::eventlake(uri, &moto, None).args(["jobs", "run", "--as-of", "2026-06-30"]))?;

    // Somebody else's table under one of our names.
    glue.create_database()
        .database_input(DatabaseInput::builder().name("eventlake").build()?)
        .send()
        .await?;
    let theirs = TableInput::builder()
        .name("ops_job_runs")
        .table_type("EXTERNAL_TABLE")
        .storage_descriptor(
            StorageDescriptor::builder()
                .location("s3://elsewhere/job_runs")
                .columns(Column::builder().name("note").r#type("string").build()?)
                .build(),
        )
        .build()?;
    glue.create_table()
        .database_name("eventlake")
        .table_input(theirs)
        .send()
        .await?;

    let report = sync(uri, &moto)?;
    ensure!(report.contains("not ours"), "{report}");
    let lake_tables: Vec<String> = aws::csv(uri, &moto, "SHOW TABLES")?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    ensure!(lake_tables.len() > 20, "{lake_tables:?}");
    for table in &lake_tables {
        let name = table.replace('.', "_");
        let found = glue
            .get_table()
            .database_name("eventlake")
            .name(&name)
            .send()
            .await
            .with_context(|| format!("GetTable {name}"))?;
        let t = found.table().context("a table")?;
        let storage = t.storage_descriptor().context("a storage descriptor")?;
        if name == "ops_job_runs" {
            ensure!(
                storage.location() == Some("s3://elsewhere/job_runs"),
                "theirs changed"
            );
            ensure!(
                t.parameters()
                    .is_none_or(|p| !p.contains_key("eventlake.managed"))
            );
            continue;
        }
        let location = format!("{uri}/{}", table.replace('.', "/"));
        ensure!(t.table_type() == Some("EXTERNAL_TABLE"), "{name}");
        let params = t.parameters().context("parameters")?;
        ensure!(
            params.get("table_type").map(String::as_str) == Some("DELTA"),
            "{name}"
        );
        ensure!(
            params.get("spark.sql.sources.provider").map(String::as_str) == Some("delta"),
            "{name}"
        );
        ensure!(
            params.get("EXTERNAL").map(String::as_str) == Some("TRUE"),
            "{name}"
        );
        ensure!(
            storage.location() == Some(location.as_str()),
            "{name}: {:?}",
            storage.location()
        );
        let serde = storage.serde_info().context("a SerDe")?;
        ensure!(
            serde.serialization_library()
                == Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
        );
        ensure!(
            serde
                .parameters()
                .and_then(|p| p.get("path"))
                .map(String::as_str)
                == Some(location.as_str()),
            "{name}: path"
        );
        let glue_columns: BTreeSet<String> = storage
            .columns()
            .iter()
            .chain(t.partition_keys())
            .map(|c| c.name().to_owned())
            .collect();
        let delta_columns: BTreeSet<String> = described(uri, &moto, table)?.into_iter().collect();
        ensure!(
            glue_columns == delta_columns,
            "{name}: {glue_columns:?} ≠ {delta_columns:?}"
        );
        if name == "bronze_events" {
            let types: BTreeMap<&str, &str> = storage
                .columns()
                .iter()
                .chain(t.partition_keys())
                .map(|c| (c.name(), c.r#type().unwrap_or_default()))
                .collect();
            ensure!(types["event_id"] == "string" && types["occurred_at"] == "timestamp");
            ensure!(types["schema_version"] == "int");
            ensure!(
                t.partition_keys()
                    .iter()
                    .map(|c| c.name())
                    .eq(["event_date"])
            );
            ensure!(types["event_date"] == "date");
        }
    }

    // A second sync writes nothing.
    let before = versions(&glue).await?;
    let again = sync(uri, &moto)?;
    ensure!(
        !again.contains("created") && !again.contains("updated"),
        "{again}"
    );
    ensure!(versions(&glue).await? == before, "the second sync wrote");

    // A job's output gains a column: the next sync updates that table only.
    let jobs = dir.path().join("jobs");
    copy_defs(&jobs)?;
    let sql = jobs.join("gold_metrics_events_hourly.sql");
    let text = std::fs::read_to_string(&sql)?;
    std::fs::write(
        &sql,
        text.replace(
            "event_date AS day",
            "event_date AS day,\n    'v2' AS revision",
        ),
    )?;
    run_ok(aws::eventlake(uri, &moto, None).args([
        "jobs",
        "run",
        "--jobs-dir",
        jobs.to_str().unwrap(),
        "-s",
        "gold_metrics_events_hourly",
        "--full-refresh",
        "--as-of",
        "2026-06-30",
    ]))?;
    let third = sync(uri, &moto)?;
    let after = versions(&glue).await?;
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    ensure!(
        changed == ["gold_metrics_events_hourly"],
        "changed: {changed:?}\n{third}"
    );
    let hourly = glue
        .get_table()
        .database_name("eventlake")
        .name("gold_metrics_events_hourly")
        .send()
        .await?;
    let columns: Vec<&str> = hourly
        .table()
        .and_then(|t| t.storage_descriptor())
        .map(|s| s.columns().iter().map(|c| c.name()).collect())
        .unwrap_or_default();
    ensure!(columns.contains(&"revision"), "{columns:?}");

    // A local lake is refused with the reason.
    let local = dir.path().join("local");
    let refused = aws::eventlake(local.to_str().unwrap(), &moto, None)
        .args(["catalog", "sync"])
        .output()?;
    ensure!(!refused.status.success());
    ensure!(String::from_utf8_lossy(&refused.stderr).contains("needs an s3:// lake"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_catalog_configured_writers_register_the_tables_they_create() -> Result<()> {
    let moto = aws::moto().await?;
    let glue = glue(&moto).await;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/autosync";
    let config = dir.path().join("eventlake.toml");
    std::fs::write(&config, "[catalog]\ndatabase = \"auto\"\n")?;
    let file = dir.path().join("events.ndjson");
    crate::support::workload(&file, 500, 2, 0.02)?;
    run_ok(
        aws::eventlake(uri, &moto, None)
            .arg("--config")
            .arg(&config)
            .args(["ingest", "file"])
            .arg(&file),
    )?;
    let tables = glue.get_tables().database_name("auto").send().await?;
    let names: BTreeSet<&str> = tables.table_list().iter().map(|t| t.name()).collect();
    ensure!(
        names == BTreeSet::from(["bronze_events", "bronze_events_rejected"]),
        "{names:?}"
    );
    Ok(())
}

fn copy_defs(to: &Path) -> Result<()> {
    let from = Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("../jobs/defs");
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        std::fs::copy(&path, to.join(path.file_name().context("a file name")?))?;
    }
    Ok(())
}
