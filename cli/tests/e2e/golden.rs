//! Golden tests of the job graph: a hand-made fixture (`golden/events.ndjson`, written by
//! `golden/events.py`) is ingested, every job runs as of 2026-06-30, and each query in
//! `golden/*.slt` must return exactly the rows written under it. The files are run by the
//! `sqllogictest` crate (the runner DataFusion's own tests use) over our DataFusion session:
//! cells are compared after sqllogictest's whitespace normalisation, the column letters of a
//! `query` line are not checked, and a file stops at its first mismatch.
//!
//! To regenerate after an intended change: `EVENTLAKE_GOLDEN_UPDATE=1 cargo test --test e2e
//! golden` (sqllogictest's completion mode), then review the diff of the `.slt` files.

use std::path::{Path, PathBuf};

use anyhow::Result;
use arrow::datatypes::DataType;
use arrow::util::display::FormatOptions;
use datafusion::prelude::SessionContext;
use eventlake_lake::{Lake, query};
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::support::{eventlake, format_rows, run_ok};

/// The lake's SQL session as a sqllogictest database.
struct LakeDb {
    session: SessionContext,
}

/// A failed query, with DataFusion's error as its cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct QueryError(#[from] datafusion::error::DataFusionError);

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for LakeDb {
    type Error = QueryError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryError> {
        let frame = self.session.sql(sql).await?;
        let types = frame
            .schema()
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let batches = frame.collect().await?;
        let rows = format_rows(&batches, &FormatOptions::default().with_null("NULL"))
            .map_err(|e| QueryError(e.into()))?;
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "datafusion"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

/// sqllogictest's column letters: `I` integers, `R` floating point and decimals, `T` the rest.
fn column_type(t: &DataType) -> DefaultColumnType {
    if t.is_integer() {
        DefaultColumnType::Integer
    } else if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("tests/golden")
}

#[tokio::test(flavor = "multi_thread")]
async fn job_outputs_match_hand_worked_results() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    run_ok(
        eventlake(&lake)
            .args(["ingest", "file"])
            .arg(golden_dir().join("events.ndjson")),
    )?;
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-06-30"]))?;

    let lake = Lake::new(lake.to_str().expect("UTF-8 path"))?;
    let update = std::env::var_os("EVENTLAKE_GOLDEN_UPDATE").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    assert!(files.len() >= 4, "golden files missing: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let records = sqllogictest::parse_file::<DefaultColumnType>(file)?;
        let queries = records
            .iter()
            .filter(|r| matches!(r, sqllogictest::Record::Query { .. }))
            .count();
        assert!(queries > 0, "{} has no query", file.display());
        let mut runner = sqllogictest::Runner::new(|| {
            let lake = lake.clone();
            async move {
                let session = query::session(&lake).await.map_err(|e| {
                    QueryError(datafusion::error::DataFusionError::External(Box::new(e)))
                })?;
                Ok(LakeDb { session })
            }
        });
        if update {
            runner
                .update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .map_err(|e| anyhow::anyhow!("updating {}: {e}", file.display()))?;
        } else if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {}", file.display(), e.display(false)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}
