//! Sources that feed the ingest core. Each one turns its input into [`crate::Record`]s with a
//! checkpoint key and sequence, resumes from the committed checkpoint, and drives the
//! [`crate::Ingestor`]'s flush triggers.

pub mod file;
pub mod http;
#[cfg(feature = "kinesis")]
pub mod kinesis;
#[cfg(feature = "lambda")]
pub mod lambda;
