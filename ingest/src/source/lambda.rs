//! The Lambda handler's core: one Kinesis event-source-mapping batch in, committed with each
//! shard's checkpoint, and the `batchItemFailures` answer out.
//!
//! Per shard of the batch, records at or before the committed sequence number are skipped (a
//! retried batch changes nothing); the rest get ordinals after the committed one, are validated,
//! and bad ones are quarantined as rejects (a poison record is committed to
//! `bronze.events_rejected` and never retried). If the commit fails, the answer names the first
//! record not committed in both tables, so the mapping retries from there.
//!
//! Invariant: the same as the polling consumer's, whose checkpoints it shares (source id
//! `kinesis:<stream>`): exactly once per record, given the mapping's parallelization factor of
//! 1 (one batch per shard at a time, in order).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use eventlake_lake::{IngestConfig, Lake};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ingestor::{Ingestor, Mark};
use crate::position;
use crate::record::{Record, decode_all};
use crate::report::Report;

/// The partial-batch answer Lambda reads (`ReportBatchItemFailures`).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// One entry per shard whose commit failed; empty when the whole batch is committed.
    pub batch_item_failures: Vec<ItemFailure>,
}

/// The first record of a shard that is not committed: the mapping retries the shard from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// The sequence number the mapping retries from.
    pub item_identifier: String,
}

/// The handler: one ingestor per stream, kept warm across invocations.
pub struct Handler {
    lake: Lake,
    config: IngestConfig,
    ingestors: HashMap<String, Ingestor>,
    /// Test hook: fail the next events commit (a transient storage failure).
    #[cfg(test)]
    fail_next: bool,
}

/// The stream name of an event source ARN (`arn:aws:kinesis:…:stream/NAME`).
fn stream(arn: &str) -> Option<&str> {
    arn.rsplit_once(":stream/").map(|(_, name)| name)
}

/// The shard of a record: its event id is `shardId-…:<sequence number>`.
fn shard(record: &KinesisEventRecord) -> Option<&str> {
    record.event_id.as_deref()?.split_once(':').map(|(s, _)| s)
}

/// Whether `record` comes after the committed `mark` (is not committed yet).
fn after(mark: &Mark, record: &KinesisEventRecord) -> bool {
    mark.position.as_deref().is_none_or(|p| {
        position::cmp(&record.kinesis.sequence_number, p) == std::cmp::Ordering::Greater
    })
}

impl Handler {
    /// A handler writing to `lake`; each stream's ingestor opens on its first batch.
    pub fn new(lake: Lake, config: IngestConfig) -> Self {
        Self {
            lake,
            config,
            ingestors: HashMap::new(),
            #[cfg(test)]
            fail_next: false,
        }
    }

