//! The Rust job body behind `[silver]` definitions: read the job's event types from
//! `bronze.events` in the run's window, decode their payloads into the entity's typed schema
//! (see `eventlake-transform`), and quarantine what cannot be typed.
//!
//! Invariant: every bronze row read becomes a typed row or a `silver.quarantine` row; the
//! quarantine commit lands before the entity's publish, and is de-duplicated, so a retried run
//! neither loses nor doubles a quarantined payload.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use deltalake::protocol::SaveMode;
use eventlake_lake::{Contracts, Lake, TableName, query};
use eventlake_transform::{Entity, decode, quarantine_schema};
use futures::StreamExt;

use crate::definition::Job;
use crate::error::{Error, Result};

/// `silver.quarantine`.
pub fn quarantine_table() -> TableName {
    TableName::new("silver", "quarantine").expect("valid")
}

/// Decodes the window's events of `event_types`; returns the entity schema and its rows.
pub async fn compute(
    ctx: &SessionContext,
    lake: &Lake,
    job: &Job,
    event_types: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let entity = Entity::new(Contracts::builtin(), &job.output.to_string(), event_types)?;
    let types: Vec<String> = event_types
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect();
    let sql = format!(
        "SELECT event_id, event_type, tenant_id, subject_id, occurred_at, payload, event_date \
         FROM bronze.events WHERE event_type IN ({}) AND event_date BETWEEN DATE '{from}' AND DATE '{to}'",
        types.join(", ")
    );
    let mut stream = ctx.sql(&sql).await?.execute_stream().await?;
    let mut rows = Vec::new();
    let mut quarantined = Vec::new();
    while let Some(batch) = stream.next().await {
        let decoded = decode(&entity, &batch?)?;
        if decoded.rows.num_rows() > 0 {
            rows.push(decoded.rows);
        }
        if decoded.quarantine.num_rows() > 0 {
            quarantined.push(decoded.quarantine);
        }
    }
    if !quarantined.is_empty() {
        let n: usize = quarantined.iter().map(RecordBatch::num_rows).sum();
        tracing::warn!(job = %job.name, rows = n, "payloads quarantined");
        quarantine(lake, quarantined).await?;
    }
    Ok((entity.schema.clone(), rows))
}

/// Appends quarantined rows not already in `silver.quarantine` (same entity and event id).
async fn quarantine(lake: &Lake, batches: Vec<RecordBatch>) -> Result<()> {
    let name = quarantine_table();
    let schema = quarantine_schema();
    let table = lake
        .open_or_create(
            &name,
            &schema,
            &["event_date"],
            "Payloads that passed ingest but could not be typed into their silver entity.",
        )
        .await?;
    let ctx = query::empty_session();
    query::register_delta(&ctx, &name, &table).await?;
    ctx.register_table(
        "__q",
        Arc::new(MemTable::try_new(schema.clone(), vec![batches])?),
    )?;
    let fresh = ctx
        .sql(
            "SELECT q.* FROM __q q WHERE NOT EXISTS (SELECT 1 FROM silver.quarantine s \
             WHERE s.entity = q.entity AND s.event_id = q.event_id)",
        )
        .await?
        .collect()
        .await?;
    let fresh: Vec<RecordBatch> = fresh
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| crate::publish::to_lake(b, &schema))
        .collect::<Result<_>>()?;
    if fresh.is_empty() {
        return Ok(());
    }
    table
        .write(fresh)
        .with_save_mode(SaveMode::Append)
        .with_commit_properties(eventlake_lake::commit_properties())
        .await
        .map_err(|e| Error::delta(&name, e))?;
    Ok(())
}
