//! Publishing a job's new rows to its output table in exactly one Delta commit, by strategy:
//! overwrite, append, replace the date window's partitions, or merge on the unique key.
//!
//! Invariant: readers see the table before or after the commit, never in between; nothing is
//! written when the job fails or a test fails, because publishing is the last step. Of two runs
//! of one job that read the output at the same version, only the first publishes (each commit
//! carries the job's Delta transaction id, checked before the commit, which is never rebased);
//! a compaction landing while a job runs neither conflicts with its publish nor survives it.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
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

/// The Delta transaction id every publish to `output` commits with; its version counts the
/// output's publishes.
pub fn app_id(output: &TableName) -> String {
    format!("eventlake.job:{output}")
}

/// How many times a commit is made again on a newer version of its table (another writer, a
/// compaction or a vacuum committed in the meantime) before it gives up.
const ATTEMPTS: usize = 8;

/// After a commit of `name` made with `max_retries(0)` failed with `e`: the latest version of
/// the table, to make the commit again on, if the commit only lost the race for its version
/// and fewer than [`ATTEMPTS`] were made (`tries` counts them); else the error.
pub(crate) async fn retry(
    lake: &Lake,
    name: &TableName,
    e: DeltaTableError,
    tries: &mut usize,
) -> Result<DeltaTable> {
    *tries += 1;
    if eventlake_lake::commit::lost_race(&e) && *tries <= ATTEMPTS {
        Ok(lake.open(name).await?)
    } else {
        Err(Error::delta(name, e))
    }
}

/// The output's publish count as of `table`'s version.
async fn publishes(table: &DeltaTable, output: &TableName) -> Result<Option<i64>> {
    eventlake_lake::commit::transaction_version(table, &app_id(output))
        .await
        .map_err(|e| Error::delta(output, e))
}

