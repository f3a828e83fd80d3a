//! The one ingest path every source feeds: classify decoded records (accepted, rejected,
//! duplicate, already committed), buffer them, and flush on count, size or age into one Delta
//! commit per table that carries the source checkpoint with the data.
//!
//! ```text
//!  Decoded ──► already committed? ──yes──► skip (replay after a crash)
//!     │no
//!     ├─ invalid ─────────────► rejected rows ─┐
//!     ├─ duplicate event_id ──► rejected rows ─┤ flush: 1. commit bronze.events_rejected + txn
//!     └─ valid ───────────────► event rows ────┘        2. commit bronze.events + txn
//! ```
//!
//! Invariant (exactly once): for each checkpoint key, the `txn` version committed in a table
//! is the `seq` after the last record of that key whose row for *that table* is committed.
//! Rejects are committed before events, so after a crash between the two commits the
//! rejected checkpoint is ahead; replay starts at the lower one and each table skips the
//! records at or below its own checkpoint. Classification is deterministic given the
//! committed tables, so a replayed record lands in the same table it would have.
//!
//! Invariant (one copy across writers): the `bronze.events` commit lands exactly on the version
//! the id set was caught up to ([`Seen::catch_up`]); when another writer commits first, the set
//! catches up with that commit, accepted records it now holds move to the rejects as
//! `duplicate_event_id` ([`Flushed::late`]), and the commit is tried again on top.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use bytes::Bytes;
use eventlake_lake::commit::lost_race;
use eventlake_lake::deltalake::DeltaTable;
use eventlake_lake::deltalake::kernel::transaction::CommitBuilder;
use eventlake_lake::deltalake::kernel::{Action, Transaction};
use eventlake_lake::deltalake::parquet::basic::{Compression, ZstdLevel};
use eventlake_lake::deltalake::parquet::file::properties::WriterProperties;
use eventlake_lake::deltalake::protocol::{DeltaOperation, SaveMode};
use eventlake_lake::deltalake::writer::{DeltaWriter, RecordBatchWriter};
use eventlake_lake::envelope::Hints;
use eventlake_lake::reason::{Reason, Violation};
use eventlake_lake::{Contracts, IngestConfig, Lake, TableName, tables};
use tracing::{debug, info};

use crate::buffer::{EventRows, Origin, RejectedRows};
use crate::error::{Error, Result};
use crate::position;
use crate::record::{Decoded, Record};
use crate::replay;
use crate::seen::{Fingerprint, Seen, fingerprint};

/// What happened to one offered record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Buffered for `bronze.events`.
    Accepted,
    /// Buffered for `bronze.events_rejected` with this reason (`DuplicateEventId` for repeats).
    Rejected(Reason),
    /// Already committed by an earlier run; nothing to do.
    AlreadyCommitted,
}

/// Totals of one flush.
#[derive(Debug, Clone, Default)]
pub struct Flushed {
    /// Rows committed to `bronze.events`.
    pub events: usize,
    /// Rows committed to `bronze.events_rejected`: invalid records, duplicates, and the
    /// [`late`](Self::late) ones.
    pub rejected: usize,
    /// The `bronze.events` version this flush committed, if it committed there.
    pub events_version: Option<i64>,
    /// The `bronze.events_rejected` version of this flush's checkpoint commit, if it made one
    /// (rows moved there after a lost race are committed on their own, later).
    pub rejected_version: Option<i64>,
    /// Records offered as [`Outcome::Accepted`] that were filed as `duplicate_event_id`
    /// instead, because another writer committed their id first: ordinals among this flush's
    /// accepted records, in the order they were offered.
    pub late: Vec<usize>,
}

/// A failed flush. `rejected_durable` says whether the rejects were committed before the
/// failure (then only the events must be offered again); `late` names the accepted records
/// already filed as duplicates of another writer's commit (as in [`Flushed::late`]: stored).
#[derive(Debug)]
pub struct FlushError {
    /// Whether the `bronze.events_rejected` commit (with its checkpoints) landed before the
    /// failure.
    pub rejected_durable: bool,
    /// Ordinals among the flush's accepted records that were committed as duplicates of
    /// another writer's rows, in offer order.
    pub late: Vec<usize>,
    /// What failed.
    pub error: Error,
}

impl From<FlushError> for Error {
    fn from(e: FlushError) -> Self {
        e.error
    }
}

/// A key's checkpoint in one table: the `seq` of the last committed record (`-1`: none;
/// [`ENDED`]: the source said the key has ended) and, for sources that resume by position,
/// that record's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The `seq` of the last committed record of the key; `-1` if none, [`ENDED`] if ended.
    pub seq: i64,
    /// That record's source position (e.g. a Kinesis sequence number); `None` for sources
    /// that resume by `seq` alone, and before any record is committed.
    pub position: Option<Arc<str>>,
}

/// The `seq` of a key its source declared finished (a closed Kinesis shard read to its end).
pub const ENDED: i64 = i64::MAX;

impl Mark {
    const NONE: Mark = Mark {
        seq: -1,
        position: None,
    };

    /// Whether the key was declared finished.
    pub fn ended(&self) -> bool {
        self.seq == ENDED
    }
}

/// Committed checkpoint of one key in each table.
#[derive(Debug, Clone)]
struct Committed {
    events: Mark,
    rejected: Mark,
    /// When the rejected mark is ahead (a flush failed between its two commits): the
    /// positions of this key's `duplicate_event_id` rows committed in that gap, so a replayed
    /// duplicate is skipped only if its row is there ([`replay`]).
    filed: Option<Arc<HashSet<Box<str>>>>,
}

/// Lost races for one `bronze.events` commit before the flush gives up (the source retries).
const MAX_RACES: usize = 15;

/// A bronze table and its Parquet writer.
struct Table {
    name: TableName,
    delta: DeltaTable,
    writer: RecordBatchWriter,
    properties: WriterProperties,
    /// The version up to which the log's commit files were checked.
    checked: i64,
}

