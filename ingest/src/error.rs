//! Errors of ingest. Bad *records* are not errors (they become rejects); these are failures of
//! the pipeline itself: storage, commits, and sources.

use std::path::PathBuf;

/// Result type of the `ingest` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lake(#[from] eventlake_lake::Error),

    #[error("commit to {table} failed: {source}")]
    Commit {
        table: String,
        source: Box<eventlake_lake::deltalake::DeltaTableError>,
    },

    #[error(
        "checkpoint of {source_id}/{key} in {table} moved to {committed} while this process \
         expected {expected}: another writer is ingesting the same source"
    )]
    CheckpointMoved {
        table: String,
        source_id: String,
        key: String,
        expected: i64,
        committed: i64,
    },

    #[error(
        "{table}: other writers committed first {attempts} times in a row; the records stay \
         uncommitted and are offered again"
    )]
    Contended { table: String, attempts: usize },

    #[error(
        "reading the event ids of {file}, committed to bronze.events by another writer: {message}"
    )]
    ForeignFile { file: String, message: String },

    #[error(
        "position {position:?} of {key} cannot be stored as a checkpoint: it must be a decimal \
         number of at most 72 digits"
    )]
    BadPosition { key: String, position: String },

    #[error("Kinesis stream {stream}: {message}")]
    Kinesis { stream: String, message: String },

    #[error("lease table {table}: {call} failed: {message}")]
    Leases {
        call: &'static str,
        table: String,
        message: String,
    },

    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{path} has {length} bytes but its checkpoint is at byte {offset}: the file was \
         truncated or replaced since it was ingested"
    )]
    FileShrank {
        path: PathBuf,
        length: u64,
        offset: i64,
    },

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },

    #[error(
        "reading standard input needs --source-id NAME: the name of its checkpoint, so that a \
         re-run of the same stream resumes and a different stream is not mistaken for it"
    )]
    StdinNeedsSourceId,

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
