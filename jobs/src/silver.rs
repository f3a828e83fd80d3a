//! The Rust job body behind `[silver]` definitions: read the job's event types from
//! `bronze.events` in the run's window, decode their payloads into the entity's typed schema
//! (see `eventlake-transform`), and quarantine what cannot be typed.
//!
//! Invariant: every bronze row read becomes a typed row or a `silver.quarantine` row; the
//! quarantine commit lands before the entity's publish, and is de-duplicated against the version
//! it lands on, so neither a retried run nor an overlapping one loses or doubles a quarantined
//! payload.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::protocol::SaveMode;
use eventlake_lake::{Contracts, Lake, TableName, query};
use eventlake_transform::{Entity, decode, quarantine_schema};
use futures::StreamExt;

use crate::definition::Job;
use crate::error::Result;

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
///
/// The check and the append are one attempt on one version of the table, committed without
/// deltalake's rebase: when another commit takes the version (another job's quarantine, a
/// compaction, or an overlapping run of the same job), both are made again on the new version,
/// so no row is added twice.
pub(crate) async fn quarantine(lake: &Lake, batches: Vec<RecordBatch>) -> Result<()> {
    let name = quarantine_table();
    let schema = quarantine_schema();
    let mut table = lake
        .open_or_create(
            &name,
            &schema,
            &["event_date"],
            "Payloads that passed ingest but could not be typed into their silver entity.",
        )
        .await?;
    let mut tries = 1;
    loop {
        let fresh = not_quarantined(&table, &name, &schema, &batches).await?;
        if fresh.is_empty() {
            return Ok(());
        }
        let appended = table
            .clone()
            .write(fresh)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(eventlake_lake::commit::properties().with_max_retries(0))
            .await;
        match appended {
            Ok(_) => return Ok(()),
            Err(e) => table = crate::publish::retry(lake, &name, e, &mut tries).await?,
        }
    }
}

/// The rows of `batches` whose entity and event id `table` does not hold.
async fn not_quarantined(
    table: &DeltaTable,
    name: &TableName,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<RecordBatch>> {
    let ctx = query::empty_session();
    query::register_delta(&ctx, name, table).await?;
    ctx.register_table(
        "__q",
        Arc::new(MemTable::try_new(schema.clone(), vec![batches.to_vec()])?),
    )?;
    let fresh = ctx
        .sql(
            "SELECT q.* FROM __q q WHERE NOT EXISTS (SELECT 1 FROM silver.quarantine s \
             WHERE s.entity = q.entity AND s.event_id = q.event_id)",
        )
        .await?
        .collect()
        .await?;
    fresh
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| crate::publish::to_lake(b, schema))
        .collect()
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Date32Array, StringArray, TimestampMicrosecondArray};

    use super::*;

    fn quarantined(ids: &[&str]) -> RecordBatch {
        let text = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v; ids.len()])) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ids.to_vec())),
            text("donation.made"),
            text("tenant-1"),
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_790_000_000_000_000; ids.len()])
                    .with_timezone("UTC"),
            ),
            text("silver.donations"),
            text("type_mismatch"),
            text("amount is not a number"),
            text("{}"),
            Arc::new(Date32Array::from(vec![20_000; ids.len()])),
        ];
        RecordBatch::try_new(quarantine_schema(), columns).expect("batch")
    }

    /// Two runs of one silver job quarantining the same payloads at the same moment (runs that
    /// overlap): each payload is quarantined once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_quarantines_add_each_row_once() {
        for round in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let lake = Lake::new(dir.path().to_str().expect("UTF-8")).expect("lake");
            quarantine(&lake, vec![quarantined(&["e0"])])
                .await
                .expect("the table");
            let ids = ["e1", "e2", "e3"];
            let runs = (0..2).map(|_| {
                let lake = lake.clone();
                tokio::spawn(async move { quarantine(&lake, vec![quarantined(&ids)]).await })
            });
            for run in futures::future::join_all(runs).await {
                run.expect("task").expect("quarantine");
            }
            let ctx = query::session_over(&lake, &[quarantine_table()])
                .await
                .expect("session");
            let rows: usize = ctx
                .sql("SELECT * FROM silver.quarantine")
                .await
                .expect("plan")
                .collect()
                .await
                .expect("scan")
                .iter()
                .map(RecordBatch::num_rows)
                .sum();
            assert_eq!(rows, 4, "round {round}");
        }
    }
}
