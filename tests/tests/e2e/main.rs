//! End-to-end tests: the `eventlake` binary and the ingest library against real local lakes.

mod aws;
mod crash;
mod file_ingest;
mod golden;
mod http;
mod jobs;
mod kinesis;
mod matching;
mod point_in_time;
mod python_reader;
mod replicas;
mod s3;
mod serving;