    /// Handles one batch; `Err` only when the batch could not be read at all (then Lambda
    /// retries it whole).
    pub async fn handle(&mut self, event: KinesisEvent) -> Result<(BatchResponse, Report)> {
        let mut by_stream: BTreeMap<(String, String), Vec<KinesisEventRecord>> = BTreeMap::new();
        for record in event.records {
            let bad = |what: &str| Error::Kinesis {
                stream: record.event_source_arn.clone().unwrap_or_default(),
                message: format!("a Lambda record has no {what}"),
            };
            let name = stream(record.event_source_arn.as_deref().unwrap_or_default())
                .ok_or_else(|| bad("stream in eventSourceARN"))?
                .to_owned();
            let shard = shard(&record)
                .ok_or_else(|| bad("shard in eventID"))?
                .to_owned();
            by_stream.entry((name, shard)).or_default().push(record);
        }
        let mut response = BatchResponse::default();
        let mut report = Report::default();
        for ((name, shard), records) in by_stream {
            if let Some(failed) = self.shard(&name, &shard, records, &mut report).await? {
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: failed,
                });
            }
        }
        Ok((response, report))
    }

    /// Commits one shard's records; returns the sequence number to retry from on failure.
    async fn shard(
        &mut self,
        stream: &str,
        shard: &str,
        mut records: Vec<KinesisEventRecord>,
        report: &mut Report,
    ) -> Result<Option<String>> {
        let ingestor = match self.ingestors.get_mut(stream) {
            Some(i) => i,
            None => {
                let source_id = format!("kinesis:{stream}");
                let opened = Ingestor::open(&self.lake, &source_id, self.config.clone())
                    .await?
                    .with_positions();
                self.ingestors.entry(stream.to_owned()).or_insert(opened)
            }
        };
        #[cfg(test)]
        {
            ingestor.fail_events_commit = std::mem::take(&mut self.fail_next);
        }
        let key: Arc<str> = Arc::from(shard);
        ingestor.refresh(std::slice::from_ref(&key)).await?;
        records
            .sort_by(|a, b| position::cmp(&a.kinesis.sequence_number, &b.kinesis.sequence_number));
        let mark = ingestor.resume_mark(shard).await?;
        if mark.ended() {
            // Committed as ended by the consumer: nothing of this shard is new.
            report.already_committed += records.len() as u64;
            return Ok(None);
        }
        let fresh: Vec<Record> = records
            .iter()
            .filter(|r| after(&mark, r))
            .enumerate()
            .map(|(i, r)| Record {
                bytes: bytes::Bytes::from(r.kinesis.data.0.clone()),
                key: key.clone(),
                seq: Some(mark.seq.max(-1) + 1 + i as i64),
                position: r.kinesis.sequence_number.clone(),
            })
            .collect();
        report.already_committed += (records.len() - fresh.len()) as u64;
        if fresh.is_empty() {
            return Ok(None);
        }
        let decoded = decode_all(fresh, ingestor.contracts(), ingestor.max_record_bytes());
        let outcomes = ingestor.offer(decoded).await?;
        report.count(&outcomes);
        match ingestor.flush().await {
            Ok(flushed) => {
                report.flushed(&flushed);
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(stream, shard, error = %e.error, "commit failed; reporting the first record not committed");
                ingestor.refresh(std::slice::from_ref(&key)).await?;
                let mark = ingestor.resume_mark(shard).await?;
                let first = records
                    .iter()
                    .find(|r| after(&mark, r))
                    .map(|r| r.kinesis.sequence_number.clone());
                Ok(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(name: &str) -> KinesisEvent {
        let path = format!(
            "{}/tests/fixtures/{name}",
            std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    async fn count(lake: &Lake, table: &str) -> usize {
        let ctx = eventlake_lake::query::session(lake).await.unwrap();
        let b = ctx
            .sql(&format!("SELECT * FROM {table}"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        b.iter().map(|b| b.num_rows()).sum()
    }

    #[tokio::test]
    async fn retried_batches_poison_records_and_failed_commits() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let mut handler = Handler::new(lake.clone(), IngestConfig::default());

        // The first batch: four good events and a poison record (not JSON), committed.
        let (response, report) = handler.handle(batch("kinesis-batch-1.json")).await.unwrap();
        assert_eq!(response, BatchResponse::default());
        assert_eq!((report.accepted, report.rejected_total()), (4, 1));
        assert_eq!(count(&lake, "bronze.events").await, 4);
        assert_eq!(count(&lake, "bronze.events_rejected").await, 1);

        // The same batch again (the mapping retried it): nothing changes, nothing fails.
        let (response, report) = handler.handle(batch("kinesis-batch-1.json")).await.unwrap();
        assert_eq!(response, BatchResponse::default());
        assert_eq!(report.already_committed, 5);
        assert_eq!(count(&lake, "bronze.events").await, 4);
        assert_eq!(count(&lake, "bronze.events_rejected").await, 1);

        // The next batch hits a storage failure after its rejects committed: the answer names
        // its first record, the first one not committed in both tables.
        handler.fail_next = true;
        let second = batch("kinesis-batch-2.json");
        let first_seq = second.records[0].kinesis.sequence_number.clone();
        let (response, _) = handler.handle(second.clone()).await.unwrap();
        assert_eq!(
            response.batch_item_failures,
            [ItemFailure {
                item_identifier: first_seq
            }]
        );
        assert_eq!(count(&lake, "bronze.events").await, 4);
        assert_eq!(count(&lake, "bronze.events_rejected").await, 2);

        // The retry from that record lands the rest exactly once; the reject is not repeated.
        let (response, report) = handler.handle(second).await.unwrap();
        assert_eq!(response, BatchResponse::default());
        assert_eq!(report.accepted, 3);
        assert_eq!(count(&lake, "bronze.events").await, 7);
        assert_eq!(count(&lake, "bronze.events_rejected").await, 2);

        // A fresh handler (a cold start) sees the same checkpoints.
        let mut cold = Handler::new(lake.clone(), IngestConfig::default());
        let (_, report) = cold.handle(batch("kinesis-batch-2.json")).await.unwrap();
        assert_eq!(report.already_committed, 4);
        assert_eq!(count(&lake, "bronze.events").await, 7);
    }
}
