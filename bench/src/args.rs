//! The command line: the configuration file of `eventlake`, then one benchmark (each makes its
//! own lakes in its working directory).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The benchmark harness's command line.
#[derive(Debug, Parser)]
#[command(
    name = "eventlake-bench",
    version,
    about = "eventlake's capabilities, each measured beside its reference in one run."
)]
pub struct Cli {
    /// Configuration file (TOML), as for `eventlake`.
    #[arg(long, global = true, env = "EVENTLAKE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// NDJSON → committed Delta, beside the arrow-json+Parquet ceiling and DuckDB.
    Ingest(BenchArgs),
    /// The whole job graph on a generated lake, with the gold queries beside DuckDB.
    Jobs(BenchArgs),
    /// The matching jobs at growing marketplace sizes: time, peak memory, candidates, and
    /// quality beside the random and Jaccard baselines.
    Matching(MatchingBenchArgs),
    /// The serving API under wrk beside an axum hello-world in the same process, and the
    /// snapshot's memory per million matches.
    Serve(ServeBenchArgs),
    /// The Kinesis consumer over an in-process stream beside `ingest file` of the same events.
    Kinesis(KinesisBenchArgs),
    /// The HTTP collector as one process beside two on one lake (each batch to one, then to
    /// both): the cost of exact de-duplication across writers.
    Collector(CollectorBenchArgs),
    /// Compaction: a DuckDB `delta_scan` aggregate before and after `maintain`, and ingest
    /// throughput alone and beside `maintain` compacting in a loop.
    Maintain(MaintainBenchArgs),
}

#[derive(Debug, Args)]
pub struct MaintainBenchArgs {
    /// Number of generated events (each of the two workloads).
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Commits the lake is built from (files the workload is dealt into).
    #[arg(long, default_value_t = 100)]
    pub commits: usize,
    /// Python interpreter with `duckdb` and `duckdb-extension-delta` (1.5.5).
    #[arg(long, env = "EVENTLAKE_BENCH_PYTHON")]
    pub python: Option<PathBuf>,
    /// Working directory (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CollectorBenchArgs {
    #[command(flatten)]
    pub bench: BenchArgs,
    /// Events per request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
}

#[derive(Debug, Args)]
pub struct KinesisBenchArgs {
    #[command(flatten)]
    pub bench: BenchArgs,
    /// In-process shards (each read at the service's pace: 5 calls/s, 10 000 records a call).
    #[arg(long, default_value_t = 8)]
    pub shards: usize,
}

#[derive(Debug, Args)]
pub struct ServeBenchArgs {
    /// Matches in the synthetic gold.matches (20 per opportunity).
    #[arg(long, default_value_t = 1_000_000)]
    pub matches: u64,
    /// wrk connections at peak load.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Working directory, reused across runs (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MatchingBenchArgs {
    /// Party counts to run, comma-separated; each gets a fifth as many postings.
    #[arg(long, value_delimiter = ',', default_value = "10000,30000,100000")]
    pub parties: Vec<u64>,
    /// Working directory (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of generated events.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Python interpreter with the `duckdb` package; DuckDB is skipped without one.
    #[arg(long, env = "EVENTLAKE_BENCH_PYTHON")]
    pub python: Option<PathBuf>,
    /// Working directory for the generated file and outputs (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
