//! The stream clock: where in time line `i` of `n` sits.
//!
//! The window `[end - days, end)` is cut into hours, each weighted by a daily rhythm (busy in
//! working hours, quiet at night), a weekend dip and a slow growth trend. Line `i` is placed at
//! the `(i + u) / n` quantile of that weight, `u` uniform in `[0, 1)`.
//!
//! Invariant: positions are non-decreasing in `i` (the quantile grows and the hour cursor only
//! moves forward), so the stream is emitted in `occurred_at` order apart from deliberate late
//! events.

use chrono::{DateTime, Datelike, Utc, Weekday};

pub(crate) const SECOND_US: i64 = 1_000_000;
pub(crate) const HOUR_US: i64 = 3_600 * SECOND_US;
pub(crate) const DAY_US: i64 = 24 * HOUR_US;

/// Relative activity per UTC hour of a weekday.
const DAILY_RHYTHM: [f64; 24] = [
    0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.35, 0.65, 0.95, 1.15, 1.25, 1.25, 1.15, 1.2, 1.25, 1.25,
    1.15, 1.0, 0.9, 0.85, 0.75, 0.6, 0.4, 0.22,
];
const WEEKEND_FACTOR: f64 = 0.45;

pub(crate) struct Clock {
    start_us: i64,
    /// `cumulative[h]` = total weight of the hours before hour `h`; one entry more than hours.
    cumulative: Vec<f64>,
    lines: u64,
    hour: usize,
}

impl Clock {
    pub(crate) fn new(end: DateTime<Utc>, days: u32, lines: u64) -> Self {
        let days = days.max(1);
        let hours = days as usize * 24;
        let start_us = end.timestamp_micros() - i64::from(days) * DAY_US;
        let mut cumulative = Vec::with_capacity(hours + 1);
        let mut total = 0.0;
        cumulative.push(total);
        for h in 0..hours {
            let at = DateTime::from_timestamp_micros(start_us + h as i64 * HOUR_US)
                .expect("window within chrono's range");
            let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
            let trend = 0.8 + 0.4 * h as f64 / hours as f64;
            let day_factor = if weekend { WEEKEND_FACTOR } else { 1.0 };
            total += DAILY_RHYTHM[h % 24] * day_factor * trend;
            cumulative.push(total);
        }
        Self {
            start_us,
            cumulative,
            lines: lines.max(1),
            hour: 0,
        }
    }

    pub(crate) fn start_us(&self) -> i64 {
        self.start_us
    }

    /// Stream position of line `index`, in microseconds since the epoch; `u` in `[0, 1)`.
    pub(crate) fn position(&mut self, index: u64, u: f64) -> i64 {
        let hours = self.cumulative.len() - 1;
        let total = self.cumulative[hours];
        let target = (index as f64 + u) / self.lines as f64 * total;
        while self.hour + 1 < hours && self.cumulative[self.hour + 1] <= target {
            self.hour += 1;
        }
        let low = self.cumulative[self.hour];
        let width = self.cumulative[self.hour + 1] - low;
        let max_frac = (HOUR_US - 1) as f64 / HOUR_US as f64;
        let frac = ((target - low) / width).clamp(0.0, max_frac);
        self.start_us + self.hour as i64 * HOUR_US + (frac * HOUR_US as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn positions_are_ordered_and_inside_the_window() {
        let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut clock = Clock::new(end, 10, 10_000);
        let mut last = i64::MIN;
        for i in 0..10_000 {
            let p = clock.position(i, (i % 7) as f64 / 7.0);
            assert!(p >= last);
            assert!(p >= clock.start_us() && p < end.timestamp_micros());
            last = p;
        }
    }
}
