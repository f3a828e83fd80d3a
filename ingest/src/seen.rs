//! The set of `event_id`s already in `bronze.events`, loaded lazily per event-date partition.
//!
//! Guarantee: an event is a duplicate when an event with the same `event_id` is committed (or
//! pending in this process) with an event date at most `window` days away. A client retry
//! repeats `occurred_at`, so retries are always caught; cost: one `event_id` column read per
//! partition touched, and 16 bytes (a 128-bit hash) per id held in memory.
//!
//! Other writers (a second collector, a serving replica, another file) commit too. Before a
//! commit the ingestor [catches up](Seen::catch_up): it reads the `event_id`s of the files
//! every commit since the version it is synced to added to a loaded date, so its check is exact against
//! the table version it commits on top of.
//!
//! Invariant: a date is marked loaded only after all of its committed ids are in the set, and
//! every loaded date holds at least every id committed up to version `synced`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use arrow::array::{AsArray, Date32Array};
use arrow::datatypes::Date32Type;
use datafusion::prelude::SessionContext;
use eventlake_lake::deltalake::kernel::Action;
use eventlake_lake::deltalake::logstore::object_store::ObjectStoreExt as _;
use eventlake_lake::deltalake::parquet::arrow::ProjectionMask;
use eventlake_lake::deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use eventlake_lake::deltalake::{DeltaTable, ObjectStoreError};
use eventlake_lake::tables::{EVENTS_PARTITION, TableName};

use crate::error::{Error, Result};

/// 128-bit fingerprint of an `event_id`; collisions are negligible below ~10^18 ids.
pub type Fingerprint = u128;

