//! Typed configuration, parsed once: defaults, then an optional TOML file, then the command line.
//!
//! Invariant: every setting has a documented default, so a missing file is a valid configuration.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The whole configuration file (`--config FILE`). Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Lake URI; the command line and `EVENTLAKE_LAKE` take precedence.
    pub lake: Option<String>,
    /// The `[ingest]` section: flush triggers, de-duplication window, record size limit.
    pub ingest: IngestConfig,
    /// The `[maintain]` section: compaction target, retention, maintenance schedules.
    pub maintain: MaintainConfig,
    /// The `[catalog]` section: where analysts find the lake. When present, writers register
    /// each table they create or change in Glue (in a build with the `catalog` feature).
    pub catalog: Option<CatalogConfig>,
}

/// The Glue database the tables are registered in, and where Athena runs queries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// The Glue database (created by `catalog sync` if missing).
    pub database: String,
    /// The Athena workgroup queries and views run in.
    pub workgroup: String,
    /// `s3://…/` for Athena's result files; unset, the workgroup's own setting applies.
    pub results: Option<String>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            database: "eventlake".into(),
            workgroup: "primary".into(),
            results: None,
        }
    }
}

/// How `maintain` compacts and vacuums tables, and when `jobs schedule` runs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintainConfig {
    /// Compaction rewrites a partition's files smaller than this (MiB) into files of about
    /// this size.
    pub target_file_mib: u64,
    /// Vacuum deletes a file once no table version newer than this references it (and an
    /// untracked file once it is this old): `"7d"`, `"36h"`.
    #[serde(deserialize_with = "duration")]
    pub file_retention: Duration,
    /// The longest anything holds one table version while it reads or writes: a job run, a
    /// serving load, an ingest flush with its commit retries, a replay. The file retention
    /// must be at least this.
    #[serde(deserialize_with = "duration")]
    pub longest_read: Duration,
    /// Cron expression of the compaction (and log checkpoint) `jobs schedule` runs.
    pub compact_schedule: String,
    /// Cron expression of the vacuum `jobs schedule` runs.
    pub vacuum_schedule: String,
}

impl Default for MaintainConfig {
    fn default() -> Self {
        Self {
            target_file_mib: 128,
            file_retention: Duration::from_secs(7 * 24 * 3600),
            longest_read: Duration::from_secs(24 * 3600),
            compact_schedule: "15 * * * *".into(),
            vacuum_schedule: "45 3 * * *".into(),
        }
    }
}

/// A duration written the human way (`"7d"`, `"90m"`, `"2s"`).
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// How ingest buffers and de-duplicates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Flush when this many records are buffered.
    pub flush_records: usize,
    /// Flush when the buffered raw bytes reach this size.
    pub flush_bytes: usize,
    /// Flush when the oldest buffered record has waited this long, in milliseconds,
    /// even if nothing else arrives (a quiet source still lands).
    pub flush_age_ms: u64,
    /// A repeated `event_id` is caught when the two copies' event dates are at most this
    /// many days apart (0 = same UTC day only).
    pub dedup_window_days: u32,
    /// Largest accepted record, in bytes; larger ones are rejected as `too_large`.
    pub max_record_bytes: usize,
    /// zstd level of the Parquet files.
    pub zstd_level: i32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            flush_records: 250_000,
            flush_bytes: 128 * 1024 * 1024,
            flush_age_ms: 5_000,
            dedup_window_days: 1,
            max_record_bytes: 1024 * 1024,
            zstd_level: 3,
        }
    }
}

impl IngestConfig {
    /// The age trigger as a duration.
    pub fn flush_age(&self) -> Duration {
        Duration::from_millis(self.flush_age_ms)
    }
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| Error::ConfigParse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Reads the file if one is given, or returns the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        path.map_or_else(|| Ok(Self::default()), Self::from_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_file_keeps_defaults() {
        let config: Config = toml::from_str("[ingest]\nflush_records = 10\n").unwrap();
        assert_eq!(config.ingest.flush_records, 10);
        assert_eq!(config.ingest.flush_age_ms, 5_000);
    }

    #[test]
    fn durations_read_the_human_way() {
        let config: Config =
            toml::from_str("[maintain]\nfile_retention = \"36h\"\nlongest_read = \"90m\"\n")
                .unwrap();
        assert_eq!(
            config.maintain.file_retention,
            Duration::from_secs(36 * 3600)
        );
        assert_eq!(config.maintain.longest_read, Duration::from_secs(90 * 60));
        assert!(toml::from_str::<Config>("[maintain]\nfile_retention = \"soon\"\n").is_err());
    }

    #[test]
    fn unknown_key_is_an_error() {
        assert!(toml::from_str::<Config>("[ingest]\nflush_recs = 10\n").is_err());
    }
}
