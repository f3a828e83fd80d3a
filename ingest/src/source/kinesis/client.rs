//! The Kinesis calls the consumer makes, behind a trait so the same consumer runs on the AWS
//! SDK ([`Aws`]) and on an in-process stream ([`super::memory::Memory`], for benchmarks and
//! tests).
//!
//! Invariant: errors are sorted into what the reader does next: back off ([`ReadError::Throttled`]),
//! get a fresh iterator ([`ReadError::Expired`]), or retry and eventually give up
//! ([`ReadError::Failed`]).

use std::future::Future;

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::ShardIteratorType;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// One shard as ListShards describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The shard id, e.g. `shardId-000000000000`; the checkpoint key of its records.
    pub id: String,
    /// The parent and the adjacent parent (after a merge), when they exist.
    pub parents: Vec<String>,
    /// Whether the shard was closed by a split or merge (it has an ending sequence number).
    pub closed: bool,
}

/// Where a reader starts in a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// At the oldest record still retained.
    TrimHorizon,
    /// Just after the newest record: only records put from now on.
    Latest,
    /// At the first record that arrived at or after this time.
    AtTimestamp(DateTime<Utc>),
    /// Just after this sequence number (the committed checkpoint).
    After(String),
}

/// A record read from a shard.
#[derive(Debug, Clone)]
pub struct KinesisRecord {
    /// The record's payload, as put.
    pub data: Bytes,
    /// Its sequence number: a decimal string, increasing within the shard.
    pub sequence: String,
    /// Approximate arrival time, milliseconds since the epoch.
    pub arrival_ms: Option<i64>,
}

/// One GetRecords answer.
#[derive(Debug, Default)]
pub struct Page {
    /// The records read, in shard order; may be empty even before the shard's tip.
    pub records: Vec<KinesisRecord>,
    /// `None` when the shard is closed and read to its end.
    pub next: Option<String>,
    /// `MillisBehindLatest`: how far this page is behind the shard's tip, in milliseconds
    /// (`0`: at the tip).
    pub behind_ms: Option<i64>,
    /// The children of a shard read to its end.
    pub children: Vec<String>,
}

/// Why a Kinesis call failed, by what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Over a throughput or rate limit (the service's message): back off and call again.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The shard iterator is too old to use: get a fresh one and read on.
    #[error("the shard iterator expired")]
    Expired,
    /// Any other failure, with the error and its context: retry, then give up.
    #[error("{0}")]
    Failed(String),
}

/// The calls the consumer needs.
pub trait Kinesis: Send + Sync + 'static {
    /// Every shard of the stream (following NextToken).
    fn shards(&self) -> impl Future<Output = Result<Vec<Shard>, ReadError>> + Send;
    /// A shard iterator at `start`.
    fn iterator(
        &self,
        shard: &str,
        start: &Start,
    ) -> impl Future<Output = Result<String, ReadError>> + Send;
    /// Up to `limit` records from `iterator`.
    fn read(
        &self,
        iterator: &str,
        limit: i32,
    ) -> impl Future<Output = Result<Page, ReadError>> + Send;
}

/// Kinesis through the AWS SDK, configured from the standard AWS environment.
#[derive(Clone)]
pub struct Aws {
    /// The SDK client every call goes through.
    pub client: aws_sdk_kinesis::Client,
    /// The stream's name (passed as `StreamName`).
    pub stream: String,
}

impl Aws {
    /// A client for `stream` from the standard AWS environment and config files
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS` for an emulator).
    pub async fn from_env(stream: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            client: aws_sdk_kinesis::Client::new(&config),
            stream: stream.to_owned(),
        }
    }
}

/// Sorts an SDK error by what to do about it.
pub fn classify<E>(error: SdkError<E>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.code() {
        Some(
            "ProvisionedThroughputExceededException"
            | "LimitExceededException"
            | "KMSThrottlingException"
            | "ThrottlingException",
        ) => ReadError::Throttled(error.message().unwrap_or_default().to_owned()),
        Some("ExpiredIteratorException") => ReadError::Expired,
        _ => ReadError::Failed(DisplayErrorContext(&error).to_string()),
    }
}

pub(super) fn millis(t: &aws_sdk_kinesis::primitives::DateTime) -> Option<i64> {
    t.to_millis().ok()
}

pub(super) fn record(r: &aws_sdk_kinesis::types::Record) -> KinesisRecord {
    KinesisRecord {
        data: Bytes::copy_from_slice(r.data().as_ref()),
        sequence: r.sequence_number().to_owned(),
        arrival_ms: r.approximate_arrival_timestamp().and_then(millis),
    }
}

impl Kinesis for Aws {
    async fn shards(&self) -> Result<Vec<Shard>, ReadError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // NextToken and StreamName are mutually exclusive.
            let call = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let out = call.send().await.map_err(classify)?;
            for s in out.shards() {
                shards.push(Shard {
                    id: s.shard_id().to_owned(),
                    parents: s
                        .parent_shard_id()
                        .into_iter()
                        .chain(s.adjacent_parent_shard_id())
                        .map(str::to_owned)
                        .collect(),
                    closed: s
                        .sequence_number_range()
                        .is_some_and(|r| r.ending_sequence_number().is_some()),
                });
            }
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(shards),
            }
        }
    }

    async fn iterator(&self, shard: &str, start: &Start) -> Result<String, ReadError> {
        let call = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(shard);
        let call = match start {
            Start::TrimHorizon => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Start::Latest => call.shard_iterator_type(ShardIteratorType::Latest),
            Start::AtTimestamp(t) => call
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(aws_sdk_kinesis::primitives::DateTime::from_millis(
                    t.timestamp_millis(),
                )),
            Start::After(seq) => call
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
        };
        let out = call.send().await.map_err(classify)?;
        out.shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| ReadError::Failed(format!("GetShardIterator for {shard} gave none")))
    }

    async fn read(&self, iterator: &str, limit: i32) -> Result<Page, ReadError> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        Ok(Page {
            records: out.records().iter().map(record).collect(),
            next: out.next_shard_iterator().map(str::to_owned),
            behind_ms: out.millis_behind_latest(),
            children: out
                .child_shards()
                .iter()
                .map(|c| c.shard_id().to_owned())
                .collect(),
        })
    }
}
