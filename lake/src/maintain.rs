//! Table maintenance, through deltalake's own operations: compaction of partitions that hold
//! many small files (`optimize`), deletion of files no retained version needs (`vacuum`, full
//! mode, so files a crashed writer uploaded but never committed go too), and a log checkpoint
//! (with deltalake's expired-log cleanup).
//!
//! Invariant: maintenance never changes what a reader sees. Compaction commits
//! `dataChange=false` rewrites of files already in the table, so a writer committing beside it
//! conflicts only when both remove the same file (the loser retries or is reported, never half
//! applied). Vacuum deletes only files that no version newer than the file retention
//! references, and untracked files older than it; the retention is checked against what
//! readers hold and against the log retention before anything is deleted
//! ([`check_retention`]).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::checkpoints::{cleanup_metadata, create_checkpoint};
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::table::config::TablePropertiesExt as _;
use futures::TryStreamExt as _;

use crate::config::{Config, MaintainConfig};
use crate::error::{Error, Result};
use crate::storage::Lake;
use crate::tables::TableName;

/// Which steps a run performs; `jobs schedule` runs compaction and vacuum on their own crons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// Rewrite partitions' small files into files of about the target size.
    pub compact: bool,
    /// Delete files no retained version references.
    pub vacuum: bool,
    /// Write a log checkpoint when commits were added since the last one, and remove
    /// expired log files.
    pub checkpoint: bool,
}

impl Steps {
    /// Every step, in order: compact, vacuum, checkpoint.
    pub const ALL: Self = Self {
        compact: true,
        vacuum: true,
        checkpoint: true,
    };
}

/// Live files of one table version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Files {
    /// Number of data files.
    pub count: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// What one table's maintenance did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Report {
    /// The table.
    pub table: TableName,
    /// Live files before.
    pub before: Files,
    /// Live files after (equal to `before` in a dry run).
    pub after: Files,
    /// Partitions compacted (a dry run: that would be).
    pub partitions: u64,
    /// Files compaction removed from the table (a dry run: that it would rewrite).
    pub compacted: u64,
    /// Files vacuum deleted, counted on storage (a dry run: that it would delete).
    pub vacuumed: usize,
    /// Their total size in bytes.
    pub freed: u64,
    /// The version a checkpoint was written at, if one was.
    pub checkpoint: Option<u64>,
    /// Expired log files removed after the checkpoint.
    pub logs_removed: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Refuses a file retention that would delete files a reader may still need, or that Lite
/// vacuum could never catch up with.
///
/// - At least `longest_read`: a job, a serving load or an ingest retry holding a version
///   older than the retention would find its files gone.
/// - At most the table's log retention (`delta.logRetentionDuration`, 30 days by default):
///   once a tombstone has left the log, nothing records that its file is garbage, and time
///   travel to versions whose log is gone is impossible anyway.
pub fn check_retention(
    table: &TableName,
    delta: &DeltaTable,
    config: &MaintainConfig,
) -> Result<()> {
    let unsafe_retention = |reason: String| Error::UnsafeRetention {
        table: table.to_string(),
        reason,
    };
    let retention = config.file_retention;
    if retention < config.longest_read {
        return Err(unsafe_retention(format!(
            "file_retention {} is shorter than longest_read {}: a reader holding an older \
             version would find its files deleted",
            humantime::format_duration(retention),
            humantime::format_duration(config.longest_read),
        )));
    }
    let log = delta
        .snapshot()
        .map_err(|e| Error::delta(table, e))?
        .table_config()
        .log_retention_duration();
    if retention > log {
        return Err(unsafe_retention(format!(
            "file_retention {} is longer than the table's log retention {} \
             (delta.logRetentionDuration): removed files would outlive the log entries that \
             say they are garbage",
            humantime::format_duration(retention),
            humantime::format_duration(log),
        )));
    }
    Ok(())
}

