//! Errors of the job runner. A definition error names the file; a run error names the job.

/// Result type of the jobs crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail while loading, planning or running jobs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("job definition {file}: {reason}")]
    Definition { file: String, reason: String },

    #[error("cannot read job definitions in {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },

    #[error("selector `{0}` names no job")]
    Selector(String),

    #[error("job {job}: {reason}")]
    Job { job: String, reason: String },

    #[error("data test {test}: {reason}")]
    DataTest { test: String, reason: String },

    #[error("Delta log of {table}, version {version}: {reason}")]
    Log {
        table: String,
        version: u64,
        reason: String,
    },

    #[error(transparent)]
    Lake(#[from] eventlake_lake::Error),

    #[error(transparent)]
    Transform(#[from] eventlake_transform::Error),

    #[error("query failed: {0}")]
    Query(#[from] Box<datafusion::error::DataFusionError>),

    #[error("Delta table {table}: {source}")]
    Delta {
        table: String,
        source: Box<deltalake::DeltaTableError>,
    },

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Query(Box::new(e))
    }
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
