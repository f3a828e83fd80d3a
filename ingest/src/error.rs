//! Errors of ingest. Bad *records* are not errors (they become rejects); these are failures of
//! the pipeline itself: storage, commits, and sources.

use std::path::PathBuf;

/// Result type of the `ingest` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail in ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure of the shared core: configuration, contracts, opening a table.
    #[error(transparent)]
    Lake(#[from] eventlake_lake::Error),

    /// Writing a table's data files or committing them (or reading its log state) failed.
    #[error("commit to {table} failed: {source}")]
    Commit {
        /// The table written, e.g. `bronze.events`.
        table: String,
        /// The Delta error.
        source: Box<eventlake_lake::deltalake::DeltaTableError>,
    },

    /// Another writer moved a checkpoint of this source that this process relies on: two
    /// processes are ingesting the same source.
    #[error(
        "checkpoint of {source_id}/{key} in {table} moved to {committed} while this process \
         expected {expected}: another writer is ingesting the same source"
    )]
    CheckpointMoved {
        /// The table whose checkpoint moved.
        table: String,
        /// The source whose checkpoint it is.
        source_id: String,
        /// The checkpoint key within the source (a file, a shard).
        key: String,
        /// The `seq` this process last committed or read there (`-1`: none).
        expected: i64,
        /// The `seq` the table holds now.
        committed: i64,
    },

    /// Every try of a `bronze.events` commit lost the race for its version to another writer;
    /// nothing was committed to it.
    #[error(
        "{table}: other writers committed first {attempts} times in a row; the records stay \
         uncommitted and are offered again"
    )]
    Contended {
        /// The table contended for (`bronze.events`).
        table: String,
        /// Commit attempts made, every one lost to another writer.
        attempts: usize,
    },

    /// A data file another writer committed to `bronze.events` could not be read for the
    /// event ids the id set must catch up with.
    #[error(
        "reading the event ids of {file}, committed to bronze.events by another writer: {message}"
    )]
    ForeignFile {
        /// The data file's path as its `add` action names it.
        file: String,
        /// Why it could not be fetched or decoded.
        message: String,
    },

    /// A source position that cannot be split into `txn` versions (or stored parts that do
    /// not join into one): positions must be decimal numbers of at most 72 digits.
    #[error(
        "position {position:?} of {key} cannot be stored as a checkpoint: it must be a decimal \
         number of at most 72 digits"
    )]
    BadPosition {
        /// The checkpoint's `txn` app id (source id and key).
        key: String,
        /// The position as the source gave it, or the stored parts that do not decode.
        position: String,
    },

    /// A Kinesis call failed, or Kinesis (or a Lambda event) returned something unusable.
    #[error("Kinesis stream {stream}: {message}")]
    Kinesis {
        /// The stream's name or ARN.
        stream: String,
        /// What failed: the call (or shard) and its error, or what was missing.
        message: String,
    },

    /// A DynamoDB call on the Kinesis shard lease table failed.
    #[error("lease table {table}: {call} failed: {message}")]
    Leases {
        /// The DynamoDB operation, e.g. `PutItem` or `DescribeTable`.
        call: &'static str,
        /// The lease table's name.
        table: String,
        /// The SDK's error with its context, or what went wrong.
        message: String,
    },

    /// Reading an input file (or standard input) of the file source failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file read; `-` for standard input.
        path: PathBuf,
        /// What the open, seek or read failed with.
        source: std::io::Error,
    },

    /// An input is shorter than the byte offset its checkpoint records: it is not the input
    /// that was ingested, and resuming there would misread it.
    #[error(
        "{path} has {length} bytes but its checkpoint is at byte {offset}: the file was \
         truncated or replaced since it was ingested"
    )]
    FileShrank {
        /// The input file; `-` for standard input.
        path: PathBuf,
        /// Its current length in bytes (for standard input: the bytes it held before it ended).
        length: u64,
        /// The committed checkpoint: the byte offset ingestion reached.
        offset: i64,
    },

    /// A TCP listener (the HTTP collector's, the metrics endpoint's) could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address the listener was to bind.
        addr: std::net::SocketAddr,
        /// Why binding failed (address in use, permission denied, ...).
        source: std::io::Error,
    },

    /// Standard input was to be ingested without `--source-id`, so it has no checkpoint name.
    #[error(
        "reading standard input needs --source-id NAME: the name of its checkpoint, so that a \
         re-run of the same stream resumes and a different stream is not mistaken for it"
    )]
    StdinNeedsSourceId,

    /// A background task of the ingest (a reader or the server) ended without a result: it
    /// panicked or was cancelled.
    #[error("the ingest task stopped")]
    Stopped,
}

impl Error {
    pub(crate) fn commit(
        table: impl std::fmt::Display,
        source: eventlake_lake::deltalake::DeltaTableError,
    ) -> Self {
        Error::Commit {
            table: table.to_string(),
            source: Box::new(source),
        }
    }
}

/// Binds a TCP listener, naming the address on failure.
pub async fn listen(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })
}
