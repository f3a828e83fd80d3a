//! Enhanced fan-out: a registered stream consumer receives each shard's records pushed over
//! SubscribeToShard (HTTP/2 event stream) instead of polling GetRecords.
//!
//! A subscription lasts at most five minutes; the reader then subscribes again just after the
//! last record it sent. Invariant: the same as the polling reader's: the records sent are the
//! shard's records after the start, in order, each once, then [`Message::Ended`] at a closed
//! shard's end.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use tokio::sync::mpsc;

use super::client::{self, Aws, Start};
use super::shard::{self, Backoff, Message};
use crate::error::{Error, Result};

/// A registered enhanced fan-out consumer.
#[derive(Clone)]
pub struct Fanout {
    client: aws_sdk_kinesis::Client,
    consumer_arn: String,
}

impl Fanout {
    /// Registers consumer `name` on the stream (or finds it registered) and waits until it is
    /// active.
    pub async fn register(aws: &Aws, name: &str) -> Result<Self> {
        let fail = |call: &str, e: String| Error::Kinesis {
            stream: aws.stream.clone(),
            message: format!("{call}: {e}"),
        };
        let summary = aws
            .client
            .describe_stream_summary()
            .stream_name(&aws.stream)
            .send()
            .await
            .map_err(|e| fail("DescribeStreamSummary", DisplayErrorContext(&e).to_string()))?;
        let stream_arn = summary
            .stream_description_summary()
            .map(|s| s.stream_arn().to_owned())
            .ok_or_else(|| fail("DescribeStreamSummary", "no stream description".into()))?;
        let registered = aws
            .client
            .register_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(name)
            .send()
            .await;
        match registered {
            Ok(_) => tracing::info!(consumer = name, "enhanced fan-out consumer registered"),
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => {
                return Err(fail(
                    "RegisterStreamConsumer",
                    DisplayErrorContext(&e).to_string(),
                ));
            }
        }
        for _ in 0..120 {
            let out = aws
                .client
                .describe_stream_consumer()
                .stream_arn(&stream_arn)
                .consumer_name(name)
                .send()
                .await
                .map_err(|e| {
                    fail(
                        "DescribeStreamConsumer",
                        DisplayErrorContext(&e).to_string(),
                    )
                })?;
            if let Some(d) = out.consumer_description()
                && *d.consumer_status() == ConsumerStatus::Active
            {
                return Ok(Self {
                    client: aws.client.clone(),
                    consumer_arn: d.consumer_arn().to_owned(),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(fail(
            "DescribeStreamConsumer",
            format!("consumer {name} did not become ACTIVE within 60 s"),
        ))
    }

    fn position(start: &Start) -> StartingPosition {
        let b = StartingPosition::builder();
        let b = match start {
            Start::TrimHorizon => b.r#type(ShardIteratorType::TrimHorizon),
            Start::Latest => b.r#type(ShardIteratorType::Latest),
            Start::AtTimestamp(t) => b.r#type(ShardIteratorType::AtTimestamp).timestamp(
                aws_sdk_kinesis::primitives::DateTime::from_millis(t.timestamp_millis()),
            ),
            Start::After(seq) => b
                .r#type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
        };
        b.build().expect("the type is set")
    }

    /// Reads `shard` from `start` through subscriptions until its end.
    pub async fn subscribe(
        self,
        shard: Arc<str>,
        epoch: u64,
        start: Start,
        max_bytes: usize,
        tx: mpsc::Sender<Message>,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let mut from = start;
        loop {
            let asked = chrono::Utc::now();
            let subscribed = self
                .client
                .subscribe_to_shard()
                .consumer_arn(&self.consumer_arn)
                .shard_id(shard.as_ref())
                .starting_position(Self::position(&from))
                .send()
                .await;
            let mut out = match subscribed {
                Ok(out) => {
                    // The next subscription starts where this one did, not at the new tip.
                    if from == Start::Latest {
                        from = Start::AtTimestamp(asked);
                    }
                    out
                }
                Err(e) => {
                    let e = client::classify(e);
                    let Some(wait) = backoff.after(&e) else {
                        let _ = tx
                            .send(Message::Failed {
                                shard: shard.clone(),
                                epoch,
                                error: format!("SubscribeToShard: {e}"),
                            })
                            .await;
                        return;
                    };
                    tracing::warn!(%shard, error = %e, wait_ms = wait.as_millis() as u64, "subscribe failed; backing off");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            loop {
                match out.event_stream.recv().await {
                    Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(ev))) => {
                        backoff.reset();
                        let records: Vec<_> = ev.records().iter().map(client::record).collect();
                        if let Some(r) = records.last() {
                            from = Start::After(r.sequence.clone());
                        } else if !ev.continuation_sequence_number().is_empty() {
                            from = Start::After(ev.continuation_sequence_number().to_owned());
                        }
                        let message = Message::Records {
                            shard: shard.clone(),
                            epoch,
                            records: shard::decode_page(&shard, records, max_bytes),
                            behind_ms: Some(ev.millis_behind_latest()),
                        };
                        if tx.send(message).await.is_err() {
                            return;
                        }
                        if !ev.child_shards().is_empty() {
                            let children = ev
                                .child_shards()
                                .iter()
                                .map(|c| c.shard_id().to_owned())
                                .collect();
                            let _ = tx
                                .send(Message::Ended {
                                    shard: shard.clone(),
                                    epoch,
                                    children,
                                })
                                .await;
                            return;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::debug!(%shard, "subscription ended; subscribing again");
                        break;
                    }
                    Err(e) => {
                        let wait = backoff.wait();
                        tracing::warn!(%shard, error = %DisplayErrorContext(&e), wait_ms = wait.as_millis() as u64, "subscription failed; subscribing again");
                        tokio::time::sleep(wait).await;
                        break;
                    }
                }
            }
        }
    }
}