/// Writes `batches` (in `schema`) to `output` in one commit; returns the new table version.
///
/// `existing` is the output as the run read it (`None` if it did not exist). The commit lands
/// only on a version this function has checked, never rebased by deltalake: deltalake's
/// conflict check ignores `dataChange=false` removes, so a full overwrite rebased over a
/// compaction would keep the compacted copy of the rows it replaced. When another commit takes
/// the version, the output is read again: if another run of the job published meanwhile, this
/// run is refused ([`Error::Overlap`]); otherwise (compaction, vacuum) the same rows are
/// written again on the new version.
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
    let partitions: Vec<String> = partition_by.map(str::to_owned).into_iter().collect();
    // `read`: the publish count the run read; `current`: the one of the version to commit on.
    let (read, mut table, mut current) = match existing {
        Some(t) => {
            let read = publishes(&t, output).await?;
            (read, t, read)
        }
        None => {
            let refs: Vec<&str> = partitions.iter().map(String::as_str).collect();
            let created = lake
                .open_or_create(output, &schema, &refs, "Output of an eventlake job.")
                .await?;
            // Another run may have created and published to it since this run looked.
            let current = publishes(&created, output).await?;
            (None, created, current)
        }
    };
    let before = table.snapshot().ok().map(|s| s.schema());
    let batches = if batches.is_empty() {
        vec![RecordBatch::new_empty(schema.clone())]
    } else {
        batches
    };
    let mut tries = 1;
    let table = loop {
        if current != read {
            return Err(Error::Overlap {
                output: output.to_string(),
            });
        }
        let commit = eventlake_lake::commit::properties()
            .with_max_retries(0)
            .with_metadata(metadata.clone())
            .with_application_transaction(Transaction::new(app_id(output), read.unwrap_or(0) + 1));
        match write(
            table.clone(),
            &schema,
            batches.clone(),
            &how,
            &partitions,
            commit,
        )
        .await
        {
            Ok(written) => break written,
            Err(e) => {
                table = retry(lake, output, e, &mut tries).await?;
                current = publishes(&table, output).await?;
            }
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

/// One commit of `batches` to `table` by strategy.
async fn write(
    table: DeltaTable,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    how: &Publish,
    partitions: &[String],
    commit: CommitProperties,
) -> Result<DeltaTable, DeltaTableError> {
    match how {
        Publish::Overwrite => {
            table
                .write(batches)
                .with_save_mode(SaveMode::Overwrite)
                .with_schema_mode(SchemaMode::Overwrite)
                .with_partition_columns(partitions.to_vec())
                .with_commit_properties(commit)
                .await
        }
        Publish::Append => {
            table
                .write(batches)
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(commit)
                .await
        }
        Publish::ReplaceWindow { column, from, to } => {
            table
                .write(batches)
                .with_save_mode(SaveMode::Overwrite)
                .with_replace_where(col(column.as_str()).between(lit(date(*from)), lit(date(*to))))
                .with_commit_properties(commit)
                .await
        }
        Publish::Merge { keys } => {
            let source = SessionContext::new().read_batches(batches)?;
            let predicate = key_match(keys, "target", "source");
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
                })?
                .when_not_matched_insert(|i| {
                    columns
                        .iter()
                        .fold(i, |i, c| i.set(c.as_str(), format!("source.{c}")))
                })?
                .await?;
            Ok(table)
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use deltalake::operations::optimize::OptimizeType;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("day", DataType::Date32, false),
        ]))
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).expect("date")
    }

    fn rows(ids: &[i64]) -> Vec<RecordBatch> {
        let days = vec![(day() - NaiveDate::default()).num_days() as i32; ids.len()];
        let ids: ArrayRef = Arc::new(Int64Array::from(ids.to_vec()));
        let days: ArrayRef = Arc::new(Date32Array::from(days));
        vec![RecordBatch::try_new(schema(), vec![ids, days]).expect("batch")]
    }

    fn strategies() -> [Publish; 4] {
        [
            Publish::Append,
            Publish::Overwrite,
            Publish::ReplaceWindow {
                column: "day".into(),
                from: day(),
                to: day(),
            },
            Publish::Merge {
                keys: vec!["id".into()],
            },
        ]
    }

    struct Output {
        _dir: tempfile::TempDir,
        lake: Lake,
        table: TableName,
    }

    impl Output {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let lake = Lake::new(dir.path().to_str().expect("UTF-8")).expect("lake");
            let table = TableName::new("silver", "things").expect("name");
            Self {
                _dir: dir,
                lake,
                table,
            }
        }

        async fn publish(
            &self,
            read: Option<DeltaTable>,
            ids: &[i64],
            how: &Publish,
        ) -> Result<u64> {
            publish(
                &self.lake,
                &self.table,
                read,
                schema(),
                rows(ids),
                how.clone(),
                None,
                Vec::new(),
            )
            .await
        }

        async fn read(&self) -> DeltaTable {
            self.lake.open(&self.table).await.expect("open")
        }

        async fn ids(&self) -> Vec<i64> {
            let ctx =
                eventlake_lake::query::session_over(&self.lake, std::slice::from_ref(&self.table))
                    .await
                    .expect("session");
            let batches = ctx
                .sql(&format!("SELECT id FROM {} ORDER BY id", self.table))
                .await
                .expect("plan")
                .collect()
                .await
                .expect("scan");
            batches
                .iter()
                .flat_map(|b| {
                    let ids = b
                        .column(0)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .expect("ids");
                    ids.values().to_vec()
                })
                .collect()
        }
    }

    /// Two runs of one job that read the output at the same version (a scheduled run starting
    /// while the previous one still runs) compute the same new rows; only the first publishes,
    /// whatever the strategy.
    #[tokio::test]
    async fn overlapping_runs_publish_once() {
        for how in strategies() {
            let out = Output::new();
            out.publish(None, &[1, 2], &Publish::Append)
                .await
                .expect("first run");
            let (first, second) = (out.read().await, out.read().await);
            out.publish(Some(first), &[1, 2, 3], &how)
                .await
                .expect("the earlier run");
            let refused = out.publish(Some(second), &[1, 2, 3], &how).await;
            assert!(
                matches!(refused, Err(Error::Overlap { .. })),
                "{how:?}: the later run must be refused: {refused:?}"
            );
            let expected: &[i64] = match how {
                Publish::Append => &[1, 2, 1, 2, 3],
                _ => &[1, 2, 3],
            };
            let mut expected = expected.to_vec();
            expected.sort();
            assert_eq!(out.ids().await, expected, "{how:?}");
            out.publish(Some(out.read().await), &[4], &how)
                .await
                .unwrap_or_else(|e| panic!("{how:?}: a run from the latest version: {e}"));
        }
    }

    /// Two runs that both found no output: the second finds the table the first created and
    /// published to, and is refused.
    #[tokio::test]
    async fn a_run_that_found_no_output_is_refused_once_another_published() {
        let out = Output::new();
        out.publish(None, &[1], &Publish::Overwrite)
            .await
            .expect("the first run");
        let refused = out.publish(None, &[1], &Publish::Overwrite).await;
        assert!(matches!(refused, Err(Error::Overlap { .. })), "{refused:?}");
        assert_eq!(out.ids().await, [1]);
    }

    /// A compaction committed while a job ran: the publish lands, on the compacted version,
    /// and what it replaced does not come back from the compacted file.
    #[tokio::test]
    async fn a_compaction_while_a_job_runs_is_published_over() {
        for how in strategies() {
            let out = Output::new();
            for id in 1..=3 {
                let read = if id == 1 {
                    None
                } else {
                    Some(out.read().await)
                };
                out.publish(read, &[id], &Publish::Append)
                    .await
                    .expect("a small file");
            }
            let read = out.read().await;
            let (_, metrics) = out
                .read()
                .await
                .optimize()
                .with_type(OptimizeType::Compact)
                .await
                .expect("compaction");
            assert_eq!(
                metrics.num_files_removed, 3,
                "the compaction rewrote the files"
            );
            out.publish(Some(read), &[3, 4], &how)
                .await
                .unwrap_or_else(|e| panic!("{how:?}: the publish after a compaction: {e}"));
            let expected: &[i64] = match how {
                Publish::Append => &[1, 2, 3, 3, 4],
                Publish::Merge { .. } => &[1, 2, 3, 4],
                _ => &[3, 4],
            };
            assert_eq!(out.ids().await, expected, "{how:?}");
        }
    }
}
