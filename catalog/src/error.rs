//! Errors of the catalog and Athena, each with the table, query or call it happened on.

use std::error::Error as StdError;

/// What can go wrong registering tables or querying Athena.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the shared core (opening a table, reading its log).
    #[error(transparent)]
    Lake(#[from] eventlake_lake::Error),

    /// The lake is not on S3, where Glue and Athena can reach it.
    #[error("the catalog needs an s3:// lake (Athena reads tables from S3); this lake is {0}")]
    NotOnS3(String),

    /// A column's type has no Hive equivalent, or the table's protocol is one Athena cannot
    /// read.
    #[error("{table} cannot be registered for Athena: {reason}")]
    Unreadable {
        /// The table (`layer.name`).
        table: String,
        /// Which column or feature is the problem.
        reason: String,
    },

    /// A Glue or Athena call failed.
    #[error("{call}: {}", aws_smithy_cause(.source.as_ref()))]
    Aws {
        /// The call and what it was for (`GetTable lake.bronze_events`).
        call: String,
        /// The SDK error, with its cause chain.
        source: Box<dyn StdError + Send + Sync>,
    },

    /// A query ended FAILED or CANCELLED.
    #[error("Athena query {id} {state}: {reason}")]
    Query {
        /// The query execution id.
        id: String,
        /// `FAILED` or `CANCELLED`.
        state: String,
        /// Athena's state change reason.
        reason: String,
    },

    /// Athena's rows do not form a table (a row wider than the columns, say).
    #[error("the query's rows do not form a table: {0}")]
    Rows(#[from] arrow::error::ArrowError),
}

impl Error {
    /// Wraps an SDK error with the call it came from.
    pub fn aws(call: impl Into<String>, source: impl StdError + Send + Sync + 'static) -> Self {
        Error::Aws {
            call: call.into(),
            source: Box::new(source),
        }
    }
}

/// The error and its causes, as one line (the SDK's own `Display` is only "service error").
fn aws_smithy_cause(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
