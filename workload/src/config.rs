//! What workload to generate.
//!
//! Invariant: a [`WorkloadConfig`] fully determines the output. Nothing else (clock, OS
//! randomness, environment) feeds the generator, so the same config gives byte-identical lines.

use chrono::{DateTime, TimeZone, Utc};

/// Parameters of a generated workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadConfig {
    /// Number of lines to emit, good and bad together.
    pub events: u64,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Share of bad lines, in `[0, 1]`; spread evenly over the [`crate::BadKind`]s.
    pub bad_ratio: f64,
    /// Length of the time window the stream covers, in days.
    pub days: u32,
    /// End of the time window (exclusive).
    pub end: DateTime<Utc>,
    /// How many tenants share the applications (at least 1).
    pub tenants: u32,
    /// Which event types to draw.
    pub mix: Mix,
}

/// Which event types a workload draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mix {
    /// All five applications, in their usual proportions.
    #[default]
    All,
    /// Marketplace events only, about five party registrations per posting (matching
    /// benchmarks and quality evaluation).
    Marketplace,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            events: 100_000,
            seed: 7,
            bad_ratio: 0.02,
            days: 120,
            end: Utc
                .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .single()
                .expect("a valid constant date"),
            tenants: 4,
            mix: Mix::All,
        }
    }
}

impl WorkloadConfig {
    /// The bad ratio clamped to `[0, 1]` (NaN counts as 0).
    pub(crate) fn effective_bad_ratio(&self) -> f64 {
        if self.bad_ratio.is_nan() {
            0.0
        } else {
            self.bad_ratio.clamp(0.0, 1.0)
        }
    }
}
