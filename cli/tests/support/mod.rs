//! Helpers shared by both test lanes (`e2e` and `peers`): running the `eventlake` binary Cargo
//! built for the tests, servers killed on drop, and reading lake tables back. Each lane uses a
//! part of them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{Context, Result, ensure};
use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use eventlake_lake::{Lake, query};

/// The `eventlake` binary Cargo built from these sources for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_eventlake"))
}

/// A command running the binary against `lake`.
pub fn eventlake(lake: &std::path::Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--lake")
        .arg(lake)
        .env("RUST_LOG", "error,buoyant_kernel=off");
    cmd
}

/// A child process (a server a test started), killed when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs a command and fails with its stderr if it does not succeed.
pub fn run_ok(cmd: &mut Command) -> Result<Output> {
    let output = cmd.output().with_context(|| format!("spawning {cmd:?}"))?;
    ensure!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output)
}

/// Runs a query over the lake.
pub async fn sql(lake: &std::path::Path, sql: &str) -> Result<Vec<RecordBatch>> {
    let lake = Lake::new(lake.to_str().context("UTF-8 path")?)?;
    let session = query::session(&lake).await?;
    Ok(session.sql(sql).await?.collect().await?)
}

/// Runs a query and returns every row as strings, in order.
pub async fn rows(lake: &std::path::Path, query: &str) -> Result<Vec<Vec<String>>> {
    let batches = sql(lake, query).await?;
    Ok(format_rows(&batches, &FormatOptions::default())?)
}

/// Every row of `batches` as strings, in order, each cell formatted with `options`.
pub fn format_rows(
    batches: &[RecordBatch],
    options: &FormatOptions,
) -> Result<Vec<Vec<String>>, ArrowError> {
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// Runs a query returning one integer.
pub async fn scalar(lake: &std::path::Path, query: &str) -> Result<i64> {
    let rows = rows(lake, query).await?;
    let value = rows
        .first()
        .and_then(|r| r.first())
        .context("query returned no rows")?;
    Ok(value.parse()?)
}

/// Writes a generated workload to a file and returns its lines.
pub fn workload(
    path: &std::path::Path,
    events: u64,
    seed: u64,
    bad_ratio: f64,
) -> Result<Vec<eventlake_workload::Line>> {
    let config = eventlake_workload::WorkloadConfig {
        events,
        seed,
        bad_ratio,
        ..Default::default()
    };
    let lines: Vec<_> = eventlake_workload::Workload::new(config).collect();
    let mut text = Vec::new();
    for line in &lines {
        text.extend_from_slice(&line.bytes);
        text.push(b'\n');
    }
    std::fs::write(path, text)?;
    Ok(lines)
}

/// A Python interpreter with the given `packages`: `EVENTLAKE_TEST_PYTHON` (set by `.ci/run`,
/// which installs them from `.ci/requirements.txt`), else `python3`. Panics, saying how to get
/// one, when the packages are missing: these tests must not pass by skipping.
pub fn python(packages: &[&str]) -> String {
    let candidate = std::env::var("EVENTLAKE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&candidate)
        .args(["-c", &format!("import {}", packages.join(", "))])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{candidate} lacks {packages:?}: run the tests through .ci/run, or set \
         EVENTLAKE_TEST_PYTHON to a python with `pip install {}`",
        packages.join(" ")
    );
    candidate
}

/// A `user.joined` event of tenant `t1` on 2026-03-03, as one NDJSON line.
pub fn joined(id: &str) -> String {
    format!(
        "{{\"event_id\":\"{id}\",\"event_type\":\"user.joined\",\"source\":\"chat\",\
         \"tenant_id\":\"t1\",\"subject_id\":\"u-{id}\",\
         \"occurred_at\":\"2026-03-03T10:00:00Z\",\"schema_version\":1,\
         \"payload\":{{\"room_id\":\"r\",\"user_id\":\"u-{id}\"}}}}\n"
    )
}

/// Posts a [`joined`] event per id to a collector's `url`, sending again those answered
/// `retry` (or the whole batch on a 503), until every one is stored; returns each id's final
/// status (`accepted` or `duplicate`).
pub async fn post_until_stored(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    ids: &[String],
) -> Result<Vec<String>> {
    let mut statuses = vec![String::new(); ids.len()];
    let mut open: Vec<usize> = (0..ids.len()).collect();
    for _ in 0..100 {
        if open.is_empty() {
            return Ok(statuses);
        }
        let mut request = client
            .post(url)
            .body(open.iter().map(|&i| joined(&ids[i])).collect::<String>());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await?;
        ensure!(status == 200 || status == 503, "{status}: {answer}");
        let results = answer["data"]["results"]
            .as_array()
            .with_context(|| format!("no results: {answer}"))?;
        let mut still = Vec::new();
        for (r, &i) in results.iter().zip(&open) {
            match r["status"].as_str() {
                Some("retry") => still.push(i),
                Some(s @ ("accepted" | "duplicate")) => statuses[i] = s.to_owned(),
                other => anyhow::bail!("{} answered {other:?}: {r}", ids[i]),
            }
        }
        if !still.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        open = still;
    }
    anyhow::bail!("{} events were never stored", open.len())
}
