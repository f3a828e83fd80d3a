//! An in-process Kinesis stream: fixed shards (some closed, with children) holding records, read
//! through the same [`Kinesis`] trait as the real service. It measures the consumer without a
//! network peer and tests the shard graph logic.
//!
//! Invariant: sequence numbers are 56 decimal digits, increasing within a shard; a closed shard
//! read to its end answers `next: None` with its children, an open one keeps answering empty
//! pages at its end.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::client::{Kinesis, KinesisRecord, Page, ReadError, Shard, Start};

/// One shard's content.
#[derive(Debug, Clone)]
pub struct MemoryShard {
    /// How ListShards describes it (id, parents, closed).
    pub shard: Shard,
    /// Its records in sequence order, from the trim horizon.
    pub records: Vec<KinesisRecord>,
}

/// A stream held in memory.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    shards: BTreeMap<String, MemoryShard>,
}

/// A 56-digit sequence number for record `index` of shard number `shard`.
pub fn sequence(shard: usize, index: usize) -> String {
    format!("4959{shard:012}{index:040}")
}

impl Memory {
    /// Adds a shard holding `data` (one record each).
    pub fn add(&mut self, shard: Shard, data: impl IntoIterator<Item = Bytes>) {
        let n = self.shards.len();
        let records = data
            .into_iter()
            .enumerate()
            .map(|(i, data)| KinesisRecord {
                data,
                sequence: sequence(n, i),
                arrival_ms: None,
            })
            .collect();
        self.shards
            .insert(shard.id.clone(), MemoryShard { shard, records });
    }

    fn get(&self, id: &str) -> Result<&MemoryShard, ReadError> {
        self.shards
            .get(id)
            .ok_or_else(|| ReadError::Failed(format!("no shard {id}")))
    }
}

impl Kinesis for Memory {
    async fn shards(&self) -> Result<Vec<Shard>, ReadError> {
        Ok(self.shards.values().map(|s| s.shard.clone()).collect())
    }

    async fn iterator(&self, shard: &str, start: &Start) -> Result<String, ReadError> {
        let s = self.get(shard)?;
        let at = match start {
            Start::TrimHorizon | Start::AtTimestamp(_) => 0,
            Start::Latest => s.records.len(),
            Start::After(seq) => s.records.partition_point(|r| {
                crate::position::cmp(&r.sequence, seq) != std::cmp::Ordering::Greater
            }),
        };
        Ok(format!("{shard}/{at}"))
    }

    async fn read(&self, iterator: &str, limit: i32) -> Result<Page, ReadError> {
        let bad = || ReadError::Failed(format!("bad iterator {iterator:?}"));
        let (shard, at) = iterator.rsplit_once('/').ok_or_else(bad)?;
        let at: usize = at.parse().map_err(|_| bad())?;
        let s = self.get(shard)?;
        let end = (at + limit.max(1) as usize).min(s.records.len());
        let records = s.records[at.min(end)..end].to_vec();
        let finished = end == s.records.len() && s.shard.closed;
        let children = if finished {
            self.shards
                .values()
                .filter(|c| c.shard.parents.iter().any(|p| p == shard))
                .map(|c| c.shard.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Page {
            records,
            next: (!finished).then(|| format!("{shard}/{end}")),
            behind_ms: Some(if end == s.records.len() { 0 } else { 1 }),
            children,
        })
    }
}
