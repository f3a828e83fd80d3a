//! Errors of the shared core. Each variant names what failed and carries the thing it failed on.

use std::path::PathBuf;

/// Result type of the `lake` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail in the shared core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lake URI is neither a usable path nor a supported URL.
    #[error("invalid lake URI `{uri}`: {reason}")]
    LakeUri {
        /// The URI as given.
        uri: String,
        /// Why it is refused (unsupported scheme, no S3 support in this build, …).
        reason: String,
    },

    /// The configuration file cannot be read.
    #[error("cannot read configuration file {path}: {source}")]
    ConfigRead {
        /// The file named by `--config`.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },

    /// The configuration file is not valid TOML or has an unknown or mistyped key.
    #[error("invalid configuration file {path}: {source}")]
    ConfigParse {
        /// The file named by `--config`.
        path: PathBuf,
        /// The parse error, with its position in the file.
        source: Box<toml::de::Error>,
    },

    /// A contract file does not parse, is malformed, or repeats an event type.
    #[error("invalid event contract {file}: {reason}")]
    Contract {
        /// Name or path of the contract file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A Delta operation on a table failed.
    #[error("Delta table {table}: {source}")]
    Delta {
        /// The table (`layer.name`), or the lake root for a lake-wide operation.
        table: String,
        /// The deltalake error; boxed to keep `Error` small.
        source: Box<deltalake::DeltaTableError>,
    },

    /// A commit file a reader relies on is missing, empty or not JSON lines of Delta actions.
    #[error(
        "damaged Delta log of {table}: {file} {reason}; restore the file (from a backup or the \
         bucket's object versions) before this table is read or written again"
    )]
    DamagedLog {
        /// The table (`layer.name`).
        table: String,
        /// Full URL of the damaged commit file (`…/_delta_log/<20 digits>.json`).
        file: String,
        /// What is wrong with it (`is empty`, `is missing`, a parse error).
        reason: String,
    },

    /// A maintenance retention setting would delete files a reader may still need, or keep
    /// them longer than the log that marks them as garbage.
    #[error("unsafe retention for {table}: {reason}; change [maintain] in the configuration")]
    UnsafeRetention {
        /// The table (`layer.name`).
        table: String,
        /// Which bound is broken, with both values.
        reason: String,
    },

    /// An object store request (list, get, put, delete) failed.
    #[error("object store at {uri}: {source}")]
    Storage {
        /// URL of the lake root, table or object the request was for.
        uri: String,
        /// The object store error; boxed to keep `Error` small.
        source: Box<object_store::Error>,
    },

    /// A DataFusion query failed to plan or run; boxed to keep `Error` small.
    #[error("query failed: {0}")]
    Query(#[from] Box<datafusion::error::DataFusionError>),

    /// An Arrow array or record batch operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// A local file or directory cannot be read or created.
    #[error("I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
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
