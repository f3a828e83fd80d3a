//! NDJSON from a file or standard input, resumable at the committed byte offset.
//!
//! Positions: key `offset`; a record's `seq` is the byte offset just past its line, its
//! `position` the offset where it starts. Blank lines are not records.
//!
//! Invariant: a re-run after any crash reads from the committed offset, so no line is lost
//! and (with the per-table checkpoints of the ingestor) none is written twice.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use eventlake_lake::{Contracts, IngestConfig, Lake};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::ingestor::Ingestor;
use crate::record::{Decoded, Record, TOO_LARGE_PREFIX, decode_all, too_large};
use crate::report::Report;

/// Checkpoint key of file sources.
pub const KEY: &str = "offset";

/// Bytes read per chunk.
const CHUNK: usize = 4 * 1024 * 1024;

/// Decoded chunks that may wait for the ingestor (bounds memory to about 16 × 4 MiB of input).
const READ_AHEAD: usize = 16;

/// What to read.
#[derive(Debug, Clone)]
pub struct FileInput {
    /// `None` reads standard input.
    pub path: Option<PathBuf>,
    /// Names the checkpoint; defaults to `file:<absolute path>#<hash of the first line>`
    /// (standard input has no default: it must be given one).
    pub source_id: Option<String>,
}

impl FileInput {
    /// The checkpoint's name: the `source_id` field if given, else derived from the
    /// file's absolute path and a hash of its first line; standard input must be given one.
    pub fn source_id(&self) -> Result<String> {
        if let Some(id) = &self.source_id {
            return Ok(id.clone());
        }
        match &self.path {
            None => Err(Error::StdinNeedsSourceId),
            Some(path) => {
                let read_err = |source| Error::Read {
                    path: path.clone(),
                    source,
                };
                let absolute = path.canonicalize().map_err(read_err)?;
                let head = first_line(path).map_err(read_err)?;
                Ok(format!("file:{}#{:016x}", absolute.display(), fnv1a(&head)))
            }
        }
    }
}

/// FNV-1a, 64-bit: a hash fixed by its definition, so source ids stay the same across
/// toolchains (std's `DefaultHasher` promises no such thing).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The file's first complete line (at most 64 KiB of it). Part of the default source id, so a
/// file replaced by another at the same path starts from its beginning instead of resuming at
/// the old file's offset, while a file that only grows keeps its checkpoint.
fn first_line(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    Ok(match memchr::memchr(b'\n', &head) {
        Some(end) => head[..end].to_vec(),
        None => Vec::new(),
    })
}