impl Table {
    async fn open(lake: &Lake, name: TableName, config: &IngestConfig) -> Result<Self> {
        let (schema, partition, description) = if name == TableName::events() {
            (
                tables::events_schema(),
                tables::EVENTS_PARTITION,
                "Every accepted event, exactly once.",
            )
        } else {
            (
                tables::rejected_schema(),
                tables::REJECTED_PARTITION,
                "Every record that was not accepted, with its raw bytes and reason.",
            )
        };
        let delta = lake
            .open_or_create(&name, &schema, &[partition], description)
            .await?;
        let level = ZstdLevel::try_new(config.zstd_level).unwrap_or_default();
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(256 * 1024))
            .build();
        let writer = Self::writer(&delta, &name, &properties)?;
        let checked = delta.version().map_or(-1, |v| v as i64);
        Ok(Self {
            name,
            delta,
            writer,
            properties,
            checked,
        })
    }

    /// The table's current version (`-1` before the first commit).
    fn version(&self) -> i64 {
        self.delta.version().map_or(-1, |v| v as i64)
    }

    /// The committed checkpoint of `app_id` (`-1` if none). Borrows only the Delta table:
    /// the writer is not `Sync`, so a borrow of the whole `Table` may not cross an await.
    async fn checkpoint(delta: &DeltaTable, name: &TableName, app_id: &str) -> Result<i64> {
        Ok(Self::txn(delta, name, app_id).await?.unwrap_or(-1))
    }

    async fn txn(delta: &DeltaTable, name: &TableName, app_id: &str) -> Result<Option<i64>> {
        eventlake_lake::commit::transaction_version(delta, app_id)
            .await
            .map_err(|e| Error::commit(name, e))
    }

    /// The committed mark of `app_id`, with its position when `positions` is set.
    async fn mark(
        delta: &DeltaTable,
        name: &TableName,
        app_id: &str,
        positions: bool,
    ) -> Result<Mark> {
        let seq = Self::checkpoint(delta, name, app_id).await?;
        if !positions || seq < 0 {
            return Ok(Mark {
                seq,
                position: None,
            });
        }
        let mut parts = [0; position::PARTS];
        for (i, part) in parts.iter_mut().enumerate() {
            match Self::txn(delta, name, &position::app_id(app_id, i)).await? {
                Some(v) => *part = v,
                None => {
                    return Ok(Mark {
                        seq,
                        position: None,
                    });
                }
            }
        }
        let position = position::decode(parts).ok_or_else(|| Error::BadPosition {
            key: app_id.to_owned(),
            position: format!("{parts:?}"),
        })?;
        Ok(Mark {
            seq,
            position: Some(position.into()),
        })
    }

    fn writer(
        delta: &DeltaTable,
        name: &TableName,
        properties: &WriterProperties,
    ) -> Result<RecordBatchWriter> {
        Ok(RecordBatchWriter::for_table(delta)
            .map_err(|e| Error::commit(name, e))?
            .with_writer_properties(properties.clone()))
    }

    /// Writes `batch` (if any rows) as Parquet files and returns their `add` actions. The
    /// files are invisible until a commit references them.
    async fn write(&mut self, batch: Option<RecordBatch>) -> Result<Vec<Action>> {
        let result = self.write_files(batch).await;
        if result.is_err() {
            self.replace_writer()?;
        }
        result
    }

    async fn write_files(&mut self, batch: Option<RecordBatch>) -> Result<Vec<Action>> {
        let fail = |e| Error::commit(&self.name, e);
        if let Some(batch) = batch {
            self.writer.write(batch).await.map_err(fail)?;
        }
        Ok(self
            .writer
            .flush()
            .await
            .map_err(fail)?
            .into_iter()
            .map(Action::Add)
            .collect())
    }

    /// Commits `adds` with the given checkpoints on top of the loaded version. With `exact`,
    /// the commit lands right after that version or not at all ([`Landed::Lost`]: another
    /// writer committed first); otherwise deltalake's conflict check may move it later.
    async fn commit(
        &mut self,
        adds: Vec<Action>,
        txns: Vec<Transaction>,
        metadata: serde_json::Map<String, serde_json::Value>,
        exact: bool,
    ) -> Result<Landed> {
        let result = self.commit_actions(adds, txns, metadata, exact).await;
        if result.is_err() {
            self.replace_writer()?;
        }
        result
    }

    async fn commit_actions(
        &mut self,
        adds: Vec<Action>,
        txns: Vec<Transaction>,
        metadata: serde_json::Map<String, serde_json::Value>,
        exact: bool,
    ) -> Result<Landed> {
        let fail = |e| Error::commit(&self.name, e);
        let snapshot = self.delta.snapshot().map_err(fail)?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(snapshot.metadata().partition_columns().to_vec()),
            predicate: None,
        };
        let mut properties = eventlake_lake::commit::properties()
            .with_application_transactions(txns)
            .with_metadata(metadata);
        if exact {
            properties = properties.with_max_retries(0);
        }
        let committed = CommitBuilder::from(properties)
            .with_actions(adds)
            .build(Some(snapshot), self.delta.log_store(), operation)
            .await;
        let version = match committed {
            Ok(finalized) => finalized.version() as i64,
            Err(e) if exact && lost_race(&e) => return Ok(Landed::Lost),
            Err(e) => return Err(fail(e)),
        };
        self.delta.update_state().await.map_err(fail)?;
        Ok(Landed::At(version))
    }

    /// A fresh writer, so nothing of a failed window leaks into the next.
    fn replace_writer(&mut self) -> Result<()> {
        self.writer = Self::writer(&self.delta, &self.name, &self.properties)?;
        Ok(())
    }

    /// Loads the latest version, refusing commit files that are empty or unparsable.
    async fn update(&mut self) -> Result<()> {
        self.delta
            .update_state()
            .await
            .map_err(|e| Error::commit(&self.name, e))?;
        eventlake_lake::log::verify(&self.delta, &self.name, Some(self.checked)).await?;
        self.checked = self.version();
        Ok(())
    }
}

