//! One polling reader per owned shard: GetRecords in a loop within the service limits, sending
//! what it reads to the consumer.
//!
//! Limits: at most [`CALLS_PER_SECOND`] GetRecords per shard; throttling backs off
//! exponentially with full jitter; an expired iterator is replaced by one just after the last
//! record read (or at the original start when nothing was read); other failures are retried
//! with the same backoff and reported after [`MAX_FAILURES`] in a row.
//!
//! Invariant: the records a reader sends are the shard's records after its start, in order,
//! each once; a reader stops at the shard's end (sending [`Message::Ended`]) or when aborted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Kinesis, KinesisRecord, ReadError, Start};
use crate::record::{Decoded, Record, decode};

/// GetRecords calls per second per shard allowed by the service.
pub const CALLS_PER_SECOND: u32 = 5;
/// Consecutive failures (other than throttling) after which a reader gives up.
pub const MAX_FAILURES: u32 = 10;
/// Records per GetRecords call (the service maximum).
const LIMIT: i32 = 10_000;
/// Wait after an empty page before asking again.
const IDLE: Duration = Duration::from_millis(250);

/// What readers tell the consumer. `epoch` identifies the reader, so that messages of a reader
/// the consumer has since replaced are ignored.
#[derive(Debug)]
pub enum Message {
    /// One GetRecords page, in shard order; sent even when empty, so the consumer sees the
    /// shard reach its tip.
    Records {
        /// The shard read.
        shard: Arc<str>,
        /// The epoch of the reader that read it.
        epoch: u64,
        /// Decoded in the reader (so decoding runs beside the consumer's commits and across
        /// shards); `seq` is left for the consumer to number.
        records: Vec<Decoded>,
        /// The page's `MillisBehindLatest` (`0`: at the shard's tip).
        behind_ms: Option<i64>,
    },
    /// The shard is closed and every record of it was sent.
    Ended {
        /// The shard that ended.
        shard: Arc<str>,
        /// The epoch of the reader that read it.
        epoch: u64,
        /// The shards that continue it (after a split or merge), by id.
        children: Vec<String>,
    },
    /// The reader gave up and stopped after [`MAX_FAILURES`] failed calls in a row (it never
    /// gives up on throttling).
    Failed {
        /// The shard the reader was reading.
        shard: Arc<str>,
        /// The epoch of the reader that gave up.
        epoch: u64,
        /// The last failure.
        error: String,
    },
}

/// Exponential backoff with full jitter, from `base` doubling up to `cap`. Throttling grows the
/// wait like any failure but never counts toward [`MAX_FAILURES`].
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    failures: u32,
}

impl Backoff {
    /// A backoff whose first wait is at most `base` and no wait exceeds `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
            failures: 0,
        }
    }

    /// The wait after `error`, or `None` when it is the failure (not throttling) that makes
    /// [`MAX_FAILURES`] in a row: time to give up.
    pub fn after(&mut self, error: &ReadError) -> Option<Duration> {
        if !matches!(error, ReadError::Throttled(_)) {
            if self.failures >= MAX_FAILURES {
                return None;
            }
            self.failures += 1;
        }
        Some(self.wait())
    }

    /// The next wait: uniform in `[0, min(cap, base·2^attempt)]`.
    pub fn wait(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << self.attempt.min(16))
            .min(self.cap);
        self.attempt += 1;
        ceiling.mul_f64(rand::random::<f64>())
    }

    /// Starts over from `base`, after a call that succeeded.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.failures = 0;
    }
}

/// Decodes and validates a page's records against the contracts.
pub fn decode_page(
    shard: &Arc<str>,
    records: Vec<KinesisRecord>,
    max_bytes: usize,
) -> Vec<Decoded> {
    let contracts = eventlake_lake::Contracts::builtin();
    records
        .into_iter()
        .map(|r| {
            let record = Record {
                bytes: r.data,
                key: shard.clone(),
                seq: None,
                position: r.sequence,
            };
            decode(record, contracts, max_bytes)
        })
        .collect()
}

