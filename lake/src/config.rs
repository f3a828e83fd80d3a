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
    fn unknown_key_is_an_error() {
        assert!(toml::from_str::<Config>("[ingest]\nflush_recs = 10\n").is_err());
    }
}
