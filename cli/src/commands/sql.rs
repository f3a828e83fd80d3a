//! `eventlake sql`: DataFusion over every lake table.

use anyhow::Result;
use arrow::array::RecordBatch;
use eventlake_lake::{Lake, query};

use crate::Context;
use crate::args::SqlArgs;

pub async fn run(ctx: &Context, args: &SqlArgs) -> Result<()> {
    let batches = execute(&ctx.lake()?, &args.query).await?;
    crate::output::print(&batches, args.format)
}

/// Runs one statement; `SHOW TABLES` lists the lake's tables only.
pub async fn execute(lake: &Lake, sql: &str) -> Result<Vec<RecordBatch>> {
    let session = query::session(lake).await?;
    let normalized = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let sql = if normalized.eq_ignore_ascii_case("show tables") {
        "SELECT table_schema || '.' || table_name AS table_name FROM information_schema.tables \
         WHERE table_catalog = 'lake' AND table_schema <> 'information_schema' ORDER BY 1"
    } else {
        sql
    };
    Ok(session.sql(sql).await?.collect().await?)
}
