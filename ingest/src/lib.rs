//! Exactly-once ingest of events into the bronze Delta tables.
//!
//! Sources ([`source::file`], [`source::http`], and with their features Kinesis and Lambda) turn their input into
//! [`Record`]s; [`decode`] validates each against the contracts (pure, parallel-safe); the
//! [`Ingestor`] classifies, buffers and commits them with the source checkpoint.

#![warn(missing_docs)]

mod buffer;
pub mod error;
pub mod ingestor;
pub mod position;
pub mod record;
mod replay;
pub mod report;
pub mod seen;
pub mod source;

pub use error::{Error, Result};
pub use ingestor::{ENDED, FlushError, Flushed, Ingestor, Mark, Outcome};
pub use record::{Decoded, Event, Record, decode, decode_all};
pub use report::Report;
