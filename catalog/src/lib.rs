//! The lake for analysts: every Delta table registered in the AWS Glue Data Catalog as a
//! native Delta table that Athena (engine v3) reads through the Delta log ([`glue`]), the
//! Delta schema in Hive types ([`hive`]), and queries and dashboard views run in Athena
//! ([`athena`]).
//!
//! Invariant: eventlake changes only Glue tables it created (marked with
//! [`glue::MANAGED`]), and a table's Glue columns are its Delta schema at the version synced.

#![warn(missing_docs)]

pub mod athena;
pub mod error;
pub mod glue;
pub mod hive;

pub use error::{Error, Result};

/// The AWS configuration from the standard environment (credentials, region, endpoints), as
/// the Kinesis code loads it.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