/// Computes the fingerprint of an id (two independent SipHash-1-3 passes).
pub fn fingerprint(event_id: &str) -> Fingerprint {
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        event_id.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Fingerprints are already uniformly distributed: hash them by taking their low bits.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

type Ids = HashSet<Fingerprint, BuildHasherDefault<Passthrough>>;

/// Ids per event date.
pub struct Seen {
    window: i32,
    by_date: HashMap<i32, Ids>,
    /// Every loaded date holds the ids committed up to this `bronze.events` version.
    synced: Option<i64>,
}

impl Seen {
    /// An empty set, nothing loaded, that treats ids as duplicates up to `window_days` event
    /// days apart.
    pub fn new(window_days: u32) -> Self {
        Self {
            window: window_days as i32,
            by_date: HashMap::new(),
            synced: None,
        }
    }

    /// Dates (with their window) that must be loaded before `dates` can be checked.
    pub fn missing(&self, dates: impl IntoIterator<Item = i32>) -> Vec<i32> {
        let mut missing: Vec<i32> = dates
            .into_iter()
            .flat_map(|d| d - self.window..=d + self.window)
            .filter(|d| !self.by_date.contains_key(d))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Loads the committed ids of `dates` from `bronze.events`.
    pub async fn load(&mut self, events: &DeltaTable, dates: &[i32]) -> Result<()> {
        if dates.is_empty() {
            return Ok(());
        }
        let version = events.version().map_or(-1, |v| v as i64);
        let loaded = read_dates(events, dates).await?;
        self.by_date.extend(loaded);
        self.synced.get_or_insert(version);
        Ok(())
    }

    /// Reads the ids that commits after the synced version, up to the version `events` is at,
    /// added to loaded dates, and returns them as a set of their own (so the caller can tell
    /// which of its pending ids another writer committed first). Files that only move data
    /// (compaction) are skipped: their ids are already known.
    ///
    /// When that history is gone (maintenance vacuumed a file after compacting it, or expired
    /// the commits after a checkpoint: a writer idle for longer than the retention), the
    /// loaded dates are read again from the current version instead, and all their ids are
    /// returned.
    pub async fn catch_up(&mut self, events: &DeltaTable) -> Result<Seen> {
        let to = events.version().map_or(-1, |v| v as i64);
        let Some(from) = self.synced else {
            return Ok(Seen::new(self.window as u32));
        };
        let foreign = match self.read_commits(events, from, to).await? {
            Some(foreign) => foreign,
            None => {
                tracing::info!(
                    synced = from,
                    version = to,
                    "the commits since the last check were compacted or expired; reading the loaded dates again"
                );
                let dates: Vec<i32> = self.by_date.keys().copied().collect();
                let mut foreign = Seen::new(self.window as u32);
                for (date, ids) in read_dates(events, &dates).await? {
                    self.by_date
                        .entry(date)
                        .or_default()
                        .extend(ids.iter().copied());
                    foreign.by_date.insert(date, ids);
                }
                foreign
            }
        };
        self.synced = Some(to.max(from));
        Ok(foreign)
    }

    /// The ids commits `from + 1 ..= to` added to loaded dates (also inserted into `self`), or
    /// `None` when a commit or a file they name no longer exists because maintenance removed
    /// it.
    async fn read_commits(
        &mut self,
        events: &DeltaTable,
        from: i64,
        to: i64,
    ) -> Result<Option<Seen>> {
        let name = TableName::events();
        if from < to && from < eventlake_lake::log::last_checkpoint_of(events).await {
            // Commits at or below a checkpoint may have been expired; the checkpoint itself
            // says nothing of which files each commit added.
            let first = from as u64 + 1;
            if events
                .log_store()
                .read_commit_entry(first)
                .await
                .ok()
                .flatten()
                .is_none()
            {
                return Ok(None);
            }
        }
        let mut files = Vec::new();
        for version in from + 1..=to {
            for action in eventlake_lake::log::actions(events, &name, version as u64).await? {
                let Action::Add(add) = action else { continue };
                let date = add
                    .partition_values
                    .get(EVENTS_PARTITION)
                    .and_then(|d| d.as_deref())
                    .and_then(day_number);
                if let Some(date) = date
                    && add.data_change
                    && self.by_date.contains_key(&date)
                {
                    files.push((date, add.path));
                }
            }
        }
        let mut foreign = Seen::new(self.window as u32);
        let store = events.log_store().object_store(None);
        for (date, path) in files {
            let fail = |e: String| Error::ForeignFile {
                file: path.clone(),
                message: e,
            };
            let location = eventlake_lake::deltalake::Path::from_url_path(&path)
                .map_err(|e| fail(e.to_string()))?;
            // One file at a time, whole: another writer's flush, bounded by its flush size.
            let bytes = match store.get(&location).await {
                Ok(found) => found.bytes().await.map_err(|e| fail(e.to_string()))?,
                Err(ObjectStoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(fail(e.to_string())),
            };
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| fail(e.to_string()))?;
            let mask = ProjectionMask::columns(builder.parquet_schema(), ["event_id"]);
            let batches = builder
                .with_projection(mask)
                .build()
                .map_err(|e| fail(e.to_string()))?;
            for batch in batches {
                let batch = batch.map_err(eventlake_lake::Error::from)?;
                let ids = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
                    .map_err(eventlake_lake::Error::from)?;
                for id in ids.as_string::<i32>().iter().flatten() {
                    foreign.insert(date, fingerprint(id));
                }
            }
        }
        for (date, ids) in &foreign.by_date {
            self.by_date
                .entry(*date)
                .or_default()
                .extend(ids.iter().copied());
        }
        Ok(Some(foreign))
    }

    /// Notes this writer's own commit at `version`: when it landed right after the synced
    /// version, nobody else committed in between and nothing needs reading.
    pub fn committed(&mut self, version: i64) {
        if self.synced == Some(version - 1) {
            self.synced = Some(version);
        }
    }

    /// Whether the id is known within the window around `date`. The window must be loaded.
    pub fn contains(&self, date: i32, id: Fingerprint) -> bool {
        (date - self.window..=date + self.window)
            .any(|d| self.by_date.get(&d).is_some_and(|ids| ids.contains(&id)))
    }

    /// Whether the id is known at exactly `date`.
    pub fn holds(&self, date: i32, id: Fingerprint) -> bool {
        self.by_date.get(&date).is_some_and(|ids| ids.contains(&id))
    }

    /// Records an id as pending or committed.
    pub fn insert(&mut self, date: i32, id: Fingerprint) {
        self.by_date.entry(date).or_default().insert(id);
    }

    /// Forgets a pending id whose commit failed.
    pub fn remove(&mut self, date: i32, id: Fingerprint) {
        if let Some(ids) = self.by_date.get_mut(&date) {
            ids.remove(&id);
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.by_date.values().map(HashSet::len).sum()
    }

    /// Whether no id is held (none loaded, none pending).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The committed ids of `dates` at the version `events` is at, per date (every date of
/// `dates` present, empty when it holds nothing).
async fn read_dates(events: &DeltaTable, dates: &[i32]) -> Result<HashMap<i32, Ids>> {
    let mut loaded: HashMap<i32, Ids> = dates.iter().map(|d| (*d, Ids::default())).collect();
    let has_files = events
        .snapshot()
        .map(|s| s.log_data().num_files() > 0)
        .unwrap_or(false);
    if dates.is_empty() || !has_files {
        return Ok(loaded);
    }
    let ctx = SessionContext::new();
    events
        .update_datafusion_session(&ctx.state())
        .map_err(|e| Error::commit("bronze.events", e))?;
    let provider = events
        .table_provider()
        .await
        .map_err(eventlake_lake::Error::from)?;
    ctx.register_table("events", provider)
        .map_err(eventlake_lake::Error::from)?;
    let list = dates
        .iter()
        .map(|d| format!("CAST({d} AS DATE)"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT event_id, event_date FROM events WHERE event_date IN ({list})");
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(eventlake_lake::Error::from)?
        .collect()
        .await
        .map_err(eventlake_lake::Error::from)?;
    for batch in batches {
        let ids = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(eventlake_lake::Error::from)?;
        let dates = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Date32)
            .map_err(eventlake_lake::Error::from)?;
        let dates: &Date32Array = dates.as_primitive::<Date32Type>();
        for (id, date) in ids.as_string::<i32>().iter().zip(dates.iter()) {
            if let (Some(id), Some(date)) = (id, date) {
                loaded.entry(date).or_default().insert(fingerprint(id));
            }
        }
    }
    Ok(loaded)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` partition value.
fn day_number(date: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_catches_neighbouring_days_only() {
        let mut seen = Seen::new(1);
        for d in seen.missing([100]) {
            seen.by_date.insert(d, Ids::default());
        }
        assert_eq!(seen.missing([100, 101]), vec![102]);
        seen.insert(100, fingerprint("a"));
        assert!(seen.contains(100, fingerprint("a")));
        assert!(seen.contains(101, fingerprint("a")));
        assert!(!seen.contains(102, fingerprint("a")));
        assert!(!seen.contains(100, fingerprint("b")));
        seen.remove(100, fingerprint("a"));
        assert!(!seen.contains(100, fingerprint("a")));
    }

    #[test]
    fn partition_days() {
        assert_eq!(day_number("1970-01-02"), Some(1));
        assert_eq!(day_number("2026-03-01"), Some(20_513));
        assert_eq!(day_number("03/01/2026"), None);
    }

    #[test]
    fn fingerprints_differ() {
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("a"), fingerprint("a"));
    }
}
