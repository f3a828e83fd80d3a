//! `eventlake sql`: DataFusion over every lake table, by `layer.name` and by its Glue name
//! (`layer_name`), with the dashboard views: the SQL analysts write for Athena runs here too.

use anyhow::Result;
use arrow::array::RecordBatch;
use eventlake_jobs::views;
use eventlake_lake::{Lake, query};

use crate::Context;
use crate::args::SqlArgs;

pub async fn run(ctx: &Context, args: &SqlArgs) -> Result<()> {
    let batches = execute(&ctx.lake()?, &args.query).await?;
    crate::output::print(&batches, args.format)
}

/// Runs one statement; `SHOW TABLES` lists the lake's tables only (as `layer.name`).
pub async fn execute(lake: &Lake, sql: &str) -> Result<Vec<RecordBatch>> {
    let tables = lake.tables().await?;
    let session = query::session_over(lake, &tables).await?;
    for (view, table) in views::register(&session, &tables).await? {
        tracing::debug!(view = view.name, missing = %table, "view left out: a table it reads is missing");
    }
    let normalized = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let sql = if normalized.eq_ignore_ascii_case("show tables") {
        "SELECT table_schema || '.' || table_name AS table_name FROM information_schema.tables \
         WHERE table_catalog = 'lake' AND table_schema NOT IN ('information_schema', 'public') \
         ORDER BY 1"
    } else {
        sql
    };
    Ok(session.sql(sql).await?.collect().await?)
}
