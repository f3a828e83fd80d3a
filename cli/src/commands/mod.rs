//! One module per subcommand.

#[cfg(feature = "catalog")]
pub mod catalog;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod jobs;
#[cfg(feature = "kinesis")]
pub mod kinesis;
pub mod maintain;
pub mod matching;
pub mod serve;
pub mod sql;

/// The error of a command this build was compiled without.
#[cfg(any(not(feature = "kinesis"), not(feature = "catalog")))]
pub fn without(feature: &str, command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`{command}` is not in this build: rebuild with `cargo build --release --features {feature}` \
         (or `--features aws` for every AWS part)"
    )
}
