//! Publishing a job's new rows to its output table in exactly one Delta commit, by strategy:
//! overwrite, append, replace the date window's partitions, or merge on the unique key.
//!
//! Invariant: readers see the table before or after the commit, never in between; nothing is
//! written when the job fails or a test fails, because publishing is the last step. Two runs of
//! one job never both publish from the same snapshot of its output: each commit carries the
//! job's Delta transaction id, so the later one is refused as a concurrent transaction (two
//! overlapping appends of the same new rows would otherwise both land).

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::{CommitConflictError, TransactionError};
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use eventlake_lake::{Lake, TableName};

use crate::error::{Error, Result};

/// How new rows meet the table.
#[derive(Debug, Clone)]
pub enum Publish {
    /// Replace the whole table (and its schema).
    Overwrite,
    /// Add the rows (already de-duplicated against the table).
    Append,
    /// Replace the rows whose `column` lies in `from..=to`.
    ReplaceWindow {
        column: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// Upsert on these key columns.
    Merge { keys: Vec<String> },
}

/// Lake types for a result type: `Utf8View` → `Utf8`, timestamps → microseconds UTC (what a
/// Delta table stores), recursively through lists and structs.
pub fn lake_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::List(f) | DataType::LargeList(f) => DataType::List(Arc::new(lake_field(f))),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| lake_field(f)).collect::<Fields>())
        }
        other => other.clone(),
    }
}

fn lake_field(f: &Field) -> Field {
    Field::new(f.name(), lake_type(f.data_type()), f.is_nullable())
}

/// The lake schema of a result schema.
pub fn lake_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| lake_field(f))
            .collect::<Vec<_>>(),
    ))
}

/// Casts a batch to the lake schema.
pub fn to_lake(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// `left.k = right.k AND …` over the key columns.
pub(crate) fn key_match(keys: &[String], left: &str, right: &str) -> String {
    keys.iter()
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn date(d: NaiveDate) -> ScalarValue {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    ScalarValue::Date32(Some((d - epoch).num_days() as i32))
}

/// The Delta transaction id every publish to `output` commits with.
pub fn app_id(output: &TableName) -> String {
    format!("eventlake.job:{output}")
}

/// Whether a commit was refused because another publish to the same output landed after the
/// snapshot this one started from.
fn overlapped(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction)
        }
    )
}

/// Writes `batches` (in `schema`) to `output` in one commit; returns the new table version.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    lake: &Lake,
    output: &TableName,
    existing: Option<DeltaTable>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    how: Publish,
    partition_by: Option<&str>,
    metadata: Vec<(String, serde_json::Value)>,
) -> Result<u64> {
    let delta_err = |e| {
        if overlapped(&e) {
            Error::Overlap {
                job: output.to_string(),
            }
        } else {
            Error::delta(output, e)
        }
    };
    let partitions: Vec<String> = partition_by.map(str::to_owned).into_iter().collect();
    let table = match existing {
        Some(t) => t,
        None => {
            let refs: Vec<&str> = partitions.iter().map(String::as_str).collect();
            lake.open_or_create(output, &schema, &refs, "Output of an eventlake job.")
                .await?
        }
    };
    // The version this publish means to create, as the transaction's (informational) version.
    let next = table.version().map_or(0, |v| v as i64 + 1);
    let commit = eventlake_lake::commit_properties()
        .with_metadata(metadata)
        .with_application_transaction(Transaction::new(app_id(output), next));
    let before = table.snapshot().ok().map(|s| s.schema());
    let batches = if batches.is_empty() {
        vec![RecordBatch::new_empty(schema.clone())]
    } else {
        batches
    };
    let table = match how {
        Publish::Overwrite => table
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .with_partition_columns(partitions)
            .with_commit_properties(commit)
            .await
            .map_err(delta_err)?,
        Publish::Append => table
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(commit)
            .await
            .map_err(delta_err)?,
        Publish::ReplaceWindow { column, from, to } => table
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(col(column.as_str()).between(lit(date(from)), lit(date(to))))
            .with_commit_properties(commit)
            .await
            .map_err(delta_err)?,
        Publish::Merge { keys } => {
            let source = SessionContext::new().read_batches(batches)?;
            let predicate = key_match(&keys, "target", "source");
            let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            let (table, _metrics) = table
                .merge(source, predicate)
                .with_source_alias("source")
                .with_target_alias("target")
                .with_commit_properties(commit)
                .when_matched_update(|u| {
                    columns
                        .iter()
                        .fold(u, |u, c| u.update(c.as_str(), format!("source.{c}")))
                })
                .map_err(delta_err)?
                .when_not_matched_insert(|i| {
                    columns
                        .iter()
                        .fold(i, |i, c| i.set(c.as_str(), format!("source.{c}")))
                })
                .map_err(delta_err)?
                .await
                .map_err(delta_err)?;
            table
        }
    };
    // A new table was registered when it was created; a changed schema is registered here.
    let after = table.snapshot().ok().map(|s| s.schema());
    if before.is_some() && after != before {
        lake.changed(output).await;
    }
    table.version().ok_or_else(|| Error::Job {
        job: output.to_string(),
        reason: "table has no version after publishing".into(),
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn rows(schema: &SchemaRef, ids: &[i64]) -> Vec<RecordBatch> {
        let ids: ArrayRef = Arc::new(Int64Array::from(ids.to_vec()));
        vec![RecordBatch::try_new(schema.clone(), vec![ids]).expect("batch")]
    }

    async fn count(lake: &Lake, table: &TableName) -> usize {
        let ctx = eventlake_lake::query::session_over(lake, std::slice::from_ref(table))
            .await
            .expect("session");
        let batches = ctx
            .sql(&format!("SELECT * FROM {table}"))
            .await
            .expect("plan")
            .collect()
            .await
            .expect("scan");
        batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Two runs of one job that read the output at the same version (a scheduled run starting
    /// while the previous one still runs) compute the same new rows; only the first publishes.
    #[tokio::test]
    async fn overlapping_runs_publish_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path().to_str().expect("UTF-8")).expect("lake");
        let table = TableName::new("silver", "things").expect("name");
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let publish_rows = |existing, ids: &[i64]| {
            publish(
                &lake,
                &table,
                existing,
                schema.clone(),
                rows(&schema, ids),
                Publish::Append,
                None,
                Vec::new(),
            )
        };
        publish_rows(None, &[1, 2]).await.expect("first run");

        let first = lake.open(&table).await.expect("open");
        let second = lake.open(&table).await.expect("open");
        publish_rows(Some(first), &[3, 4])
            .await
            .expect("the earlier run");
        let refused = publish_rows(Some(second), &[3, 4]).await;
        assert!(
            matches!(refused, Err(Error::Overlap { .. })),
            "the later run must be refused: {refused:?}"
        );
        assert_eq!(count(&lake, &table).await, 4, "every row once");

        let latest = lake.open(&table).await.expect("open");
        publish_rows(Some(latest), &[5])
            .await
            .expect("a run from the latest version");
        assert_eq!(count(&lake, &table).await, 5);
    }
}