/// Runs `steps` on one table. A dry run changes nothing and reports what a run would do.
pub async fn maintain(
    lake: &Lake,
    table: &TableName,
    config: &Config,
    steps: Steps,
    dry_run: bool,
) -> Result<Report> {
    let started = Instant::now();
    let zstd_level = config.ingest.zstd_level;
    let config = &config.maintain;
    let mut delta = lake.open(table).await?;
    if steps.vacuum {
        check_retention(table, &delta, config)?;
    }
    let before = files(&delta, table)?;
    let target = config.target_file_mib.max(1) * 1024 * 1024;
    let mut report = Report {
        table: table.clone(),
        before,
        after: before,
        partitions: 0,
        compacted: 0,
        vacuumed: 0,
        freed: 0,
        checkpoint: None,
        logs_removed: 0,
        elapsed: Duration::ZERO,
    };

    if steps.compact {
        let (partitions, small) = plan(&delta, table, target)?;
        if dry_run || partitions == 0 {
            report.partitions = partitions;
            report.compacted = small;
        } else {
            let (compacted, metrics) = delta
                .optimize()
                .with_type(OptimizeType::Compact)
                .with_target_size(NonZeroU64::new(target).expect("at least 1 MiB"))
                .with_writer_properties(writer_properties(zstd_level))
                .await
                .map_err(|e| Error::delta(table, e))?;
            delta = compacted;
            report.partitions = metrics.partitions_optimized;
            report.compacted = metrics.num_files_removed;
        }
    }

    if steps.vacuum {
        let retention = chrono::Duration::from_std(config.file_retention).map_err(|e| {
            Error::UnsafeRetention {
                table: table.to_string(),
                reason: e.to_string(),
            }
        })?;
        let vacuum = |delta: DeltaTable, dry_run: bool| {
            delta
                .vacuum()
                .with_mode(VacuumMode::Full)
                .with_retention_period(retention)
                // `check_retention` replaced deltalake's check against
                // `delta.deletedFileRetentionDuration`.
                .with_enforce_retention_duration(false)
                .with_dry_run(dry_run)
        };
        // Vacuum names expired tombstones again after their files are gone: only what is
        // still on storage counts, and a run with nothing left to delete commits nothing.
        let before = stored(&delta).await?;
        let (_, planned) = vacuum(delta.clone(), true)
            .await
            .map_err(|e| Error::delta(table, e))?;
        let doomed: Vec<&str> = planned
            .files_deleted
            .iter()
            .map(String::as_str)
            .filter(|p| before.contains_key(*p))
            .collect();
        if dry_run || doomed.is_empty() {
            report.vacuumed = doomed.len();
            report.freed = doomed.iter().map(|p| before[*p]).sum();
        } else {
            let (vacuumed, _) = vacuum(delta, false)
                .await
                .map_err(|e| Error::delta(table, e))?;
            delta = vacuumed;
            let left = stored(&delta).await?;
            for (path, size) in &before {
                if !left.contains_key(path) {
                    report.vacuumed += 1;
                    report.freed += size;
                }
            }
        }
    }

    if !dry_run {
        // The version every step above left: its files, then its checkpoint.
        delta
            .update_state()
            .await
            .map_err(|e| Error::delta(table, e))?;
        report.after = files(&delta, table)?;
    }

    if steps.checkpoint && !dry_run {
        let version = delta.version().unwrap_or_default();
        if crate::log::last_checkpoint_of(&delta).await < version as i64 {
            create_checkpoint(&delta, None)
                .await
                .map_err(|e| Error::delta(table, e))?;
            report.checkpoint = Some(version);
            let expire = delta
                .snapshot()
                .map_err(|e| Error::delta(table, e))?
                .table_config()
                .enable_expired_log_cleanup();
            if expire {
                report.logs_removed = cleanup_metadata(&delta, None)
                    .await
                    .map_err(|e| Error::delta(table, e))?;
            }
        }
    }

    report.elapsed = started.elapsed();
    tracing::info!(
        %table,
        dry_run,
        files_before = report.before.count,
        files_after = report.after.count,
        vacuumed = report.vacuumed,
        ms = report.elapsed.as_millis() as u64,
        "maintained"
    );
    Ok(report)
}

/// The live files of the table's loaded version.
fn files(delta: &DeltaTable, table: &TableName) -> Result<Files> {
    let snapshot = delta.snapshot().map_err(|e| Error::delta(table, e))?;
    let mut files = Files::default();
    for file in snapshot.log_data().iter() {
        files.count += 1;
        files.bytes += file.size().max(0) as u64;
    }
    Ok(files)
}

/// Every data file on storage below the table (the log excluded), by path relative to the
/// table root, with its size: live, removed and never committed alike.
async fn stored(delta: &DeltaTable) -> Result<HashMap<String, u64>> {
    let store = delta.log_store().object_store(None);
    let objects: Vec<deltalake::ObjectMeta> =
        store
            .list(None)
            .try_collect()
            .await
            .map_err(|source| Error::Storage {
                uri: delta.table_url().to_string(),
                source: Box::new(source),
            })?;
    Ok(objects
        .into_iter()
        .filter(|o| !o.location.as_ref().starts_with("_delta_log/"))
        .map(|o| (o.location.to_string(), o.size))
        .collect())
}

