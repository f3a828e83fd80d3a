//! The Kinesis consumer: which shards to read, from where, and when to commit.
//!
//! ```text
//!  ListShards ─► eligible shards ─► leases (DynamoDB, optional) ─► one reader per owned shard
//!   (parents ended)                                                   │ pages
//!                       Ingestor ◄── records with seq = per-shard ordinal, position = sequence
//!                          │ flush: renew leases ─► commit records + per-shard checkpoints
//! ```
//!
//! Invariants:
//! - A shard's checkpoint (ordinal and sequence number) is committed in the same Delta commit as
//!   its records; a reader (re)starts just after the committed sequence number, so a crash at any
//!   moment neither loses nor doubles a record.
//! - A child shard is read only once every parent's checkpoint is committed as ended, which the
//!   consumer commits after the parent's last record.
//! - Before every commit the leases are renewed and the ingestor re-checks the committed
//!   checkpoints; a worker that lost either drops what it buffered and restarts its readers
//!   from the committed checkpoints.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use eventlake_lake::{IngestConfig, Lake};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::client::{Kinesis, Shard, Start};
use super::efo::Fanout;
use super::lease::Leases;
use super::metrics::Metrics;
use super::shard::{self, Message};
use crate::error::{Error, Result};
use crate::ingestor::{Ingestor, Mark};
use crate::report::Report;

/// Flush failures in a row after which the consumer stops with the error.
const MAX_FLUSH_FAILURES: u32 = 5;

/// Lease settings for consumers sharing a stream.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// DynamoDB table holding the leases (created if missing).
    pub table: String,
    /// A lease whose counter has not moved for this long may be taken over.
    pub duration: Duration,
    /// This worker's name; defaults to host, process id and start time.
    pub worker: Option<String>,
}

/// What to consume and how.
#[derive(Debug, Clone)]
pub struct KinesisInput {
    /// The stream's name; part of the default source id.
    pub stream: String,
    /// Names the checkpoints; defaults to `kinesis:<stream>`.
    pub source_id: Option<String>,
    /// Where shards without a checkpoint (and without a read parent) start.
    pub start: Start,
    /// Share the stream's shards with other workers through a lease table; `None`: this
    /// worker reads every eligible shard.
    pub leases: Option<LeaseOptions>,
    /// Stop once every shard read is at its tip, no record arrived for this long, and
    /// everything is committed.
    pub idle_exit: Option<Duration>,
    /// How often to list shards (new children after a reshard).
    pub list_every: Duration,
}

impl KinesisInput {
    /// The checkpoints' name: the `source_id` field if given, else `kinesis:<stream>`.
    pub fn source_id(&self) -> String {
        self.source_id
            .clone()
            .unwrap_or_else(|| format!("kinesis:{}", self.stream))
    }
}

/// An owned shard being read.
struct Reading {
    epoch: u64,
    task: JoinHandle<()>,
    /// The `seq` of the next record.
    next: i64,
    /// Whether the last page was empty at the tip of the shard (nothing more to read yet).
    at_tip: bool,
}

/// The consumer's state.
struct Consumer<K: Kinesis> {
    kinesis: Arc<K>,
    fanout: Option<Fanout>,
    input: KinesisInput,
    ingestor: Ingestor,
    leases: Option<Leases>,
    metrics: Arc<Metrics>,
    shards: Vec<Shard>,
    /// Shards closed at the first listing (see [`Consumer::skipped`]).
    closed_at_start: std::collections::HashSet<String>,
    /// Shards whose ended mark was seen (final: never re-read).
    ended: std::collections::HashSet<String>,
    reading: BTreeMap<Arc<str>, Reading>,
    epoch: u64,
    tx: mpsc::Sender<Message>,
    report: Report,
    flush_failures: u32,
    last_list: Option<Instant>,
    last_record: Instant,
}

