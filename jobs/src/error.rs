//! Errors of the job runner. A definition error names the file; a run error names the job.

/// Result type of the jobs crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail while loading, planning or running jobs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A job file, or the set of jobs, is invalid.
    #[error("job definition {file}: {reason}")]
    Definition {
        /// The job file, or `jobs` for a problem across files (a dependency cycle).
        file: String,
        /// What is wrong.
        reason: String,
    },

    /// The definitions directory or one of its files cannot be read.
    #[error("cannot read job definitions in {path}: {source}")]
    Read {
        /// The directory or file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A selector (`name`, `+name`, `name+`) matches no job; holds the selector as given.
    #[error("selector `{0}` names no job")]
    Selector(String),

    /// A job cannot be compiled, run or published.
    #[error("job {job}: {reason}")]
    Job {
        /// The job's name (the output table's, where only that is known).
        job: String,
        /// What went wrong.
        reason: String,
    },

    /// Another run of the job published to its output after this run read it; nothing was
    /// written (runs of one job overlapped).
    #[error(
        "job {output}: another run of this job published first; nothing written (runs overlapped)"
    )]
    Overlap {
        /// The output table.
        output: String,
    },

    /// A schedule of the configuration (`[maintain]`) is not a valid cron expression.
    #[error("schedule of {task}: {reason}")]
    Schedule {
        /// The scheduled task (`maintain:compact`, `maintain:vacuum`).
        task: String,
        /// Why the expression is refused.
        reason: String,
    },

    /// A data test cannot be turned into a query (its SQL does not render).
    #[error("data test {test}: {reason}")]
    DataTest {
        /// The test's name.
        test: String,
        /// What went wrong.
        reason: String,
    },

    /// An error of the shared core (lake, contracts, tables).
    #[error(transparent)]
    Lake(#[from] eventlake_lake::Error),

    /// An error decoding bronze payloads into a silver entity table.
    #[error(transparent)]
    Transform(#[from] eventlake_transform::Error),

    /// A DataFusion query failed to plan or run; boxed to keep `Error` small.
    #[error("query failed: {0}")]
    Query(#[from] Box<datafusion::error::DataFusionError>),

    /// A Delta operation on a table failed.
    #[error("Delta table {table}: {source}")]
    Delta {
        /// The table (`layer.name`).
        table: String,
        /// The deltalake error; boxed to keep `Error` small.
        source: Box<deltalake::DeltaTableError>,
    },

    /// An Arrow array or record batch operation failed.
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
