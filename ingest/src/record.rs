//! A raw record as a source offers it, and its decoded form.
//!
//! A source position has two parts: a `key` naming an independently checkpointed stream
//! within the source (a Kinesis shard, the byte stream of a file) and a `seq`, a monotonically
//! increasing i64 within that key, stored as the Delta `txn` version. `position` is the
//! human-readable position stored beside each row (byte offset, sequence number).

use std::sync::Arc;

use bytes::Bytes;
use eventlake_lake::Contracts;
use eventlake_lake::envelope::{self, Hints};
use eventlake_lake::reason::{Reason, Violation};

/// One record offered to ingest.
#[derive(Debug, Clone)]
pub struct Record {
    /// The raw bytes, meant to be one JSON envelope (a line without its terminator, a
    /// Kinesis record's data).
    pub bytes: Bytes,
    /// Checkpoint key within the source.
    pub key: Arc<str>,
    /// Checkpoint value *after* this record; `None` for sources that cannot replay (HTTP),
    /// which rely on `event_id` de-duplication alone.
    pub seq: Option<i64>,
    /// Where the record sits in its source, stored with it.
    pub position: String,
}

/// An accepted envelope; `payload` is a slice of the record's bytes.
pub type Event = envelope::Event<Bytes>;

/// A record after the stateless part of ingest: decoding and contract validation.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The record as offered (its bytes cut to [`TOO_LARGE_PREFIX`] if it was too large).
    pub record: Record,
    /// The valid envelope, or why the record is rejected with what could still be read of
    /// it (for the reject row).
    pub outcome: Result<Event, (Violation, Hints)>,
}

/// Bytes of a record over the size limit kept in its reject row (with its length in the
/// message), so a huge record costs bounded memory and storage.
pub const TOO_LARGE_PREFIX: usize = 64 * 1024;

/// Decodes and validates a record. Pure and thread-safe, so sources may run it in parallel.
pub fn decode(record: Record, contracts: &Contracts, max_bytes: usize) -> Decoded {
    if record.bytes.len() > max_bytes {
        let length = record.bytes.len() as u64;
        return too_large(record, length, max_bytes);
    }
    let outcome = envelope::decode(&record.bytes, contracts)
        .map(|e| e.map_payload(|p| record.bytes.slice_ref(p.as_bytes())));
    Decoded { record, outcome }
}

/// A record of `length` bytes over the limit: rejected as `too_large`, keeping at most
/// [`TOO_LARGE_PREFIX`] of its bytes (a source skipping a huge line passes only its start).
pub fn too_large(mut record: Record, length: u64, max_bytes: usize) -> Decoded {
    let kept = record.bytes.len().min(TOO_LARGE_PREFIX);
    record.bytes.truncate(kept);
    let violation = Violation::new(
        Reason::TooLarge,
        format!(
            "record has {length} bytes, the limit is {max_bytes}; its first {kept} bytes are kept"
        ),
    );
    Decoded {
        record,
        outcome: Err((violation, Hints::default())),
    }
}

/// Decodes records on two threads: decoding is the most expensive step of ingest and
/// independent per record; order is kept.
pub fn decode_all(records: Vec<Record>, contracts: &Contracts, max_bytes: usize) -> Vec<Decoded> {
    if records.len() < 2048 {
        return records
            .into_iter()
            .map(|r| decode(r, contracts, max_bytes))
            .collect();
    }
    let mut first = records;
    let second = first.split_off(first.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            second
                .into_iter()
                .map(|r| decode(r, contracts, max_bytes))
                .collect::<Vec<_>>()
        });
        let mut decoded: Vec<Decoded> = first
            .into_iter()
            .map(|r| decode(r, contracts, max_bytes))
            .collect();
        decoded.extend(other.join().expect("decoding does not panic"));
        decoded
    })
}
