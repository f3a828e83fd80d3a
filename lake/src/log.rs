//! Refuses a damaged Delta log. deltalake reads an empty commit file as a commit without
//! actions, so a table whose newest `_delta_log/*.json` was truncated reads as valid with rows
//! missing, and a writer would commit on top of it. Every open of a table, and every ingest
//! commit, first checks the commit files the reader will rely on.
//!
//! Invariant: no table is read or written over a commit file that is empty or is not JSON
//! lines of Delta actions; the error names the file.

use std::fmt::Display;

use deltalake::DeltaTable;
use deltalake::kernel::Action;
use deltalake::logstore::get_actions;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

/// Checks every commit file of `delta` after version `after` (exclusive): none may be empty.
/// `None` checks those after the last checkpoint, which are the ones a reader replays.
pub async fn verify(delta: &DeltaTable, table: impl Display, after: Option<i64>) -> Result<()> {
    let store = delta.log_store().object_store(None);
    let storage = |source| Error::Storage {
        uri: delta.table_url().to_string(),
        source: Box::new(source),
    };
    let after = match after {
        Some(v) => v,
        None => last_checkpoint(store.as_ref()).await,
    };
    let log = Path::from("_delta_log");
    let listing: Vec<object_store::ObjectMeta> = if after >= 0 {
        let offset = Path::from(format!("_delta_log/{after:020}.json"));
        store
            .list_with_offset(Some(&log), &offset)
            .try_collect()
            .await
    } else {
        store.list(Some(&log)).try_collect().await
    }
    .map_err(storage)?;
    for meta in listing {
        if is_commit(meta.location.filename().unwrap_or_default()) && meta.size == 0 {
            return Err(damaged(delta, &table, &meta.location, "is empty".into()));
        }
    }
    Ok(())
}

/// The actions of one commit, refusing an empty or unparsable commit file.
pub async fn actions(delta: &DeltaTable, table: impl Display, version: u64) -> Result<Vec<Action>> {
    let path = Path::from(format!("_delta_log/{version:020}.json"));
    let bytes = delta
        .log_store()
        .read_commit_entry(version)
        .await
        .map_err(|e| Error::delta(&table, e))?
        .ok_or_else(|| damaged(delta, &table, &path, "is missing".into()))?;
    if bytes.is_empty() {
        return Err(damaged(delta, &table, &path, "is empty".into()));
    }
    get_actions(version, &bytes).map_err(|e| damaged(delta, &table, &path, e.to_string()))
}

/// Whether a log file name is a commit (`<20 digits>.json`).
fn is_commit(name: &str) -> bool {
    name.strip_suffix(".json")
        .is_some_and(|v| v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// The version of the table's last checkpoint, `-1` when there is none or it cannot be read.
pub async fn last_checkpoint_of(delta: &DeltaTable) -> i64 {
    last_checkpoint(delta.log_store().object_store(None).as_ref()).await
}

/// The version of the last checkpoint (`-1` when there is none or it cannot be read: the
/// whole log is then checked).
async fn last_checkpoint(store: &dyn ObjectStore) -> i64 {
    #[derive(serde::Deserialize)]
    struct LastCheckpoint {
        version: i64,
    }
    let path = Path::from("_delta_log/_last_checkpoint");
    let Ok(found) = store.get(&path).await else {
        return -1;
    };
    let Ok(bytes) = found.bytes().await else {
        return -1;
    };
    serde_json::from_slice::<LastCheckpoint>(&bytes).map_or(-1, |c| c.version)
}

fn damaged(delta: &DeltaTable, table: &impl Display, file: &Path, reason: String) -> Error {
    let url = delta.table_url();
    let file = format!(
        "{}{}",
        url.as_str().trim_end_matches('/'),
        format_args!("/{file}")
    );
    Error::DamagedLog {
        table: table.to_string(),
        file,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Lake;
    use crate::tables::TableName;

    #[test]
    fn commit_names() {
        assert!(is_commit("00000000000000000012.json"));
        assert!(!is_commit("00000000000000000012.checkpoint.parquet"));
        assert!(!is_commit("_last_checkpoint"));
        assert!(!is_commit("12.json"));
    }

    #[tokio::test]
    async fn an_empty_commit_file_is_refused_with_its_name() {
        use arrow::array::{Int64Array, RecordBatch};
        use arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::new("ops", "t").unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let delta = lake
            .open_or_create(&name, &schema, &[], "test")
            .await
            .unwrap();
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        let delta = delta.write(vec![batch]).await.unwrap();
        assert!(lake.open(&name).await.is_ok());

        let file = dir
            .path()
            .join("ops/t/_delta_log/00000000000000000001.json");
        std::fs::write(&file, b"").unwrap();
        let error = lake.open(&name).await.unwrap_err().to_string();
        assert!(
            error.contains("00000000000000000001.json") && error.contains("empty"),
            "{error}"
        );
        let error = verify(&delta, &name, Some(0))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("00000000000000000001.json"), "{error}");
        let error = actions(&delta, &name, 1).await.unwrap_err().to_string();
        assert!(error.contains("empty"), "{error}");
    }
}
