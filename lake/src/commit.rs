//! How every writer (ingest, jobs, run records, quarantine) commits to a Delta table.
//!
//! Invariant: a writer never deletes from a table's log (removing expired log files is
//! `maintain`'s alone, and a deployed writer's role may not delete), and a failed commit that
//! only lost the race for its version is told apart from one that went wrong.

use deltalake::kernel::transaction::{CommitProperties, TransactionError};
use deltalake::{DeltaTable, DeltaTableError};

/// The commit properties of every writer: deltalake's default, except that the commit does not
/// remove expired log files afterwards (which it would do on every commit once a checkpoint is
/// older than the log retention). `maintain` removes them after its checkpoint.
pub fn properties() -> CommitProperties {
    CommitProperties::default().with_cleanup_expired_logs(Some(false))
}

/// The version of the application transaction `app_id` as of `delta`'s version (`None` if no
/// commit carried it).
pub async fn transaction_version(
    delta: &DeltaTable,
    app_id: &str,
) -> Result<Option<i64>, DeltaTableError> {
    delta
        .snapshot()?
        .transaction_version(delta.log_store().as_ref(), app_id)
        .await
}

/// Whether a failed commit only lost the race for its version to another writer's commit
/// (with retries off, deltalake names the version taken); nothing was written to the log.
pub fn lost_race(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
            }
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::Schema;

    use super::*;
    use crate::{Lake, TableName};

    /// A writer's commit leaves expired log files alone (they are `maintain`'s to remove); the
    /// same commit with deltalake's default properties would have removed them.
    #[tokio::test]
    async fn writers_leave_expired_logs_to_maintain() {
        use arrow::array::{Int64Array, RecordBatch};
        use arrow::datatypes::{DataType, Field};

        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::new("ops", "expiring").unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let mut delta = lake
            .open_or_create(&name, &schema, &[], "test")
            .await
            .unwrap();
        delta = delta
            .set_tbl_properties()
            .with_properties(
                [(
                    "delta.logRetentionDuration".to_owned(),
                    "interval 0 seconds".to_owned(),
                )]
                .into(),
            )
            .with_commit_properties(properties())
            .await
            .unwrap();
        let batch = || {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap()
        };
        delta = delta
            .write(vec![batch()])
            .with_commit_properties(properties())
            .await
            .unwrap();
        deltalake::checkpoints::create_checkpoint(&delta, None)
            .await
            .unwrap();
        let first = dir
            .path()
            .join("ops/expiring/_delta_log/00000000000000000000.json");

        delta = delta
            .write(vec![batch()])
            .with_commit_properties(properties())
            .await
            .unwrap();
        assert!(first.exists(), "a writer removed an expired log file");

        delta
            .write(vec![batch()])
            .with_commit_properties(CommitProperties::default())
            .await
            .unwrap();
        assert!(
            !first.exists(),
            "the default commit cleans up, so the check above means something"
        );
    }
}
