//! Errors of the matching engine; each says what failed and on which input.

/// A matching failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("matching configuration: {0}")]
    Config(String),
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot read row of {table}: {reason}")]
    Row { table: String, reason: String },
    #[error("ground truth file {path}: {reason}")]
    Truth { path: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
