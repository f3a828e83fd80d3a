//! A minimal JSON writer for the hot path (one good line per call, no intermediate values).
//!
//! Invariant: the output is valid JSON when `begin_*`/`end_*` calls balance and every value in
//! an object follows a `key`. Strings are escaped; floats are written with a fixed number of
//! decimals so they always read back as floats, never as integers.

use std::io::Write;

pub(crate) struct JsonWriter {
    buf: Vec<u8>,
    needs_comma: bool,
}

impl JsonWriter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
            needs_comma: false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.needs_comma = false;
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn separate(&mut self) {
        if self.needs_comma {
            self.buf.push(b',');
        }
    }

    pub(crate) fn begin_object(&mut self) {
        self.separate();
        self.buf.push(b'{');
        self.needs_comma = false;
    }

    pub(crate) fn end_object(&mut self) {
        self.buf.push(b'}');
        self.needs_comma = true;
    }

    pub(crate) fn begin_array(&mut self) {
        self.separate();
        self.buf.push(b'[');
        self.needs_comma = false;
    }

    pub(crate) fn end_array(&mut self) {
        self.buf.push(b']');
        self.needs_comma = true;
    }

    pub(crate) fn key(&mut self, key: &str) {
        self.separate();
        self.escaped(key);
        self.buf.push(b':');
        self.needs_comma = false;
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.separate();
        self.escaped(value);
        self.needs_comma = true;
    }

    /// A string value built from format arguments. The caller guarantees the formatted text
    /// needs no escaping (ids, dates, ASCII words).
    pub(crate) fn str_args(&mut self, args: std::fmt::Arguments<'_>) {
        self.separate();
        self.buf.push(b'"');
        self.buf
            .write_fmt(args)
            .expect("writing to a Vec cannot fail");
        self.buf.push(b'"');
        self.needs_comma = true;
    }

    pub(crate) fn int(&mut self, value: i64) {
        self.separate();
        write!(self.buf, "{value}").expect("writing to a Vec cannot fail");
        self.needs_comma = true;
    }

    pub(crate) fn float(&mut self, value: f64, decimals: usize) {
        self.separate();
        write!(self.buf, "{value:.decimals$}").expect("writing to a Vec cannot fail");
        self.needs_comma = true;
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.separate();
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
        self.needs_comma = true;
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for a time in microseconds since the epoch.
    pub(crate) fn timestamp(&mut self, micros: i64) {
        let at = chrono::DateTime::from_timestamp_micros(micros)
            .expect("generated times are within chrono's range")
            .naive_utc();
        let frac = micros.rem_euclid(1_000_000);
        use chrono::{Datelike, Timelike};
        self.str_args(format_args!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{frac:06}Z",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ));
    }

    /// `YYYY-MM-DD` of a time in microseconds since the epoch.
    pub(crate) fn date(&mut self, micros: i64) {
        let day = chrono::DateTime::from_timestamp_micros(micros)
            .expect("generated times are within chrono's range")
            .date_naive();
        self.str_args(format_args!("{day}"));
    }

    fn escaped(&mut self, s: &str) {
        self.buf.push(b'"');
        for &b in s.as_bytes() {
            match b {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                0..=0x1f => write!(self.buf, "\\u{b:04x}").expect("writing to a Vec cannot fail"),
                _ => self.buf.push(b),
            }
        }
        self.buf.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut w = JsonWriter::with_capacity(64);
        w.begin_object();
        w.key("a");
        w.str("q\"uo\\te\n");
        w.key("b");
        w.begin_array();
        w.int(-3);
        w.float(2.0, 2);
        w.bool(true);
        w.begin_object();
        w.end_object();
        w.end_array();
        w.key("t");
        w.timestamp(1_782_908_096_123_456);
        w.end_object();
        let v: serde_json::Value = serde_json::from_slice(w.bytes()).unwrap();
        assert_eq!(v["a"], "q\"uo\\te\n");
        assert!(v["b"][1].is_f64());
        assert_eq!(v["t"], "2026-07-01T12:14:56.123456Z");
    }
}
