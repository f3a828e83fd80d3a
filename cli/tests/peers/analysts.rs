//! The lake as analysts reach it, on moto's S3, Glue and Athena: after ingest, `jobs run`,
//! `catalog sync` and `athena views`, each view reached Athena as its file; DuckDB's
//! `delta_scan` at the location Glue gives and Polars count every table as `eventlake sql`
//! does; and every view, transpiled from Trino to DuckDB by sqlglot and run over those
//! tables, holds the rows DataFusion computes for it (`eventlake sql` knows the views too).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, ensure};
use serde_json::Value;

use crate::aws::{self, Peer};
use crate::support::{python, run_ok};

const READ: &str = include_str!("duckdb_views.py");

fn views_dir() -> Result<PathBuf> {
    Ok(PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../jobs/views"))
}

fn eventlake(uri: &str, moto: &Peer) -> std::process::Command {
    aws::eventlake(uri, moto, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn duckdb_and_polars_at_the_glue_locations_agree_with_datafusion_on_tables_and_views()
-> Result<()> {
    let python = python(&["duckdb", "duckdb_extensions", "polars", "sqlglot", "boto3"]);
    let moto = aws::moto().await?;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/analysts";
    let file = dir.path().join("events.ndjson");
    crate::support::workload(&file, 6_000, 11, 0.02)?;
    run_ok(eventlake(uri, &moto).args(["ingest", "file"]).arg(&file))?;
    // The workload's days run from July to October 2026: as of its end, every view has rows.
    run_ok(eventlake(uri, &moto).args(["jobs", "run", "--as-of", "2026-10-31"]))?;
    run_ok(eventlake(uri, &moto).args(["catalog", "sync"]))?;
    let created = run_ok(eventlake(uri, &moto).args(["athena", "views"]))?;
    let report = String::from_utf8(created.stdout)?;
    ensure!(!report.contains("left out"), "{report}");

    // What reached StartQueryExecution is each view's file, once.
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(views_dir()?)? {
        let path = entry?.path();
        files.insert(std::fs::read_to_string(&path)?, 1);
    }
    ensure!(files.len() >= 10);
    ensure!(
        crate::athena::received(&moto).await? == files,
        "the statements Athena received differ from the view files"
    );

    // DataFusion's rows for each view, as `eventlake sql` prints them.
    let fusion = dir.path().join("datafusion");
    std::fs::create_dir(&fusion)?;
    for text in files.keys() {
        let name = text
            .split_whitespace()
            .nth(4)
            .context("CREATE OR REPLACE VIEW <name>")?;
        let out = run_ok(eventlake(uri, &moto).args([
            "sql",
            "--format",
            "json",
            &format!("SELECT * FROM {name}"),
        ]))?;
        std::fs::write(fusion.join(format!("{name}.json")), out.stdout)?;
    }

    let out = run_ok(
        std::process::Command::new(python)
            .args(["-c", READ, &moto.endpoint, "eventlake"])
            .arg(views_dir()?)
            .arg(&fusion),
    )?;
    let read: Value = serde_json::from_slice(&out.stdout)?;

    let lake_tables: Vec<String> = aws::csv(uri, &moto, "SHOW TABLES")?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let tables = read["tables"].as_object().context("tables")?;
    ensure!(
        tables.len() == lake_tables.len(),
        "Glue holds {} of our tables, the lake {}",
        tables.len(),
        lake_tables.len()
    );
    for table in &lake_tables {
        let ours = aws::count(uri, &moto, &format!("SELECT count(*) FROM {table}"))?;
        let theirs = &tables[&table.replace('.', "_")];
        ensure!(
            theirs["delta_scan"].as_u64() == Some(ours) && theirs["polars"].as_u64() == Some(ours),
            "{table}: eventlake sql counts {ours}, the readers {theirs}"
        );
    }

    let views = read["views"].as_object().context("views")?;
    ensure!(views.len() == files.len(), "{}", read["views"]);
    for (name, view) in views {
        ensure!(
            view["equal"] == true,
            "{name}: DuckDB and DataFusion differ: {view}"
        );
        ensure!(
            view["datafusion_rows"].as_u64().unwrap_or(0) > 0,
            "{name}: no rows, which proves nothing"
        );
    }
    Ok(())
}
