//! The shared core of eventlake: configuration, where the lake lives, table names and schemas,
//! the event contracts and envelope, reason codes, one query session, and logging setup.
//! Every other crate depends on this one and on nothing beside it in the workspace.

#![warn(missing_docs)]

pub mod catalog;
pub mod commit;
pub mod config;
pub mod contracts;
pub mod envelope;
pub mod error;
pub mod log;
pub mod maintain;
pub mod query;
pub mod reason;
pub mod storage;
pub mod tables;
pub mod telemetry;

pub use config::{CatalogConfig, Config, IngestConfig, MaintainConfig};
pub use contracts::{Contract, Contracts};
pub use error::{Error, Result};
pub use reason::{Reason, Violation};
pub use storage::Lake;
pub use tables::TableName;

/// Re-exported so dependants use exactly the versions the lake is built with.
pub use deltalake;
