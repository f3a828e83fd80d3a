//! Puts events to a stream with PutRecords: batches of up to 500 records and 5 MiB, partition
//! key = the event's `subject_id` (its `event_id`, or a hash of the bytes, when it has none),
//! failed records retried with backoff.
//!
//! Invariant (per-subject order): a batch holds at most one record per partition key, and a
//! record whose key is held back waits with every later record of that key, so a subject's
//! records get increasing sequence numbers in input order even when some puts fail.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use bytes::Bytes;

use super::client::Aws;
use super::shard::Backoff;
use crate::error::{Error, Result};

/// Records per PutRecords call (the service maximum).
const MAX_RECORDS: usize = 500;
/// Bytes per PutRecords call, data and keys (the service maximum).
const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Longest partition key the service accepts.
const MAX_KEY: usize = 256;
/// Put attempts of one record before giving up.
const MAX_ATTEMPTS: u32 = 10;

/// Totals of a put.
#[derive(Debug, Default, Clone)]
pub struct Put {
    /// Records the stream accepted.
    pub records: u64,
    /// PutRecords calls made, retries included.
    pub calls: u64,
    /// Record puts that failed and were tried again (a record retried twice counts twice).
    pub retried: u64,
}

/// The partition key of an NDJSON event line.
pub fn partition_key(line: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Keys<'a> {
        #[serde(borrow)]
        subject_id: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        event_id: Option<std::borrow::Cow<'a, str>>,
    }
    let keys = serde_json::from_slice::<Keys>(line).ok();
    let key = keys
        .and_then(|k| k.subject_id.or(k.event_id))
        .filter(|k| !k.is_empty())
        .map(|k| k.chars().take(MAX_KEY).collect::<String>());
    key.unwrap_or_else(|| format!("{:016x}", crate::source::file::fnv1a(line)))
}

/// Puts every line (one event each) to the stream, calling `progress` with the records put.
pub async fn put(
    aws: &Aws,
    lines: impl IntoIterator<Item = Bytes>,
    mut progress: impl FnMut(u64),
) -> Result<Put> {
    let mut pending: VecDeque<(String, Bytes, u32)> = lines
        .into_iter()
        .filter(|l| !l.trim_ascii().is_empty())
        .map(|l| (partition_key(&l), l, 0))
        .collect();
    let mut put = Put::default();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    while !pending.is_empty() {
        let batch = take_batch(&mut pending);
        let entries: Vec<PutRecordsRequestEntry> = batch
            .iter()
            .map(|(k, data, _)| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(data.to_vec()))
                    .partition_key(k)
                    .build()
                    .expect("data and key are set")
            })
            .collect();
        put.calls += 1;
        let sent = aws
            .client
            .put_records()
            .stream_name(&aws.stream)
            .set_records(Some(entries))
            .send()
            .await;
        let failed: Vec<bool> = match sent {
            Ok(out) => out
                .records()
                .iter()
                .map(|r| r.error_code().is_some())
                .collect(),
            Err(e) => {
                let e = super::client::classify(e);
                tracing::warn!(error = %e, "PutRecords failed; retrying the batch");
                vec![true; batch.len()]
            }
        };
        let mut retry = Vec::new();
        for ((key, data, attempts), failed) in batch.into_iter().zip(failed) {
            if failed {
                if attempts + 1 >= MAX_ATTEMPTS {
                    return Err(Error::Kinesis {
                        stream: aws.stream.clone(),
                        message: format!(
                            "a record with partition key {key:?} failed {MAX_ATTEMPTS} puts"
                        ),
                    });
                }
                retry.push((key, data, attempts + 1));
            } else {
                put.records += 1;
            }
        }
        if retry.is_empty() {
            backoff.reset();
        } else {
            put.retried += retry.len() as u64;
            // Failed records go first: no later record of their keys was sent.
            for r in retry.into_iter().rev() {
                pending.push_front(r);
            }
            tokio::time::sleep(backoff.wait()).await;
        }
        progress(put.records);
    }
    Ok(put)
}

/// Takes the next batch: input order, at most one record per key, within the call limits.
/// Records of a key already in the batch stay (in order) for the next one.
fn take_batch(pending: &mut VecDeque<(String, Bytes, u32)>) -> Vec<(String, Bytes, u32)> {
    /// How far past a held-back record to look for records of other keys.
    const LOOKAHEAD: usize = 4 * MAX_RECORDS;
    let mut batch = Vec::new();
    let mut keys = HashSet::new();
    let mut held = VecDeque::new();
    let mut bytes = 0;
    while let Some(item) = pending.pop_front() {
        let size = item.0.len() + item.1.len();
        if batch.len() == MAX_RECORDS || (bytes + size > MAX_BYTES && !batch.is_empty()) {
            pending.push_front(item);
            break;
        }
        if keys.contains(&item.0) {
            held.push_back(item);
            if held.len() >= LOOKAHEAD {
                break;
            }
            continue;
        }
        bytes += size;
        keys.insert(item.0.clone());
        batch.push(item);
    }
    while let Some(item) = held.pop_back() {
        pending.push_front(item);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_subject() {
        assert_eq!(
            partition_key(br#"{"subject_id":"u1","event_id":"e"}"#),
            "u1"
        );
        assert_eq!(partition_key(br#"{"event_id":"e9"}"#), "e9");
        assert_eq!(partition_key(b"not json").len(), 16);
    }

    #[test]
    fn a_batch_keeps_one_record_per_key_and_input_order_per_key() {
        let mut pending: VecDeque<(String, Bytes, u32)> = ["a", "a", "b", "a", "c", "b"]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), Bytes::from(i.to_string()), 0))
            .collect();
        let first = take_batch(&mut pending);
        let firsts: Vec<_> = first
            .iter()
            .map(|(k, d, _)| format!("{k}{}", String::from_utf8_lossy(d)))
            .collect();
        assert_eq!(firsts, ["a0", "b2", "c4"]);
        let rest: Vec<_> = pending
            .iter()
            .map(|(k, d, _)| format!("{k}{}", String::from_utf8_lossy(d)))
            .collect();
        assert_eq!(rest, ["a1", "a3", "b5"]);
        let second = take_batch(&mut pending);
        assert_eq!(second.len(), 2);
        assert_eq!(take_batch(&mut pending).len(), 1);
        assert!(pending.is_empty());
    }
}
