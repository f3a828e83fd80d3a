//! Errors of the shared core. Each variant names what failed and carries the thing it failed on.

use std::path::PathBuf;

/// Result type of the `lake` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail in the shared core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid lake URI `{uri}`: {reason}")]
    LakeUri { uri: String, reason: String },

    #[error("cannot read configuration file {path}: {source}")]
    ConfigRead {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid configuration file {path}: {source}")]
    ConfigParse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },

    #[error("invalid event contract {file}: {reason}")]
    Contract { file: String, reason: String },

    #[error("Delta table {table}: {source}")]
    Delta {
        table: String,
        source: Box<deltalake::DeltaTableError>,
    },

    #[error(
        "damaged Delta log of {table}: {file} {reason}; restore the file (from a backup or the \
         bucket's object versions) before this table is read or written again"
    )]
    DamagedLog {
        table: String,
        file: String,
        reason: String,
    },

    #[error("object store at {uri}: {source}")]
    Storage {
        uri: String,
        source: Box<object_store::Error>,
    },

    #[error("query failed: {0}")]
    Query(#[from] Box<datafusion::error::DataFusionError>),

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps a Delta error with the table it happened on.
    pub fn delta(table: impl std::fmt::Display, source: deltalake::DeltaTableError) -> Self {
        Error::Delta {
            table: table.to_string(),
            source: Box::new(source),
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Query(Box::new(e))
    }
}
