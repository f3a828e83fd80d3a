//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod jobs;
pub mod matching;
pub mod serve;
pub mod sql;
