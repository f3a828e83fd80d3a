//! The second test lane, against peers outside Rust: moto (S3, DynamoDB, Glue, Athena) and
//! kinesis-mock for the AWS paths, the Python readers (deltalake, pyarrow, DuckDB, Polars,
//! sqlglot, `matching`, schemathesis) and chromium. `.ci/run` installs and starts them and runs this lane with
//! `--features peer-tests`; a test whose peer is missing fails, saying how to install it.

#[path = "../support/mod.rs"]
mod support;

mod analysts;
mod athena;
mod aws;
mod catalog;
mod kinesis;
mod lambda;
mod landed;
mod python_matching;
mod python_reader;
mod s3;
mod serving;
