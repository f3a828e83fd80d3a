//! The rows a job publishes, shaped for their strategy (one row per key; for `append`, only
//! keys the table lacks), and `__candidate`: the output as it would be after publishing, which
//! the data tests read.
//!
//! Invariant: nothing here writes to the lake.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use eventlake_lake::TableName;

use crate::data_test::{CANDIDATE, count};
use crate::definition::{Job, Strategy};
use crate::error::Result;
use crate::publish::{Publish, key_match, to_lake};

fn column_list(schema: &arrow::datatypes::Schema, alias: &str) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{alias}.{}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keeps one row per key (the first seen).
pub(crate) async fn distinct_keys(
    ctx: &SessionContext,
    schema: &arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    keys: &[String],
) -> Result<Vec<RecordBatch>> {
    let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
    ctx.register_table("__rows", Arc::new(table))?;
    // Duplicates are rare: a cheap hash aggregate finds whether there are any before a
    // window function keeps the first row of each key.
    let keys_sql = keys.join(", ");
    let duplicated = count(
        ctx,
        &format!("SELECT count(*) FROM (SELECT {keys_sql} FROM __rows GROUP BY {keys_sql} HAVING count(*) > 1)"),
    )
    .await?;
    if duplicated == 0 {
        ctx.deregister_table("__rows")?;
        return Ok(batches);
    }
    let sql = format!(
        "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {keys}) AS __n FROM __rows) n WHERE __n = 1",
        cols = column_list(schema, "n"),
        keys = keys.join(", "),
    );
    let out = ctx.sql(&sql).await?.collect().await?;
    ctx.deregister_table("__rows")?;
    out.iter().map(|b| to_lake(b, schema)).collect()
}

/// For `append`: rows whose key the table does not hold yet. For `merge`: one row per key.
pub(crate) async fn new_keys_only(
    ctx: &SessionContext,
    schema: &arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    keys: &[String],
    strategy: Strategy,
    this: &TableName,
) -> Result<Vec<RecordBatch>> {
    let batches = distinct_keys(ctx, schema, batches, keys).await?;
    if strategy != Strategy::Append {
        return Ok(batches);
    }
    let table = MemTable::try_new(schema.clone(), vec![batches])?;
    ctx.register_table("__rows", Arc::new(table))?;
    let sql = format!(
        "SELECT {cols} FROM __rows n WHERE NOT EXISTS (SELECT 1 FROM {this} t WHERE {on})",
        cols = column_list(schema, "n"),
        on = key_match(keys, "t", "n"),
    );
    let out = ctx.sql(&sql).await?.collect().await?;
    ctx.deregister_table("__rows")?;
    out.iter().map(|b| to_lake(b, schema)).collect()
}

/// Registers `__candidate`: the output as it would be after publishing `batches`.
pub(crate) async fn register_candidate(
    ctx: &SessionContext,
    job: &Job,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    how: &Publish,
    output_exists: bool,
) -> Result<()> {
    let table = MemTable::try_new(schema.clone(), vec![batches.to_vec()])?;
    ctx.register_table("__new", Arc::new(table))?;
    let this = &job.output;
    let new = format!("SELECT {} FROM __new n", column_list(schema, "n"));
    let old = column_list(schema, "t");
    let sql = match how {
        _ if !output_exists => new,
        Publish::Overwrite => new,
        Publish::Append => format!("SELECT {old} FROM {this} t UNION ALL {new}"),
        Publish::ReplaceWindow { column, from, to } => format!(
            "SELECT {old} FROM {this} t WHERE NOT (t.{column} BETWEEN DATE '{from}' AND DATE '{to}') UNION ALL {new}"
        ),
        Publish::Merge { keys } => format!(
            "SELECT {old} FROM {this} t WHERE NOT EXISTS (SELECT 1 FROM __new n WHERE {on}) UNION ALL {new}",
            on = key_match(keys, "t", "n"),
        ),
    };
    let view = ctx.sql(&sql).await?.into_view();
    ctx.register_table(CANDIDATE, view)?;
    Ok(())
}
