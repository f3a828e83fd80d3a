//! Amazon Kinesis Data Streams: the polling and enhanced fan-out consumer, DynamoDB shard
//! leases, and the PutRecords producer.
//!
//! A shard is a checkpoint key. A record's `seq` is its ordinal within the shard since the
//! first committed record, and its `position` its sequence number; both are committed with
//! the records (see [`crate::position`]). A closed shard read to its end is committed as
//! [`crate::ENDED`], which is what lets its children be read.

pub mod client;
pub mod consumer;
pub mod efo;
pub mod lease;
pub mod memory;
pub mod metrics;
pub mod producer;
pub mod shard;

pub use client::{Aws, Kinesis, Shard, Start};
pub use consumer::{KinesisInput, LeaseOptions, consume};
pub use metrics::Metrics;
