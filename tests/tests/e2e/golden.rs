//! Golden tests of the job graph: a hand-made fixture (`golden/events.ndjson`, written by
//! `golden/events.py`) is ingested, every job runs as of 2026-06-30, and each query in
//! `golden/*.slt` must return exactly the rows written under it (sqllogictest layout: cells
//! separated by one space, `NULL` for null).
//!
//! To regenerate after an intended change: `EVENTLAKE_GOLDEN_UPDATE=1 cargo test --release
//! golden`, then review the diff of the `.slt` files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use eventlake_tests::{eventlake, run_ok, sql};

/// One `query` block of an `.slt` file.
struct Block {
    sql: String,
    expected: Vec<String>,
    /// Line index of the first expected row (for rewriting).
    rows_start: usize,
}

fn parse(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("query") {
            i += 1;
            continue;
        }
        i += 1;
        let mut sql = Vec::new();
        while i < lines.len() && lines[i] != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        i += 1;
        let rows_start = i;
        let mut expected = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            expected.push(lines[i].to_owned());
            i += 1;
        }
        blocks.push(Block {
            sql: sql.join("\n"),
            expected,
            rows_start,
        });
    }
    blocks
}

async fn actual(lake: &Path, query: &str) -> Result<Vec<String>> {
    let batches = sql(lake, query)
        .await
        .with_context(|| format!("query:\n{query}"))?;
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(cells.join(" "));
        }
    }
    Ok(rows)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
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

    let update = std::env::var_os("EVENTLAKE_GOLDEN_UPDATE").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    assert!(files.len() >= 4, "golden files missing: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let blocks = parse(&text);
        assert!(!blocks.is_empty(), "{} has no query", file.display());
        // Rewrite from the last block up so earlier line numbers stay valid.
        for block in blocks.iter().rev() {
            let got = actual(&lake, &block.sql).await?;
            if got != block.expected {
                failures.push(format!(
                    "{}:\n{}\nexpected:\n{}\nactual:\n{}",
                    file.display(),
                    block.sql,
                    block.expected.join("\n"),
                    got.join("\n")
                ));
                let end = block.rows_start + block.expected.len();
                lines.splice(block.rows_start..end, got);
            }
        }
        if update {
            std::fs::write(file, lines.join("\n") + "\n")?;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}
