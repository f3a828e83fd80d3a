//! Errors of the matching engine; each says what failed and on which input.

/// A matching failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The weights file is invalid (bad TOML, unknown model or sub-score, missing model, bad
    /// `top_k` or weight); the text says what is wrong, naming the model where there is one.
    #[error("matching configuration: {0}")]
    Config(String),
    /// A DataFusion query over the session's tables failed (planning or execution).
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// Converting record batches to rows, or rows to record batches, failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A row does not deserialise into the type the engine reads it as.
    #[error("cannot read row of {table}: {reason}")]
    Row {
        /// The table (or query source) the row came from, e.g. `silver.parties`.
        table: String,
        /// The deserialiser's message.
        reason: String,
    },
    /// The ground-truth file cannot be read or is not valid truth JSON.
    #[error("ground truth file {path}: {reason}")]
    Truth {
        /// The file as given.
        path: String,
        /// The I/O or JSON error.
        reason: String,
    },
}

/// A result whose error is a matching [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
