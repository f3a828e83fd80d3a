//! The first test lane: the `eventlake` binary Cargo built for this run and the ingest library
//! against real local lakes. Needs nothing but Rust: `cargo test --workspace` runs it.

#[path = "../support/mod.rs"]
mod support;

mod crash;
mod file_ingest;
mod golden;
mod http;
mod jobs;
mod maintain;
mod matching;
mod point_in_time;
mod replicas;