/// Where an exact commit went.
enum Landed {
    At(i64),
    /// Another writer committed at the version this commit needed.
    Lost,
}

/// Buffered, not yet committed state.
#[derive(Default)]
struct Pending {
    events: EventRows,
    rejected: RejectedRows,
    /// The accepted records, in the order of the event rows.
    accepted: Vec<Accepted>,
    /// Ordinals in `accepted` of records another writer committed first (found by a catch-up
    /// after they were accepted): they are filed as duplicates at the flush.
    late: BTreeSet<usize>,
    /// Highest `seq` and its position, per key, among the buffered records.
    seq: BTreeMap<Arc<str>, (i64, String)>,
    bytes: usize,
    since: Option<Instant>,
}

/// An accepted record: its id (to forget if the commit fails) and its raw bytes (for the
/// reject row, should another writer commit the same id first).
struct Accepted {
    date: i32,
    id: Fingerprint,
    raw: Bytes,
}

impl Pending {
    fn records(&self) -> usize {
        self.events.len() + self.rejected.len()
    }

    /// Marks the accepted records whose ids another writer committed; returns the newly
    /// marked.
    fn recheck(&mut self, foreign: &Seen) -> Vec<usize> {
        if foreign.is_empty() {
            return Vec::new();
        }
        let mut newly = Vec::new();
        for (i, a) in self.accepted.iter().enumerate() {
            if foreign.contains(a.date, a.id) && self.late.insert(i) {
                newly.push(i);
            }
        }
        newly
    }
}

/// Marks the pending records another writer committed first as late, and forgets their own
/// entry in the id set: the id is known at the other writer's event date instead.
fn recheck(pending: &mut Pending, seen: &mut Seen, foreign: &Seen) {
    for i in pending.recheck(foreign) {
        let a = &pending.accepted[i];
        if !foreign.holds(a.date, a.id) {
            seen.remove(a.date, a.id);
        }
    }
}

/// Event rows on their way to a commit, with the ordinal (in [`Pending::accepted`]) of each,
/// and the late ones moved to the rejects so far.
struct Staged {
    batch: Option<RecordBatch>,
    ordinals: Vec<usize>,
    /// Ordinals moved to the rejects, in the order they moved.
    moved: Vec<usize>,
    /// How many of `moved` have their reject row committed.
    filed: usize,
}

impl Staged {
    /// The late ordinals whose reject rows are committed, in order.
    fn filed(&self) -> Vec<usize> {
        let mut filed = self.moved[..self.filed].to_vec();
        filed.sort_unstable();
        filed
    }

    /// Moves the rows marked late out of the batch, as `duplicate_event_id` rejects.
    /// Returns how many moved.
    fn move_late(&mut self, pending: &Pending, into: &mut RejectedRows, source_id: &str) -> usize {
        let Some(batch) = &self.batch else { return 0 };
        let keep: Vec<bool> = self
            .ordinals
            .iter()
            .map(|o| !pending.late.contains(o))
            .collect();
        let moved = keep.iter().filter(|k| !**k).count();
        if moved == 0 {
            return 0;
        }
        let late = self.ordinals.iter().zip(&keep).filter(|(_, k)| !**k);
        self.moved.extend(late.map(|(o, _)| *o));
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .expect("a bronze.events column")
                .as_string::<i32>()
                .clone()
        };
        let (event_id, event_type, tenant_id) =
            (text("event_id"), text("event_type"), text("tenant_id"));
        let (key, position) = (text("source_key"), text("source_position"));
        let ingested_at = batch
            .column_by_name("ingested_at")
            .expect("a bronze.events column")
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .clone();
        for (row, ordinal) in self.ordinals.iter().enumerate() {
            if keep[row] {
                continue;
            }
            let record = Record {
                bytes: pending.accepted[*ordinal].raw.clone(),
                key: Arc::from(key.value(row)),
                seq: None,
                position: position.value(row).to_owned(),
            };
            let violation = Violation::new(
                Reason::DuplicateEventId,
                format!(
                    "event_id {:?} was committed to bronze.events by another writer first",
                    event_id.value(row)
                ),
            );
            let hints = Hints {
                event_id: Some(event_id.value(row).to_owned()),
                event_type: Some(event_type.value(row).to_owned()),
                tenant_id: Some(tenant_id.value(row).to_owned()),
            };
            let origin = Origin {
                source_id,
                ingested_at: ingested_at.value(row),
            };
            into.push(&record, &violation, &hints, &origin);
        }
        let kept = arrow::compute::filter_record_batch(batch, &BooleanArray::from(keep.clone()))
            .expect("a mask as long as the batch");
        self.batch = (kept.num_rows() > 0).then_some(kept);
        let mut row = 0;
        self.ordinals.retain(|_| {
            row += 1;
            keep[row - 1]
        });
        moved
    }
}

/// The ingest core for one source.
pub struct Ingestor {
    contracts: &'static Contracts,
    config: IngestConfig,
    source_id: String,
    events: Table,
    rejected: Table,
    committed: HashMap<Arc<str>, Committed>,
    seen: Seen,
    pending: Pending,
    /// Whether positions are committed beside the `seq` of each key (see [`position`]).
    positions: bool,
    /// Table versions (events, rejected) at which every cached checkpoint was known to match
    /// the lake: while the tables stay there, no other writer moved one and the check before a
    /// commit needs no lookups.
    verified: Option<(i64, i64)>,
    /// Test hook: fail the events commit after the rejects committed (a crash between them).
    #[cfg(test)]
    pub(crate) fail_events_commit: bool,
    /// Test hook: another writer that flushes just before this one's events commit.
    #[cfg(test)]
    pub(crate) interloper: Option<Box<Ingestor>>,
}