/// Ingests the input from its committed checkpoint to its end, calling `progress` after each
/// chunk. Returns the totals of this run.
pub async fn ingest(
    lake: &Lake,
    input: &FileInput,
    config: IngestConfig,
    mut progress: impl FnMut(&Report),
) -> Result<Report> {
    let started = std::time::Instant::now();
    let source_id = input.source_id()?;
    let mut ingestor = Ingestor::open(lake, &source_id, config.clone()).await?;
    let offset = ingestor.resume(KEY).await?.max(0);
    let mut report = Report {
        bytes: offset as u64,
        ..Report::default()
    };
    let (reader, total) = open(input, offset)?;
    report.total_bytes = total;
    tracing::info!(source_id, offset, "ingesting file");

    // Deep enough that decoding continues while a flush encodes and commits.
    let (tx, mut rx) = mpsc::channel::<std::io::Result<(Vec<Decoded>, u64)>>(READ_AHEAD);
    let contracts = ingestor.contracts();
    let max_bytes = config.max_record_bytes;
    let reading = tokio::task::spawn_blocking(move || {
        split_and_decode(reader, offset as u64, contracts, max_bytes, &tx)
    });

    loop {
        let next = match ingestor.deadline() {
            Some(deadline) => tokio::select! {
                next = rx.recv() => next,
                () = tokio::time::sleep_until(deadline.into()) => {
                    report.flushed(&ingestor.flush().await?);
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(chunk) = next else { break };
        let (decoded, reached) = chunk.map_err(|source| Error::Read {
            path: input.path.clone().unwrap_or_else(|| PathBuf::from("-")),
            source,
        })?;
        let outcomes = ingestor.offer(decoded).await?;
        report.count(&outcomes);
        report.bytes = reached;
        if ingestor.full() {
            report.flushed(&ingestor.flush().await?);
        }
        report.elapsed = started.elapsed();
        progress(&report);
    }
    reading.await.map_err(|_| Error::Stopped)?;
    report.flushed(&ingestor.flush().await?);
    report.elapsed = started.elapsed();
    progress(&report);
    Ok(report)
}

type Reader = Box<dyn Read + Send>;

/// Opens the input positioned at `offset`; also returns its length when known.
fn open(input: &FileInput, offset: i64) -> Result<(Reader, Option<u64>)> {
    match &input.path {
        None => {
            let mut stdin = std::io::stdin();
            let skipped =
                std::io::copy(&mut (&mut stdin).take(offset as u64), &mut std::io::sink())
                    .map_err(|source| Error::Read {
                        path: PathBuf::from("-"),
                        source,
                    })?;
            if skipped < offset as u64 {
                return Err(Error::FileShrank {
                    path: PathBuf::from("-"),
                    length: skipped,
                    offset,
                });
            }
            Ok((Box::new(stdin), None))
        }
        Some(path) => {
            let read_err = |source| Error::Read {
                path: path.clone(),
                source,
            };
            let mut file = std::fs::File::open(path).map_err(read_err)?;
            let length = file.metadata().map_err(read_err)?.len();
            if length < offset as u64 {
                return Err(Error::FileShrank {
                    path: path.clone(),
                    length,
                    offset,
                });
            }
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset as u64))
                .map_err(read_err)?;
            Ok((Box::new(file), Some(length)))
        }
    }
}

/// A line longer than the record limit, being skipped to its newline: where it starts, its
/// first bytes and its length so far.
struct Skipping {
    start: u64,
    prefix: Vec<u8>,
    length: u64,
}

impl Skipping {
    fn take(&mut self, bytes: &[u8]) {
        let room = TOO_LARGE_PREFIX.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.length += bytes.len() as u64;
    }
}

/// Reads chunks, splits them into lines and decodes each; runs on a blocking thread so
/// decoding overlaps with buffering and committing. Memory stays bounded whatever the input:
/// a line that grows past `max_bytes` without a newline is skipped to its newline (or the end
/// of the input), keeping only its first bytes, and becomes one `too_large` reject.
fn split_and_decode(
    mut reader: Reader,
    mut offset: u64,
    contracts: &Contracts,
    max_bytes: usize,
    tx: &mpsc::Sender<std::io::Result<(Vec<Decoded>, u64)>>,
) {
    let key: Arc<str> = Arc::from(KEY);
    // `carry` holds the input from `offset` on: never a complete line between two reads.
    let mut carry = BytesMut::new();
    let mut skipping: Option<Skipping> = None;
    loop {
        let start = carry.len();
        carry.resize(start + CHUNK, 0);
        let n = match reader.read(&mut carry[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                carry.truncate(start);
                continue;
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        carry.truncate(start + n);
        let eof = n == 0;
        // Only the bytes just read can hold the newline that ends the line in progress.
        let mut scan = start;
        if let Some(skip) = skipping.as_mut() {
            let newline = memchr::memchr(b'\n', &carry);
            let end = newline.map_or(carry.len(), |i| i + 1);
            skip.take(&carry[..newline.unwrap_or(end)]);
            offset += end as u64;
            let _ = carry.split_to(end);
            if newline.is_none() && !eof {
                continue;
            }
            let skipped = std::mem::take(&mut skipping).expect("skipping");
            let record = Record {
                bytes: Bytes::from(skipped.prefix),
                key: key.clone(),
                seq: Some(offset as i64),
                position: skipped.start.to_string(),
            };
            let decoded = vec![too_large(record, skipped.length, max_bytes)];
            if tx.blocking_send(Ok((decoded, offset))).is_err() || (eof && carry.is_empty()) {
                return;
            }
            scan = 0;
        }
        let complete = if eof {
            // A last line without a newline may still be being written: take it only if it
            // is a whole JSON value, otherwise leave it for the next run.
            let tail = match memchr::memrchr(b'\n', &carry) {
                Some(i) => i + 1,
                None => 0,
            };
            let rest = carry[tail..].trim_ascii();
            if rest.is_empty() || serde_json::from_slice::<serde::de::IgnoredAny>(rest).is_ok() {
                carry.len()
            } else {
                tracing::warn!(
                    bytes = carry.len() - tail,
                    "the input ends with an unterminated line that is not JSON; it is left \
                     for the next run (append a newline to have it quarantined)"
                );
                tail
            }
        } else {
            match memchr::memrchr(b'\n', &carry[scan..]) {
                Some(i) => scan + i + 1,
                None if carry.len() > max_bytes => {
                    // The line in progress is already over the limit: skip the rest of it.
                    let mut skip = Skipping {
                        start: offset,
                        prefix: Vec::new(),
                        length: 0,
                    };
                    skip.take(&carry);
                    offset += carry.len() as u64;
                    carry.clear();
                    skipping = Some(skip);
                    continue;
                }
                None => continue,
            }
        };
        let chunk: Bytes = carry.split_to(complete).freeze();
        let mut records = Vec::new();
        let mut at = 0;
        while at < chunk.len() {
            let end = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |i| at + i + 1);
            let mut line = &chunk[at..end];
            if offset == 0 && at == 0 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            while let Some((last, rest)) = line.split_last()
                && (*last == b'\n' || *last == b'\r')
            {
                line = rest;
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                let record = Record {
                    bytes: chunk.slice_ref(line),
                    key: key.clone(),
                    seq: Some((offset + end as u64) as i64),
                    position: (offset + at as u64).to_string(),
                };
                records.push(record);
            }
            at = end;
        }
        offset += chunk.len() as u64;
        let decoded = decode_all(records, contracts, max_bytes);
        if (!decoded.is_empty() || eof) && tx.blocking_send(Ok((decoded, offset))).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn event(i: usize) -> String {
        format!(
            "{{\"event_id\":\"e{i}\",\"event_type\":\"user.joined\",\"source\":\"chat\",\"tenant_id\":\"t\",\
             \"subject_id\":\"u{i}\",\"occurred_at\":\"2026-03-01T10:00:00Z\",\"schema_version\":1,\
             \"payload\":{{\"room_id\":\"r\",\"user_id\":\"u{i}\"}}}}\n"
        )
    }

    /// Lines far over the limit, terminated or at the end of the input, are skipped in
    /// bounded memory: each is one `too_large` reject keeping only its first bytes, and the
    /// lines around them land.
    #[tokio::test]
    async fn lines_over_the_limit_become_one_bounded_reject_each() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().join("lake").to_str().unwrap()).unwrap();
        let path = dir.path().join("in.ndjson");
        let mut file = std::fs::File::create(&path).unwrap();
        let huge = vec![b'x'; 3 * CHUNK + 17];
        file.write_all(event(1).as_bytes()).unwrap();
        file.write_all(&huge).unwrap();
        file.write_all(b"\n").unwrap();
        file.write_all(event(2).as_bytes()).unwrap();
        file.write_all(&huge).unwrap(); // unterminated, at the end
        drop(file);
        let config = IngestConfig {
            max_record_bytes: 1024,
            ..IngestConfig::default()
        };
        let input = FileInput {
            path: Some(path.clone()),
            source_id: None,
        };
        let report = ingest(&lake, &input, config.clone(), |_| {}).await.unwrap();
        assert_eq!(report.accepted, 2, "{report:?}");
        assert_eq!(
            report.rejected.get(&eventlake_lake::Reason::TooLarge),
            Some(&2)
        );
        assert_eq!(report.bytes, std::fs::metadata(&path).unwrap().len());

        let ctx = eventlake_lake::query::session(&lake).await.unwrap();
        let rows = ctx
            .sql("SELECT octet_length(CAST(raw AS VARCHAR)) AS kept, message FROM bronze.events_rejected ORDER BY source_position")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        assert!(
            text.contains(&format!("record has {} bytes", huge.len())),
            "{text}"
        );
        assert!(text.contains(&TOO_LARGE_PREFIX.to_string()), "{text}");

        // Finished: a second run reads nothing more.
        let again = ingest(&lake, &input, config, |_| {}).await.unwrap();
        assert_eq!(again.offered, 0, "{again:?}");
    }
}