/// The partitions compaction would rewrite and how many files: a partition qualifies when it
/// holds at least two files smaller than the target (deltalake leaves single files alone).
fn plan(delta: &DeltaTable, table: &TableName, target: u64) -> Result<(u64, u64)> {
    let snapshot = delta.snapshot().map_err(|e| Error::delta(table, e))?;
    let mut small: HashMap<Vec<(String, Option<String>)>, u64> = HashMap::new();
    for file in snapshot.log_data().iter() {
        if (file.size().max(0) as u64) < target {
            let mut key: Vec<_> = file.partition_values_map().into_iter().collect();
            key.sort();
            *small.entry(key).or_default() += 1;
        }
    }
    let partitions = small.values().filter(|n| **n >= 2).count() as u64;
    let files = small.values().filter(|n| **n >= 2).sum();
    Ok((partitions, files))
}

/// The same Parquet settings ingest writes with (zstd at its level, 256 Ki rows per row group).
fn writer_properties(zstd_level: i32) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(zstd_level).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(256 * 1024))
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// A table `t.small` with `files` one-row files in one partition.
    async fn small_files(lake: &Lake, files: i64) -> DeltaTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("p", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let name = TableName::new("t", "small").unwrap();
        let mut delta = lake
            .open_or_create(&name, &schema, &["p"], "test")
            .await
            .unwrap();
        for v in 0..files {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![1])),
                    Arc::new(Int64Array::from(vec![v])),
                ],
            )
            .unwrap();
            delta = delta.write(vec![batch]).await.unwrap();
        }
        delta
    }

    fn config(retention_secs: u64, longest_read_secs: u64) -> Config {
        let mut config = Config::default();
        config.maintain.file_retention = Duration::from_secs(retention_secs);
        config.maintain.longest_read = Duration::from_secs(longest_read_secs);
        config
    }

    #[tokio::test]
    async fn retention_shorter_than_a_read_or_longer_than_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let delta = small_files(&lake, 1).await;
        let name = TableName::new("t", "small").unwrap();
        let day = 24 * 3600;
        let short = check_retention(&name, &delta, &config(3600, day).maintain);
        assert!(
            matches!(short, Err(Error::UnsafeRetention { .. })),
            "{short:?}"
        );
        let long = check_retention(&name, &delta, &config(31 * day, day).maintain);
        assert!(long.unwrap_err().to_string().contains("log retention"));
        check_retention(&name, &delta, &config(7 * day, day).maintain).unwrap();
        // Nothing is touched when the check fails.
        let refused = maintain(&lake, &name, &config(60, day), Steps::ALL, false).await;
        assert!(refused.is_err());
        assert_eq!(lake.open(&name).await.unwrap().version(), delta.version());
    }

    #[tokio::test]
    async fn a_dry_run_reports_and_changes_nothing_and_a_run_compacts_and_keeps_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let delta = small_files(&lake, 12).await;
        let name = TableName::new("t", "small").unwrap();
        let dry = maintain(&lake, &name, &config(0, 0), Steps::ALL, true)
            .await
            .unwrap();
        assert_eq!((dry.partitions, dry.compacted, dry.vacuumed), (1, 12, 0));
        assert_eq!(dry.after, dry.before);
        assert_eq!(lake.open(&name).await.unwrap().version(), delta.version());

        let run = maintain(&lake, &name, &config(0, 0), Steps::ALL, false)
            .await
            .unwrap();
        assert_eq!((run.before.count, run.after.count), (12, 1));
        assert_eq!(run.vacuumed, 12);
        assert!(run.checkpoint.is_some());
        let ctx = crate::query::session(&lake).await.unwrap();
        let rows = ctx
            .sql("SELECT count(*) AS n, sum(v) AS s FROM t.small")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        assert!(text.contains("| 12 | 66 |"), "{text}");
        // Already compact: a second run rewrites nothing.
        let again = maintain(&lake, &name, &config(0, 0), Steps::ALL, false)
            .await
            .unwrap();
        assert_eq!(
            (again.compacted, again.vacuumed, again.checkpoint),
            (0, 0, None)
        );
    }
}
