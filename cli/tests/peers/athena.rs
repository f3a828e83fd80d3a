//! `eventlake athena query` against moto's Athena (with the paging and failed queries
//! `moto_server.py` adds): results of several pages come out whole in every format, so does a
//! DDL statement's empty answer, a FAILED query prints its reason and exits non-zero, and
//! Ctrl-C stops the query in Athena. [`received`] gives `analysts.rs` what reached
//! StartQueryExecution.
//!
//! moto runs no SQL: the rows are queued in it beforehand, so these tests check the client,
//! not Athena's SQL (the views' SQL is checked in `analysts.rs`, by DuckDB and DataFusion).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};

use crate::aws::{self, Peer};
use crate::support::run_ok;

/// Rows above Athena's page of 1 000, so a result takes three pages.
const ROWS: usize = 2_345;

async fn athena(moto: &Peer) -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::new(&aws::sdk_config(&moto.endpoint).await)
}

async fn post(moto: &Peer, path: &str, body: Value) -> Result<()> {
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", moto.endpoint))
        .json(&body)
        .send()
        .await?;
    ensure!(answer.status().is_success(), "{path}: {}", answer.status());
    Ok(())
}

/// Queues one result in moto as Athena returns a SELECT's: a header row, then the rows.
async fn queue_result(moto: &Peer) -> Result<()> {
    let cell = |v: String| json!({ "VarCharValue": v });
    let mut rows =
        vec![json!({ "Data": [cell("n".into()), cell("name".into()), cell("ratio".into())] })];
    for i in 0..ROWS {
        let name = if i == 7 {
            json!({})
        } else {
            cell(format!("row-{i}"))
        };
        rows.push(json!({ "Data": [cell(i.to_string()), name, cell(format!("{}.5", i))] }));
    }
    let info = |name: &str, kind: &str| json!({ "Name": name, "Label": name, "Type": kind });
    post(
        moto,
        "/moto-api/static/athena/query-results",
        json!({ "results": [{
            "rows": rows,
            "column_info": [info("n", "bigint"), info("name", "varchar"), info("ratio", "double")],
        }] }),
    )
    .await
}

/// Keeps each query QUEUED, then RUNNING, for `polls` polls before it moves on.
async fn slow_queries(moto: &Peer, polls: u64) -> Result<()> {
    post(
        moto,
        "/moto-api/state-manager/set-transition",
        json!({ "model_name": "athena::execution", "transition": { "progression": "manual", "times": polls } }),
    )
    .await
}

fn query(moto: &Peer, format: &str) -> std::process::Command {
    let mut cmd = aws::eventlake("s3://lake/athena", moto, None);
    cmd.args([
        "athena",
        "query",
        "--format",
        format,
        "SELECT n, name, ratio FROM t",
    ]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn athena_query_prints_every_page_in_each_format_and_fails_with_the_reason() -> Result<()> {
    let moto = aws::moto().await?;
    slow_queries(&moto, 2).await?;

    queue_result(&moto).await?;
    let csv = String::from_utf8(run_ok(&mut query(&moto, "csv"))?.stdout)?;
    let lines: Vec<&str> = csv.lines().collect();
    ensure!(lines.len() == ROWS + 1, "{} lines", lines.len());
    ensure!(lines[0] == "n,name,ratio", "{}", lines[0]);
    ensure!(lines[1] == "0,row-0,0.5", "{}", lines[1]);
    ensure!(lines[8] == "7,,7.5", "a null prints empty: {}", lines[8]);
    ensure!(lines[ROWS] == format!("{0},row-{0},{0}.5", ROWS - 1));

    queue_result(&moto).await?;
    let json: Vec<Value> = serde_json::from_slice(&run_ok(&mut query(&moto, "json"))?.stdout)?;
    ensure!(json.len() == ROWS);
    ensure!(
        json[1000]["n"] == json!(1000),
        "typed bigint: {}",
        json[1000]
    );
    ensure!(
        json[1000]["ratio"] == json!(1000.5),
        "typed double: {}",
        json[1000]
    );
    ensure!(json[1000]["name"] == json!("row-1000"));
    ensure!(
        json[7].get("name").is_none_or(Value::is_null),
        "{}",
        json[7]
    );

    queue_result(&moto).await?;
    let table = String::from_utf8(run_ok(&mut query(&moto, "table"))?.stdout)?;
    for expected in [
        "| n ",
        "| name ",
        "row-0 ",
        "row-999 ",
        "row-1000 ",
        "row-2344 ",
    ] {
        ensure!(table.contains(expected), "the table lacks {expected:?}");
    }

    // A DDL statement answers no columns and succeeds, in every format.
    for format in ["table", "csv", "json"] {
        run_ok(aws::eventlake("s3://lake/athena", &moto, None).args([
            "athena",
            "query",
            "--format",
            format,
            "CREATE DATABASE IF NOT EXISTS scratch",
        ]))?;
    }

    post(
        &moto,
        "/_eventlake/athena/failures",
        json!({ "reasons": ["COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"] }),
    )
    .await?;
    let failed = query(&moto, "csv").output()?;
    ensure!(!failed.status.success(), "a FAILED query exited 0");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    ensure!(
        stderr.contains("FAILED") && stderr.contains("Column 'nope' cannot be resolved"),
        "{stderr}"
    );
    ensure!(failed.stdout.is_empty(), "rows printed for a failed query");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_query_in_athena() -> Result<()> {
    let moto = aws::moto().await?;
    let client = athena(&moto).await;
    slow_queries(&moto, 1_000_000).await?;
    let mut child = query(&moto, "csv")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let id = loop {
        let listed = client.list_query_executions().send().await?;
        if let Some(id) = listed.query_execution_ids().first() {
            break id.clone();
        }
        ensure!(child.try_wait()?.is_none(), "the query ended by itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Past the start: the client polls now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run_ok(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]))?;
    let out = child.wait_with_output()?;
    ensure!(!out.status.success(), "a stopped query exited 0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("CANCELLED"), "{stderr}");
    let state = client
        .get_query_execution()
        .query_execution_id(&id)
        .send()
        .await?
        .query_execution()
        .and_then(|e| e.status())
        .and_then(|s| s.state())
        .map(|s| s.as_str().to_owned());
    ensure!(state.as_deref() == Some("CANCELLED"), "{state:?}");
    Ok(())
}

/// Every statement moto's Athena received, by text, with how often.
pub async fn received(moto: &Peer) -> Result<BTreeMap<String, usize>> {
    let client = athena(moto).await;
    let mut texts = BTreeMap::new();
    let listed = client.list_query_executions().send().await?;
    for id in listed.query_execution_ids() {
        let execution = client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await?;
        let text = execution
            .query_execution()
            .and_then(|e| e.query())
            .context("a query text")?;
        *texts.entry(text.to_owned()).or_default() += 1;
    }
    Ok(texts)
}
