//! A seeded, reproducible workload of application events for eventlake, with planted bad
//! records.
//!
//! The stream covers all five applications (marketplace, supporter, chat, saas, analysis) for
//! several tenants over `days` days ending at `end`: a daily rhythm with quiet nights and
//! weekends, a few very active users and many quiet ones, entities registered before they are
//! referenced, about 1% of events arriving a few hours late, and `bad_ratio` of lines broken in
//! one of the [`BadKind`] ways.
//!
//! Invariants:
//! - the same [`WorkloadConfig`] gives byte-identical output (one ChaCha8 stream seeded from
//!   `seed`; event ids come from it, never from the OS or the clock);
//! - [`Workload`] yields exactly `config.events` lines;
//! - every good line is an envelope whose payload satisfies its contract in `lake/contracts`.
//!
//! ```
//! use eventlake_workload::{WorkloadConfig, write_ndjson};
//! let config = WorkloadConfig { events: 1_000, ..WorkloadConfig::default() };
//! let mut out = Vec::new();
//! let summary = write_ndjson(config, &mut out).unwrap();
//! assert_eq!(summary.total(), 1_000);
//! assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1_000);
//! ```

#![warn(missing_docs)]

mod clock;
mod config;
mod entities;
mod events;
mod faults;
mod json;
mod taxonomy;
mod truth;

use std::collections::VecDeque;
use std::io::{BufWriter, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use config::{Mix, WorkloadConfig};
pub use faults::BadKind;
pub use truth::{Planted, to_json as truth_json};

use clock::{Clock, HOUR_US, SECOND_US};
use events::Generator;

/// Share of events that arrive late (behind the stream position).
const LATE_SHARE: f64 = 0.01;
/// Duplicates repeat one of this many most recent good lines.
const RETRY_WINDOW: usize = 1024;

/// One NDJSON record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The record, without the trailing newline.
    pub bytes: Vec<u8>,
    /// Why the record is bad, or `None` for a good record.
    pub bad: Option<BadKind>,
}

/// Counts of the lines written by [`write_ndjson`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Good lines.
    pub good: u64,
    /// Bad lines per kind, indexed in the order of [`BadKind::ALL`].
    pub bad: [u64; 6],
}

impl Summary {
    /// Bad lines of `kind`.
    pub fn bad_of(&self, kind: BadKind) -> u64 {
        self.bad[kind as usize]
    }

    /// All bad lines.
    pub fn bad_total(&self) -> u64 {
        self.bad.iter().sum()
    }

    /// All lines.
    pub fn total(&self) -> u64 {
        self.good + self.bad_total()
    }

    fn record(&mut self, line: &Line) {
        match line.bad {
            None => self.good += 1,
            Some(kind) => self.bad[kind as usize] += 1,
        }
    }
}

/// The last good lines, for client-retry duplicates.
struct RecentLines {
    slots: Vec<Vec<u8>>,
    next: usize,
}

impl RecentLines {
    fn push(&mut self, line: &[u8]) {
        if self.slots.len() < RETRY_WINDOW {
            self.slots.push(line.to_vec());
        } else {
            let slot = &mut self.slots[self.next];
            slot.clear();
            slot.extend_from_slice(line);
        }
        self.next = (self.next + 1) % RETRY_WINDOW;
    }
}

/// Iterator over the lines of a workload; see the crate docs.
pub struct Workload {
    rng: ChaCha8Rng,
    clock: Clock,
    generator: Generator,
    events: u64,
    emitted: u64,
    bad_ratio: f64,
    /// Faults decided but not yet planted, oldest first; a fault waits when the current line
    /// cannot carry it (a registering event, or no field to break).
    owed: VecDeque<BadKind>,
    next_kind: usize,
    recent: RecentLines,
}

impl Workload {
    /// A workload that will yield exactly `config.events` lines.
    pub fn new(config: WorkloadConfig) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            clock: Clock::new(config.end, config.days, config.events),
            generator: Generator::new(config.seed, config.tenants, config.mix),
            events: config.events,
            emitted: 0,
            bad_ratio: config.effective_bad_ratio(),
            owed: VecDeque::new(),
            next_kind: 0,
            recent: RecentLines {
                slots: Vec::with_capacity(RETRY_WINDOW),
                next: 0,
            },
        }
    }

    fn next_line(&mut self) -> Line {
        let seq = self.emitted;
        let rng = &mut self.rng;
        let position = self.clock.position(seq, rng.random());
        if rng.random::<f64>() < self.bad_ratio {
            self.owed
                .push_back(BadKind::ALL[self.next_kind % BadKind::ALL.len()]);
            self.next_kind += 1;
        }
        let owed = self.owed.front().copied();
        if owed == Some(BadKind::DuplicateEventId) && !self.recent.slots.is_empty() {
            self.owed.pop_front();
            let i = rng.random_range(0..self.recent.slots.len());
            return Line {
                bytes: self.recent.slots[i].clone(),
                bad: owed,
            };
        }
        let at = if rng.random_bool(LATE_SHARE) {
            let late = rng.random_range(60 * SECOND_US..4 * HOUR_US);
            (position - late).max(self.clock.start_us())
        } else {
            position
        };
        let ty = self.generator.write(rng, seq, at);
        let good = self.generator.line();
        if let Some(kind) = owed
            && !ty.registers()
            && let Some(bytes) = faults::plant(kind, ty, good, rng)
        {
            self.owed.pop_front();
            return Line {
                bytes,
                bad: Some(kind),
            };
        }
        self.recent.push(good);
        Line {
            bytes: good.to_vec(),
            bad: None,
        }
    }
}

impl Workload {
    /// Matching ground truth planted in the lines yielded so far (see [`Planted`]).
    pub fn truth(&self) -> &[Planted] {
        self.generator.truth()
    }
}

impl Iterator for Workload {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        if self.emitted >= self.events {
            return None;
        }
        let line = self.next_line();
        self.emitted += 1;
        Some(line)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.events - self.emitted).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

/// Writes the workload of `config` to `out` as NDJSON (one record per line) and counts what
/// was written.
pub fn write_ndjson(config: WorkloadConfig, out: &mut impl Write) -> std::io::Result<Summary> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut summary = Summary::default();
    for line in Workload::new(config) {
        out.write_all(&line.bytes)?;
        out.write_all(b"\n")?;
        summary.record(&line);
    }
    out.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests;