impl Ingestor {
    /// Opens (creating if needed) the bronze tables of `lake` for the source `source_id`.
    pub async fn open(lake: &Lake, source_id: &str, config: IngestConfig) -> Result<Self> {
        let events = Table::open(lake, TableName::events(), &config).await?;
        let rejected = Table::open(lake, TableName::rejected(), &config).await?;
        Ok(Self {
            contracts: Contracts::builtin(),
            seen: Seen::new(config.dedup_window_days),
            config,
            source_id: source_id.to_owned(),
            events,
            rejected,
            committed: HashMap::new(),
            pending: Pending::default(),
            positions: false,
            verified: None,
            #[cfg(test)]
            fail_events_commit: false,
            #[cfg(test)]
            interloper: None,
        })
    }

    /// Commits each key's position (a decimal number, such as a Kinesis sequence number) with
    /// its `seq`, for sources that resume from a position rather than from the `seq`.
    pub fn with_positions(mut self) -> Self {
        self.positions = true;
        self.committed.clear();
        self
    }

    /// Records larger than this are rejected as too large.
    pub fn max_record_bytes(&self) -> usize {
        self.config.max_record_bytes
    }

    /// The contracts records are validated against.
    pub fn contracts(&self) -> &'static Contracts {
        self.contracts
    }

    fn app_id(&self, key: &str) -> String {
        format!("eventlake/{}/{key}", self.source_id)
    }

    async fn committed(&mut self, key: &Arc<str>) -> Result<Committed> {
        if let Some(c) = self.committed.get(key) {
            return Ok(c.clone());
        }
        let app_id = self.app_id(key);
        let p = self.positions;
        let events = Table::mark(&self.events.delta, &self.events.name, &app_id, p).await?;
        let rejected = Table::mark(&self.rejected.delta, &self.rejected.name, &app_id, p).await?;
        let filed = if rejected.seq > events.seq {
            let filed = replay::filed_duplicates(&self.rejected.delta, &self.source_id, key);
            Some(Arc::new(filed.await?))
        } else {
            None
        };
        let c = Committed {
            events,
            rejected,
            filed,
        };
        self.committed.insert(key.clone(), c.clone());
        Ok(c)
    }

    /// The `seq` a source must resume `key` from: every record at or below it is committed
    /// in both tables. `-1` when nothing was committed yet.
    pub async fn resume(&mut self, key: &str) -> Result<i64> {
        Ok(self.resume_mark(key).await?.seq)
    }

    /// The mark a source must resume `key` after: the lower of the two tables' marks.
    pub async fn resume_mark(&mut self, key: &str) -> Result<Mark> {
        let c = self.committed(&Arc::from(key)).await?;
        Ok(if c.events.seq <= c.rejected.seq {
            c.events
        } else {
            c.rejected
        })
    }

    /// Reads the tables' latest state and forgets the cached checkpoints of `keys`, which
    /// another process may have moved.
    pub async fn refresh(&mut self, keys: &[Arc<str>]) -> Result<()> {
        let foreign = self.update_tables().await?;
        recheck(&mut self.pending, &mut self.seen, &foreign);
        for key in keys {
            self.committed.remove(key);
        }
        Ok(())
    }

    /// Drops everything buffered without committing it (its source lost the right to commit,
    /// and will read it again from the committed checkpoint), and forgets cached checkpoints.
    pub fn discard(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.forget(&pending);
        self.committed.clear();
    }

    /// Declares `key` finished: the next flush commits its checkpoint as [`ENDED`] (keeping
    /// the last position), after every record offered before.
    pub async fn finish(&mut self, key: &str) -> Result<()> {
        let key: Arc<str> = Arc::from(key);
        let committed = self.committed(&key).await?;
        let position = match self.pending.seq.get(&key) {
            Some((_, p)) => p.clone(),
            None => committed
                .events
                .position
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        };
        self.pending.seq.insert(key, (ENDED, position));
        self.pending.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Classifies and buffers decoded records, in order. Does not flush.
    pub async fn offer(&mut self, records: Vec<Decoded>) -> Result<Vec<Outcome>> {
        let dates = records
            .iter()
            .filter_map(|d| d.outcome.as_ref().ok().map(|e| e.event_date()));
        let missing = self.seen.missing(dates);
        self.seen.load(&self.events.delta, &missing).await?;
        let ingested_at = chrono::Utc::now().timestamp_micros();
        let mut outcomes = Vec::with_capacity(records.len());
        for decoded in records {
            let committed = match &decoded.record.seq {
                Some(_) => Some(self.committed(&decoded.record.key).await?),
                None => None,
            };
            let outcome = self.classify(decoded, committed.as_ref(), ingested_at);
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    fn classify(
        &mut self,
        decoded: Decoded,
        committed: Option<&Committed>,
        ingested_at: i64,
    ) -> Outcome {
        let Decoded { record, outcome } = decoded;
        let seq = record.seq.unwrap_or(i64::MAX);
        let in_events = committed.is_some_and(|c| seq <= c.events.seq);
        let in_rejected = committed.is_some_and(|c| seq <= c.rejected.seq);
        self.track(&record);
        let origin = Origin {
            source_id: &self.source_id,
            ingested_at,
        };
        match outcome {
            Ok(_) if in_events => Outcome::AlreadyCommitted,
            Ok(event) => {
                let date = event.event_date();
                let id = fingerprint(&event.event_id);
                if self.seen.contains(date, id) {
                    // Its reject row is committed, unless another writer committed the id
                    // after this record was accepted and the flush failed before filing it.
                    let filed = committed
                        .and_then(|c| c.filed.as_ref())
                        .is_none_or(|f| f.contains(record.position.as_str()));
                    if in_rejected && filed {
                        return Outcome::AlreadyCommitted;
                    }
                    let violation = Violation::new(
                        Reason::DuplicateEventId,
                        format!("event_id {:?} is already in bronze.events", event.event_id),
                    );
                    let hints = Hints {
                        event_id: Some(event.event_id),
                        event_type: Some(event.event_type),
                        tenant_id: Some(event.tenant_id),
                    };
                    self.pending
                        .rejected
                        .push(&record, &violation, &hints, &origin);
                    return Outcome::Rejected(Reason::DuplicateEventId);
                }
                self.seen.insert(date, id);
                self.pending.events.push(&event, &record, &origin);
                self.pending.accepted.push(Accepted {
                    date,
                    id,
                    raw: record.bytes,
                });
                Outcome::Accepted
            }
            Err(_) if in_rejected => Outcome::AlreadyCommitted,
            Err((violation, hints)) => {
                self.pending
                    .rejected
                    .push(&record, &violation, &hints, &origin);
                Outcome::Rejected(violation.reason)
            }
        }
    }

    /// Notes the record's position and size in the pending window.
    fn track(&mut self, record: &Record) {
        self.pending.bytes += record.bytes.len();
        self.pending.since.get_or_insert_with(Instant::now);
        if let Some(seq) = record.seq {
            let entry = self
                .pending
                .seq
                .entry(record.key.clone())
                .or_insert((seq, String::new()));
            if seq >= entry.0 {
                *entry = (seq, record.position.clone());
            }
        }
    }

    /// Whether the count or size trigger has fired.
    pub fn full(&self) -> bool {
        self.pending.records() >= self.config.flush_records
            || self.pending.bytes >= self.config.flush_bytes
    }

    /// When the age trigger fires, if anything is waiting.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.since.map(|t| t + self.config.flush_age())
    }

    /// Whether anything (rows or a checkpoint advance) awaits a flush.
    pub fn has_pending(&self) -> bool {
        self.pending.since.is_some()
    }

    /// Commits everything buffered: rejects first, then events, each with the checkpoints.
    pub async fn flush(&mut self) -> Result<Flushed, FlushError> {
        if !self.has_pending() {
            return Ok(Flushed::default());
        }
        let started = Instant::now();
        let pending = std::mem::take(&mut self.pending);
        let result = self.commit(pending).await;
        match &result {
            Ok(f) => info!(
                source_id = %self.source_id,
                events = f.events,
                rejected = f.rejected,
                events_version = f.events_version,
                millis = started.elapsed().as_millis() as u64,
                "flushed"
            ),
            Err(e) => tracing::warn!(source_id = %self.source_id, error = %e.error, "flush failed"),
        }
        result
    }

    async fn commit(&mut self, mut pending: Pending) -> Result<Flushed, FlushError> {
        let keys: Vec<(Arc<str>, i64, String)> = pending
            .seq
            .iter()
            .map(|(k, (s, p))| (k.clone(), *s, p.clone()))
            .collect();
        // Every commit another writer made since the last look: its ids may repeat pending
        // ones, and its checkpoints may be ours.
        let ready = match self.update_tables().await {
            Ok(foreign) => {
                recheck(&mut pending, &mut self.seen, &foreign);
                self.verify_checkpoints(&keys).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = ready {
            self.forget(&pending);
            return Err(FlushError {
                rejected_durable: false,
                late: Vec::new(),
                error,
            });
        }
        let mut staged = Staged {
            batch: (!pending.events.is_empty()).then(|| pending.events.finish()),
            ordinals: (0..pending.accepted.len()).collect(),
            moved: Vec::new(),
            filed: 0,
        };
        let mut rejected = std::mem::take(&mut pending.rejected);
        staged.move_late(&pending, &mut rejected, &self.source_id);
        let advanced = self.advanced(&keys);
        let metadata = self.commit_metadata(&keys);
        let result = self
            .commit_both(
                &mut pending,
                &mut staged,
                rejected,
                &keys,
                &advanced,
                metadata,
            )
            .await;
        match result {
            Ok(mut flushed) => {
                flushed.late = staged.filed();
                self.committed.extend(advanced);
                debug!(keys = keys.len(), "checkpoints committed");
                Ok(flushed)
            }
            Err(mut failed) => {
                failed.late = staged.filed();
                self.forget(&pending);
                if failed.rejected_durable {
                    // The rejected checkpoint did advance; reload it before any replay.
                    self.committed.clear();
                }
                Err(failed)
            }
        }
    }

    /// Each key's marks after this flush. A checkpoint never moves back: after a crash between
    /// the two commits, the replay's first flush may end below the rejected checkpoint, which
    /// must then stay where it is.
    fn advanced(&self, keys: &[(Arc<str>, i64, String)]) -> Vec<(Arc<str>, Committed)> {
        let advance = |mark: &Mark, seq: i64, position: &str| {
            if mark.seq >= seq {
                mark.clone()
            } else {
                Mark {
                    seq,
                    position: (!position.is_empty()).then(|| Arc::from(position)),
                }
            }
        };
        keys.iter()
            .map(|(k, s, p)| {
                let c = self.committed.get(k).cloned().unwrap_or(Committed {
                    events: Mark::NONE,
                    rejected: Mark::NONE,
                    filed: None,
                });
                let (events, rejected) = (advance(&c.events, *s, p), advance(&c.rejected, *s, p));
                let filed = (rejected.seq > events.seq)
                    .then(|| c.filed.clone())
                    .flatten();
                let next = Committed {
                    events,
                    rejected,
                    filed,
                };
                (k.clone(), next)
            })
            .collect()
    }

    /// The `txn` actions that store one table's marks.
    fn txns(
        &self,
        advanced: &[(Arc<str>, Committed)],
        table: fn(&Committed) -> &Mark,
    ) -> Result<Vec<Transaction>> {
        let mut txns = Vec::new();
        for (k, c) in advanced {
            let mark = table(c);
            let app_id = self.app_id(k);
            if self.positions
                && let Some(position) = &mark.position
            {
                let parts = position::encode(position).ok_or_else(|| Error::BadPosition {
                    key: app_id.clone(),
                    position: position.to_string(),
                })?;
                for (i, part) in parts.into_iter().enumerate() {
                    txns.push(Transaction::new(position::app_id(&app_id, i), part));
                }
            }
            txns.push(Transaction::new(app_id, mark.seq));
        }
        Ok(txns)
    }

    /// The readable positions and the source id, stored in each commit's metadata.
    fn commit_metadata(
        &self,
        keys: &[(Arc<str>, i64, String)],
    ) -> serde_json::Map<String, serde_json::Value> {
        let positions: serde_json::Map<_, _> = keys
            .iter()
            .map(|(k, _, p)| (k.to_string(), serde_json::Value::from(p.clone())))
            .collect();
        [
            (
                "eventlake.source_id".to_owned(),
                self.source_id.clone().into(),
            ),
            ("eventlake.positions".to_owned(), positions.into()),
        ]
        .into_iter()
        .collect()
    }

    /// Commits the rejects, then the events at exactly the version the id set was checked
    /// against: when another writer commits first, the set catches up, rows it now holds move
    /// to the rejects (committed on their own), and the commit is tried again on top.
    async fn commit_both(
        &mut self,
        pending: &mut Pending,
        staged: &mut Staged,
        mut rejected: RejectedRows,
        keys: &[(Arc<str>, i64, String)],
        advanced: &[(Arc<str>, Committed)],
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Flushed, FlushError> {
        let mut flushed = Flushed {
            rejected: rejected.len(),
            ..Flushed::default()
        };
        let fail = |rejected_durable| {
            move |error| FlushError {
                rejected_durable,
                late: Vec::new(),
                error,
            }
        };
        let needs = |rows: usize| rows > 0 || !keys.is_empty();
        if needs(rejected.len()) {
            let batch = (!rejected.is_empty()).then(|| rejected.finish());
            let txns = self.txns(advanced, |c| &c.rejected).map_err(fail(false))?;
            let adds = self.rejected.write(batch).await.map_err(fail(false))?;
            let landed = self.rejected.commit(adds, txns, metadata.clone(), false);
            if let Landed::At(v) = landed.await.map_err(fail(false))? {
                flushed.rejected_version = Some(v);
                staged.filed = staged.moved.len();
            }
        }
        let mut durable = flushed.rejected_version.is_some();
        if !needs(staged.ordinals.len()) {
            self.note_versions(&flushed);
            return Ok(flushed);
        }
        #[cfg(test)]
        if self.fail_events_commit {
            return Err(fail(durable)(Error::Stopped));
        }
        let txns = self.txns(advanced, |c| &c.events).map_err(fail(durable))?;
        let mut adds = self
            .events
            .write(staged.batch.clone())
            .await
            .map_err(fail(durable))?;
        for race in 0.. {
            #[cfg(test)]
            if let Some(mut other) = self.interloper.take() {
                Box::pin(other.flush())
                    .await
                    .expect("the interloper commits");
            }
            let landed = self
                .events
                .commit(adds.clone(), txns.clone(), metadata.clone(), true);
            if let Landed::At(v) = landed.await.map_err(fail(durable))? {
                self.seen.committed(v);
                flushed.events_version = Some(v);
                break;
            }
            if race == MAX_RACES {
                return Err(fail(durable)(Error::Contended {
                    table: self.events.name.to_string(),
                    attempts: MAX_RACES + 1,
                }));
            }
            // Lost to another writer: catch up with its commit and check again.
            debug!(
                race,
                "another writer committed first; checking again on top of its commit"
            );
            let foreign = self.update_tables().await.map_err(fail(durable))?;
            recheck(pending, &mut self.seen, &foreign);
            self.verify_events_checkpoints(keys)
                .await
                .map_err(fail(durable))?;
            let mut late = RejectedRows::default();
            if staged.move_late(pending, &mut late, &self.source_id) == 0 {
                continue;
            }
            flushed.rejected += late.len();
            let moved = self.rejected.write(Some(late.finish()));
            let moved = moved.await.map_err(fail(durable))?;
            let landed = self
                .rejected
                .commit(moved, Vec::new(), metadata.clone(), false);
            landed.await.map_err(fail(durable))?;
            durable = true;
            staged.filed = staged.moved.len();
            if !needs(staged.ordinals.len()) {
                break;
            }
            adds = self
                .events
                .write(staged.batch.clone())
                .await
                .map_err(fail(durable))?;
        }
        flushed.events = staged.ordinals.len();
        self.note_versions(&flushed);
        Ok(flushed)
    }

    /// Our own commits keep the cached checkpoints true; a version skipped means another
    /// writer's commit landed in between, and the next flush checks every cached one.
    fn note_versions(&mut self, flushed: &Flushed) {
        let next = |before: i64, after: Option<i64>| after.unwrap_or(before);
        self.verified = self.verified.and_then(|(e, r)| {
            let (ne, nr) = (
                next(e, flushed.events_version),
                next(r, flushed.rejected_version),
            );
            let ours = |b: i64, a: i64| a == b || a == b + 1;
            (ours(e, ne) && ours(r, nr)).then_some((ne, nr))
        });
    }

    /// After a lost race on `bronze.events`: the winner must not have moved a checkpoint this
    /// flush is about to commit.
    async fn verify_events_checkpoints(&mut self, keys: &[(Arc<str>, i64, String)]) -> Result<()> {
        for (key, _, _) in keys {
            let expected = self.committed.get(key).map_or(-1, |c| c.events.seq);
            let app_id = self.app_id(key);
            let committed =
                Table::checkpoint(&self.events.delta, &self.events.name, &app_id).await?;
            if committed != expected {
                return Err(Error::CheckpointMoved {
                    table: self.events.name.to_string(),
                    source_id: self.source_id.clone(),
                    key: key.to_string(),
                    expected,
                    committed,
                });
            }
        }
        Ok(())
    }

    /// Loads the latest committed state of both tables and catches the id set up with it;
    /// returns the ids other writers committed since the last catch-up.
    async fn update_tables(&mut self) -> Result<Seen> {
        self.events.update().await?;
        self.rejected.update().await?;
        self.seen.catch_up(&self.events.delta).await
    }

    /// Refuses to commit when another writer moved a checkpoint this process relies on. The
    /// tables must have just been updated.
    async fn verify_checkpoints(&mut self, keys: &[(Arc<str>, i64, String)]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let current = (self.events.version(), self.rejected.version());
        if self.verified == Some(current) {
            return Ok(());
        }
        // Another writer committed since the cache was last known true: check every cached
        // checkpoint, failing for those about to be committed and forgetting the others.
        let flushing: std::collections::HashSet<&Arc<str>> =
            keys.iter().map(|(k, _, _)| k).collect();
        let cached: Vec<Arc<str>> = self.committed.keys().cloned().collect();
        for key in cached {
            let expected = self.committed.get(&key).cloned();
            let app_id = self.app_id(&key);
            for (delta, name, mine) in [
                (
                    &self.events.delta,
                    &self.events.name,
                    expected.as_ref().map(|c| c.events.seq),
                ),
                (
                    &self.rejected.delta,
                    &self.rejected.name,
                    expected.as_ref().map(|c| c.rejected.seq),
                ),
            ] {
                let committed = Table::checkpoint(delta, name, &app_id).await?;
                let expected = mine.unwrap_or(-1);
                if committed != expected && !flushing.contains(&key) {
                    self.committed.remove(&key);
                    break;
                }
                if committed != expected {
                    return Err(Error::CheckpointMoved {
                        table: name.to_string(),
                        source_id: self.source_id.clone(),
                        key: key.to_string(),
                        expected,
                        committed,
                    });
                }
            }
        }
        self.verified = Some(current);
        Ok(())
    }

    /// Forgets the pending ids of a window that will not be committed (but not those another
    /// writer committed: they stay known).
    fn forget(&mut self, pending: &Pending) {
        for (i, a) in pending.accepted.iter().enumerate() {
            if !pending.late.contains(&i) {
                self.seen.remove(a.date, a.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::decode;

    fn records(n: usize) -> Vec<Record> {
        let key: Arc<str> = Arc::from("offset");
        (0..n)
            .map(|i| {
                let text = match i % 5 {
                    // a bad record
                    0 => format!("{{\"event_id\": \"e{i}\"}}"),
                    // a repeat of the previous good record
                    4 => good(i - 1),
                    _ => good(i),
                };
                Record {
                    bytes: Bytes::from(text),
                    key: key.clone(),
                    seq: Some(i as i64 + 1),
                    position: i.to_string(),
                }
            })
            .collect()
    }

    fn good(i: usize) -> String {
        format!(
            "{{\"event_id\":\"e{i}\",\"event_type\":\"user.joined\",\"source\":\"chat\",\"tenant_id\":\"t\",\
             \"subject_id\":\"u{i}\",\"occurred_at\":\"2026-03-0{}T10:00:00Z\",\"schema_version\":1,\
             \"payload\":{{\"room_id\":\"r\",\"user_id\":\"u{i}\"}}}}",
            1 + i % 3
        )
    }

    async fn run(lake: &Lake, n: usize, fail_events: bool) -> Result<Vec<Outcome>, FlushError> {
        let mut ingestor = Ingestor::open(lake, "test", IngestConfig::default())
            .await
            .unwrap();
        ingestor.fail_events_commit = fail_events;
        let from = ingestor.resume("offset").await.unwrap();
        let decoded = records(n)
            .into_iter()
            .filter(|r| r.seq.unwrap() > from)
            .map(|r| decode(r, ingestor.contracts(), 1 << 20))
            .collect();
        let outcomes = ingestor.offer(decoded).await.unwrap();
        ingestor.flush().await?;
        Ok(outcomes)
    }

    async fn query(lake: &Lake, sql: &str) -> Vec<RecordBatch> {
        let ctx = eventlake_lake::query::session(lake).await.unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    async fn count(lake: &Lake, table: &str) -> usize {
        let batches = query(lake, &format!("SELECT * FROM {table}")).await;
        batches.iter().map(|b| b.num_rows()).sum()
    }

    #[tokio::test]
    async fn a_crash_between_the_two_commits_neither_loses_nor_doubles() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let failed = run(&lake, 50, true).await.unwrap_err();
        assert!(
            failed.rejected_durable,
            "the rejects should have committed first"
        );
        assert_eq!(count(&lake, "bronze.events_rejected").await, 20);
        assert_eq!(count(&lake, "bronze.events").await, 0);

        // The restart replays from the events checkpoint, first flushing below the rejected
        // checkpoint (which must not move back), then the rest; rejects are not written again.
        let mut outcomes = run(&lake, 25, false).await.unwrap();
        assert_eq!(count(&lake, "bronze.events_rejected").await, 20);
        outcomes.extend(run(&lake, 50, false).await.unwrap());
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == Outcome::AlreadyCommitted)
                .count(),
            20
        );
        assert_eq!(
            outcomes.iter().filter(|o| **o == Outcome::Accepted).count(),
            30
        );
        assert_eq!(count(&lake, "bronze.events").await, 30);
        assert_eq!(count(&lake, "bronze.events_rejected").await, 20);

        // A third run finds everything committed.
        let outcomes = run(&lake, 50, false).await.unwrap();
        assert!(outcomes.is_empty());
        assert_eq!(
            count(&lake, "bronze.events").await + count(&lake, "bronze.events_rejected").await,
            50
        );
    }

    fn http_record(text: String) -> Decoded {
        let record = Record {
            bytes: Bytes::from(text),
            key: Arc::from("http"),
            seq: None,
            position: String::new(),
        };
        decode(record, Contracts::builtin(), 1 << 20)
    }

    async fn ids(lake: &Lake, table: &str) -> Vec<String> {
        let sql = format!("SELECT event_id FROM {table} ORDER BY event_id");
        let batches = query(lake, &sql).await;
        batches
            .iter()
            .flat_map(|b| {
                let ids =
                    arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
                ids.as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Two writers on one lake, B holding the ids of the day of `good(4)` and `good(7)`.
    async fn two_writers() -> (tempfile::TempDir, Lake, Ingestor, Ingestor) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let config = IngestConfig::default();
        let a = Ingestor::open(&lake, "a", config.clone()).await.unwrap();
        let mut b = Ingestor::open(&lake, "b", config).await.unwrap();
        b.offer(vec![http_record(good(1))]).await.unwrap();
        b.flush().await.unwrap();
        (dir, lake, a, b)
    }

    /// Writer B loaded the day's ids before writer A committed X: B's flush catches up with
    /// A's commit and files its X as a duplicate instead of a second copy.
    #[tokio::test]
    async fn an_id_another_writer_committed_since_the_check_is_a_duplicate() {
        let (_dir, lake, mut a, mut b) = two_writers().await;
        assert_eq!(
            a.offer(vec![http_record(good(4))]).await.unwrap(),
            [Outcome::Accepted]
        );
        a.flush().await.unwrap();
        // B's id set is from before A's commit: X looks new when offered...
        let offered = b.offer(vec![http_record(good(4))]).await.unwrap();
        assert_eq!(offered, [Outcome::Accepted]);
        // ...and is a duplicate once B's commit checks against the table it lands on.
        let flushed = b.flush().await.unwrap();
        assert_eq!(flushed.late, [0]);
        assert_eq!((flushed.events, flushed.rejected), (0, 1));
        assert_eq!(ids(&lake, "bronze.events").await, ["e1", "e4"]);
        assert_eq!(ids(&lake, "bronze.events_rejected").await, ["e4"]);
    }

    /// As above, but maintenance compacted the day and vacuumed A's file before B checks: the
    /// history B would read is gone, so B reads the day again and still files X as a duplicate.
    #[tokio::test]
    async fn an_id_whose_file_maintenance_removed_is_still_a_duplicate() {
        let (_dir, lake, mut a, mut b) = two_writers().await;
        a.offer(vec![http_record(good(4))]).await.unwrap();
        a.flush().await.unwrap();
        let mut config = eventlake_lake::Config::default();
        config.maintain.file_retention = std::time::Duration::ZERO;
        config.maintain.longest_read = std::time::Duration::ZERO;
        let steps = eventlake_lake::maintain::Steps::ALL;
        let report =
            eventlake_lake::maintain::maintain(&lake, &TableName::events(), &config, steps, false)
                .await
                .unwrap();
        assert_eq!((report.compacted, report.after.count), (2, 1));
        assert_eq!(
            report.vacuumed, 2,
            "both of the day's flushed files are gone"
        );
        assert_eq!(
            b.offer(vec![http_record(good(4))]).await.unwrap(),
            [Outcome::Accepted]
        );
        let flushed = b.flush().await.unwrap();
        assert_eq!(flushed.late, [0]);
        assert_eq!(ids(&lake, "bronze.events").await, ["e1", "e4"]);
    }

    /// Another writer commits X between B's check and B's events commit: B loses the race
    /// for the version, catches up, moves X to the rejects and lands the rest on top.
    #[tokio::test]
    async fn a_commit_that_loses_the_race_is_checked_again() {
        let (_dir, lake, mut a, mut b) = two_writers().await;
        a.offer(vec![http_record(good(4))]).await.unwrap();
        let offered = b
            .offer(vec![http_record(good(4)), http_record(good(7))])
            .await
            .unwrap();
        assert_eq!(offered, [Outcome::Accepted, Outcome::Accepted]);
        b.interloper = Some(Box::new(a));
        let flushed = b.flush().await.unwrap();
        assert_eq!(flushed.late, [0]);
        assert_eq!((flushed.events, flushed.rejected), (1, 1));
        assert_eq!(ids(&lake, "bronze.events").await, ["e1", "e4", "e7"]);
        assert_eq!(ids(&lake, "bronze.events_rejected").await, ["e4"]);
    }

    /// B accepts X and fails between its two commits (a crash); meanwhile A commits X. B's
    /// replay files its X as a duplicate instead of skipping it as already committed.
    #[tokio::test]
    async fn a_replayed_record_another_writer_committed_meanwhile_is_filed() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        let config = IngestConfig::default();
        let at = |seq: i64, text: String| {
            let record = Record {
                bytes: Bytes::from(text),
                key: Arc::from("offset"),
                seq: Some(seq),
                position: seq.to_string(),
            };
            decode(record, Contracts::builtin(), 1 << 20)
        };
        let mut b = Ingestor::open(&lake, "b", config.clone()).await.unwrap();
        b.fail_events_commit = true;
        b.offer(vec![at(1, good(4))]).await.unwrap();
        assert!(b.flush().await.unwrap_err().rejected_durable);

        let mut a = Ingestor::open(&lake, "a", config.clone()).await.unwrap();
        a.offer(vec![http_record(good(4))]).await.unwrap();
        a.flush().await.unwrap();

        let mut b = Ingestor::open(&lake, "b", config).await.unwrap();
        assert_eq!(b.resume("offset").await.unwrap(), -1);
        let outcomes = b.offer(vec![at(1, good(4))]).await.unwrap();
        assert_eq!(outcomes, [Outcome::Rejected(Reason::DuplicateEventId)]);
        b.flush().await.unwrap();
        assert_eq!(ids(&lake, "bronze.events").await, ["e4"]);
        assert_eq!(ids(&lake, "bronze.events_rejected").await, ["e4"]);
    }

    #[tokio::test]
    async fn duplicates_against_committed_data_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
        run(&lake, 10, false).await.unwrap();
        // The same records under another source id: every good one is now a duplicate.
        let mut other = Ingestor::open(&lake, "other", IngestConfig::default())
            .await
            .unwrap();
        let decoded = records(10)
            .into_iter()
            .map(|r| decode(r, other.contracts(), 1 << 20))
            .collect();
        let outcomes = other.offer(decoded).await.unwrap();
        other.flush().await.unwrap();
        let duplicates = outcomes
            .iter()
            .filter(|o| **o == Outcome::Rejected(Reason::DuplicateEventId))
            .count();
        assert_eq!(duplicates, 8, "{outcomes:?}");
        assert_eq!(count(&lake, "bronze.events").await, 6);
    }
}