/// Consumes the stream until `shutdown` resolves, the stream has no open shard left, or the
/// idle limit passes; then commits what is buffered and releases the leases.
pub async fn consume<K: Kinesis>(
    lake: &Lake,
    kinesis: Arc<K>,
    fanout: Option<Fanout>,
    input: KinesisInput,
    config: IngestConfig,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Report> {
    let started = std::time::Instant::now();
    let source_id = input.source_id();
    let ingestor = Ingestor::open(lake, &source_id, config)
        .await?
        .with_positions();
    let leases = match &input.leases {
        Some(o) => {
            let worker = o.worker.clone().unwrap_or_else(default_worker);
            Some(Leases::connect(&o.table, &source_id, &worker, o.duration).await?)
        }
        None => None,
    };
    tracing::info!(
        source_id,
        stream = %input.stream,
        worker = leases.as_ref().map(|l| l.worker().to_owned()),
        fanout = fanout.is_some(),
        "consuming"
    );
    let (tx, mut rx) = mpsc::channel(64);
    let tick_every = leases
        .as_ref()
        .map_or(input.list_every, |l| l.heartbeat().min(input.list_every));
    let mut c = Consumer {
        kinesis,
        fanout,
        input,
        ingestor,
        leases,
        metrics,
        shards: Vec::new(),
        closed_at_start: std::collections::HashSet::new(),
        ended: std::collections::HashSet::new(),
        reading: BTreeMap::new(),
        epoch: 0,
        tx,
        report: Report::default(),
        flush_failures: 0,
        last_list: None,
        last_record: Instant::now(),
    };
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let result = loop {
        let deadline = c.ingestor.deadline();
        let step = tokio::select! {
            () = &mut shutdown => {
                tracing::info!("stopping: committing what is buffered");
                break Ok(());
            }
            Some(message) = rx.recv() => c.handle(message).await,
            () = sleep_until(deadline), if deadline.is_some() => c.commit().await,
            _ = tick.tick() => c.tick().await,
        };
        match step {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        c.report.elapsed = started.elapsed();
    };
    c.stop_readers();
    let last = c.commit().await;
    if let Some(leases) = &mut c.leases {
        let held: Vec<String> = leases.held().map(str::to_owned).collect();
        for shard in held {
            if let Err(e) = leases.release(&shard).await {
                tracing::warn!(%shard, error = %e, "could not release the lease");
            }
        }
    }
    c.report.elapsed = started.elapsed();
    result?;
    last?;
    Ok(c.report)
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Host name, process id and start time: unique per process.
fn default_worker() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| "host".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{host}-{}-{started}", std::process::id())
}

impl<K: Kinesis> Consumer<K> {
    /// Handles one reader message; `Ok(false)` stops the consumer.
    async fn handle(&mut self, message: Message) -> Result<bool> {
        match message {
            Message::Records {
                shard,
                epoch,
                records,
                behind_ms,
            } => {
                let Some(reading) = self.reading.get_mut(&shard).filter(|r| r.epoch == epoch)
                else {
                    return Ok(true);
                };
                self.metrics.read(&shard, records.len(), behind_ms);
                reading.at_tip = records.is_empty() && behind_ms.is_none_or(|b| b <= 0);
                if records.is_empty() {
                    return Ok(true);
                }
                self.last_record = Instant::now();
                let mut decoded = records;
                for d in &mut decoded {
                    d.record.seq = Some(reading.next);
                    reading.next += 1;
                }
                let outcomes = self.ingestor.offer(decoded).await?;
                self.report.count(&outcomes);
                if self.ingestor.full() {
                    return self.commit().await;
                }
                Ok(true)
            }
            Message::Ended {
                shard,
                epoch,
                children,
            } => {
                if self.reading.get(&shard).is_none_or(|r| r.epoch != epoch) {
                    return Ok(true);
                }
                tracing::info!(%shard, ?children, "shard read to its end");
                self.ingestor.finish(&shard).await?;
                if !self.commit().await? {
                    return Ok(false);
                }
                if self.ingestor.resume_mark(&shard).await?.ended() {
                    self.reading.remove(&shard);
                    self.metrics.ended(&shard);
                    if let Some(leases) = &mut self.leases {
                        leases.release(&shard).await?;
                    }
                    // Children may be eligible now: list again at once.
                    self.last_list = None;
                    return self.tick().await;
                }
                Ok(true)
            }
            Message::Failed {
                shard,
                epoch,
                error,
            } => {
                if self.reading.get(&shard).is_none_or(|r| r.epoch != epoch) {
                    return Ok(true);
                }
                Err(Error::Kinesis {
                    stream: self.input.stream.clone(),
                    message: format!("reading {shard}: {error}"),
                })
            }
        }
    }

    /// Renews the leases and commits what is buffered. A lost lease or a failed commit drops
    /// the buffer and restarts the readers from the committed checkpoints.
    async fn commit(&mut self) -> Result<bool> {
        if let Some(leases) = &mut self.leases {
            let lost = leases.renew().await?;
            if !lost.is_empty() {
                tracing::warn!(?lost, "leases lost before commit: dropping the buffer");
                for shard in &lost {
                    self.stop(shard);
                }
                self.restart().await?;
                return Ok(true);
            }
        }
        match self.ingestor.flush().await {
            Ok(flushed) => {
                self.flush_failures = 0;
                self.report.flushed(&flushed);
                self.metrics.flushed(&flushed);
                Ok(true)
            }
            Err(e) => {
                self.flush_failures += 1;
                if self.flush_failures >= MAX_FLUSH_FAILURES {
                    return Err(e.error);
                }
                tracing::warn!(error = %e.error, "commit failed: re-reading from the checkpoints");
                self.restart().await?;
                Ok(true)
            }
        }
    }

    /// Drops the buffer and restarts every reader from its committed checkpoint.
    async fn restart(&mut self) -> Result<()> {
        self.ingestor.discard();
        let shards: Vec<Arc<str>> = self.reading.keys().cloned().collect();
        self.ingestor.refresh(&shards).await?;
        let marks = self.marks().await?;
        for shard in shards {
            self.stop(&shard);
            self.start(&shard, &marks).await?;
        }
        Ok(())
    }

    fn stop(&mut self, shard: &str) {
        if let Some(r) = self.reading.remove(shard) {
            r.task.abort();
        }
    }

    fn stop_readers(&mut self) {
        for r in self.reading.values() {
            r.task.abort();
        }
    }

    /// Periodic work: list shards when due, balance leases, start readers, check idleness.
    async fn tick(&mut self) -> Result<bool> {
        if self
            .last_list
            .is_none_or(|t| t.elapsed() >= self.input.list_every)
        {
            match self.kinesis.shards().await {
                Ok(shards) => {
                    if self.last_list.is_none() && self.closed_at_start.is_empty() {
                        self.closed_at_start = shards
                            .iter()
                            .filter(|s| s.closed)
                            .map(|s| s.id.clone())
                            .collect();
                    }
                    self.shards = shards;
                    self.last_list = Some(Instant::now());
                }
                Err(e) if self.last_list.is_some() => {
                    tracing::warn!(error = %e, "ListShards failed; keeping the last list");
                }
                Err(e) => {
                    return Err(Error::Kinesis {
                        stream: self.input.stream.clone(),
                        message: format!("ListShards: {e}"),
                    });
                }
            }
        }
        let marks = self.marks().await?;
        let eligible = self.eligible(&marks);
        let owned: Vec<String> = match &mut self.leases {
            Some(leases) => {
                // Heartbeat: idle shards commit nothing, so renewing only before commits would
                // let their leases look expired.
                let mut lost = leases.renew().await?;
                let (_, lost_too) = leases.balance(&eligible).await?;
                lost.extend(lost_too);
                let owned = eligible
                    .iter()
                    .filter(|s| leases.holds(s))
                    .cloned()
                    .collect();
                if lost.iter().any(|s| self.reading.contains_key(s.as_str())) {
                    tracing::warn!(?lost, "leases lost: dropping the buffer");
                    for shard in &lost {
                        self.stop(shard);
                    }
                    self.restart().await?;
                }
                owned
            }
            None => eligible.clone(),
        };
        for shard in owned {
            if !self.reading.contains_key(shard.as_str()) {
                self.ingestor.refresh(&[Arc::from(shard.as_str())]).await?;
                self.start(&shard, &marks).await?;
            }
        }
        self.metrics.owned(self.reading.len());
        self.metrics.log_if_due();
        if !self.shards.is_empty() && eligible.is_empty() && self.reading.is_empty() {
            let all_ended = self
                .shards
                .iter()
                .all(|s| marks.get(&s.id).is_some_and(Mark::ended) || self.skipped(s, &marks));
            if all_ended {
                tracing::info!("every shard of the stream has ended");
                return Ok(false);
            }
        }
        // Idle means drained: a reader still catching up (slow to start, throttled, behind)
        // keeps the consumer running however long ago its last record was. With no shard to
        // read (all leased to other workers), the idle time alone decides.
        if let Some(idle) = self.input.idle_exit
            && self.last_record.elapsed() >= idle
            && self.reading.values().all(|r| r.at_tip)
            && !self.ingestor.has_pending()
        {
            tracing::info!(idle_ms = idle.as_millis() as u64, "no records: stopping");
            return Ok(false);
        }
        Ok(true)
    }

    /// The committed mark of every listed shard, re-read for those another worker may move.
    async fn marks(&mut self) -> Result<HashMap<String, Mark>> {
        let mut marks = HashMap::new();
        // An ended mark is final, so only the others are re-read.
        let stale: Vec<Arc<str>> = self
            .shards
            .iter()
            .filter(|s| !self.reading.contains_key(s.id.as_str()) && !self.ended.contains(&s.id))
            .map(|s| Arc::from(s.id.as_str()))
            .collect();
        if self.leases.is_some() && !stale.is_empty() {
            self.ingestor.refresh(&stale).await?;
        }
        for s in &self.shards {
            let mark = self.ingestor.resume_mark(&s.id).await?;
            if mark.ended() {
                self.ended.insert(s.id.clone());
            }
            marks.insert(s.id.clone(), mark);
        }
        Ok(marks)
    }

    /// A shard already closed when this consumer first listed the stream, that nobody read,
    /// under `--start latest`: its records predate this consumer.
    fn skipped(&self, shard: &Shard, marks: &HashMap<String, Mark>) -> bool {
        self.input.start == Start::Latest
            && self.closed_at_start.contains(&shard.id)
            && !self.reading.contains_key(shard.id.as_str())
            && marks.get(&shard.id).is_none_or(|m| m.seq < 0)
            && !self.tracked_parent(shard, marks)
    }

    fn tracked_parent(&self, shard: &Shard, marks: &HashMap<String, Mark>) -> bool {
        shard
            .parents
            .iter()
            .any(|p| marks.get(p).is_some_and(|m| m.seq >= 0))
    }

    /// Shards to read: not ended, not skipped, and every listed parent done.
    fn eligible(&self, marks: &HashMap<String, Mark>) -> Vec<String> {
        let listed: HashMap<&str, &Shard> =
            self.shards.iter().map(|s| (s.id.as_str(), s)).collect();
        let done = |id: &str| match listed.get(id) {
            None => true,
            Some(s) => marks.get(id).is_some_and(Mark::ended) || self.skipped(s, marks),
        };
        self.shards
            .iter()
            .filter(|s| !done(&s.id) && s.parents.iter().all(|p| done(p)))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Starts reading `shard` just after its committed checkpoint; `marks` are every listed
    /// shard's (for its parents).
    async fn start(&mut self, shard: &str, marks: &HashMap<String, Mark>) -> Result<()> {
        let mark = self.ingestor.resume_mark(shard).await?;
        let start = match (&mark.position, mark.seq) {
            (Some(p), _) => Start::After(p.to_string()),
            (None, -1) => {
                let s = self.shards.iter().find(|s| s.id == shard);
                if s.is_some_and(|s| self.tracked_parent(s, marks))
                    && !matches!(self.input.start, Start::AtTimestamp(_))
                {
                    Start::TrimHorizon
                } else {
                    self.input.start.clone()
                }
            }
            (None, seq) => {
                return Err(Error::Kinesis {
                    stream: self.input.stream.clone(),
                    message: format!(
                        "the checkpoint of {shard} is at record {seq} but has no sequence number"
                    ),
                });
            }
        };
        self.epoch += 1;
        let key: Arc<str> = Arc::from(shard);
        tracing::info!(shard, ?start, seq = mark.seq, "reading shard");
        let max_bytes = self.ingestor.max_record_bytes();
        let (epoch, tx) = (self.epoch, self.tx.clone());
        let task = match &self.fanout {
            Some(f) => tokio::spawn(
                f.clone()
                    .subscribe(key.clone(), epoch, start, max_bytes, tx),
            ),
            None => tokio::spawn(shard::poll(
                self.kinesis.clone(),
                key.clone(),
                epoch,
                start,
                max_bytes,
                tx,
            )),
        };
        let reading = Reading {
            epoch: self.epoch,
            task,
            next: mark.seq.max(-1) + 1,
            at_tip: false,
        };
        self.reading.insert(key, reading);
        Ok(())
    }
}