/// Reads `shard` from `start` until its end, sending decoded pages to `tx`.
pub async fn poll<K: Kinesis>(
    kinesis: Arc<K>,
    shard: Arc<str>,
    epoch: u64,
    start: Start,
    max_bytes: usize,
    tx: mpsc::Sender<Message>,
) {
    let interval = Duration::from_secs(1) / CALLS_PER_SECOND;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    let mut start = start;
    let mut last: Option<String> = None;
    let mut iterator: Option<String> = None;
    let mut next_call = Instant::now();
    loop {
        let it = match iterator.take() {
            Some(it) => it,
            None => {
                let from = last.clone().map_or_else(|| start.clone(), Start::After);
                let asked = chrono::Utc::now();
                match kinesis.iterator(&shard, &from).await {
                    Ok(it) => {
                        // A fresh iterator later (after an expiry, nothing read yet) must not
                        // jump to the new tip: it starts where this one did.
                        if start == Start::Latest {
                            start = Start::AtTimestamp(asked);
                        }
                        it
                    }
                    Err(e) => {
                        if !wait_out(&mut backoff, &shard, "GetShardIterator", &e).await {
                            let _ = tx.send(failed(&shard, epoch, e)).await;
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        tokio::time::sleep_until(next_call).await;
        next_call = Instant::now() + interval;
        match kinesis.read(&it, LIMIT).await {
            Ok(page) => {
                backoff.reset();
                if let Some(r) = page.records.last() {
                    last = Some(r.sequence.clone());
                }
                // Empty pages too: they tell the consumer the shard is at its tip.
                let empty = page.records.is_empty();
                let message = Message::Records {
                    shard: shard.clone(),
                    epoch,
                    records: decode_page(&shard, page.records, max_bytes),
                    behind_ms: page.behind_ms,
                };
                if tx.send(message).await.is_err() {
                    return;
                }
                let Some(next) = page.next else {
                    let ended = Message::Ended {
                        shard: shard.clone(),
                        epoch,
                        children: page.children,
                    };
                    let _ = tx.send(ended).await;
                    return;
                };
                iterator = Some(next);
                if empty {
                    next_call = next_call.max(Instant::now() + IDLE);
                }
            }
            Err(ReadError::Expired) => {
                tracing::info!(%shard, "shard iterator expired; getting a fresh one");
            }
            Err(e) => {
                if !wait_out(&mut backoff, &shard, "GetRecords", &e).await {
                    let _ = tx.send(failed(&shard, epoch, e)).await;
                    return;
                }
                iterator = Some(it);
            }
        }
    }
}

/// Sleeps the backoff after a failed call; `false` when it is time to give up.
async fn wait_out(backoff: &mut Backoff, shard: &str, call: &str, error: &ReadError) -> bool {
    let Some(wait) = backoff.after(error) else {
        return false;
    };
    tracing::warn!(shard, call, %error, wait_ms = wait.as_millis() as u64, "backing off");
    tokio::time::sleep(wait).await;
    true
}

fn failed(shard: &Arc<str>, epoch: u64, error: ReadError) -> Message {
    Message::Failed {
        shard: shard.clone(),
        epoch,
        error: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 0..20 {
            let ceiling =
                Duration::from_millis(100 * (1 << attempt.min(4))).min(Duration::from_secs(1));
            assert!(b.wait() <= ceiling);
        }
        b.reset();
        assert!(b.wait() <= Duration::from_millis(100));
    }

    #[test]
    fn throttling_never_counts_toward_giving_up() {
        let mut b = Backoff::new(Duration::ZERO, Duration::ZERO);
        let throttled = ReadError::Throttled("slow down".into());
        let failed = ReadError::Failed("boom".into());
        for _ in 0..MAX_FAILURES - 1 {
            assert!(b.after(&failed).is_some());
        }
        for _ in 0..100 {
            assert!(b.after(&throttled).is_some());
        }
        assert!(b.after(&failed).is_some(), "the tenth failure still waits");
        assert!(b.after(&failed).is_none(), "the eleventh gives up");
        b.reset();
        assert!(b.after(&failed).is_some());
    }
}
