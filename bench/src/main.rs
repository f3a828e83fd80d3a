//! `eventlake-bench`: each capability of eventlake measured beside its reference in one run
//! (DuckDB, arrow-json with Parquet, an axum hello-world, `ingest file`, one collector beside
//! two, a lake before and after compaction). A contributor's tool, not part of the product:
//! it spawns Python and wrk and reads `/proc`. The code measured is the product's own, through
//! the `eventlake` library; where a benchmark needs the product as a separate process, it runs
//! this binary as `eventlake-bench eventlake …`, which is exactly the `eventlake` command line.

mod args;
mod collector;
mod ingest;
mod jobs;
mod kinesis;
mod maintain;
mod matching;
mod serve;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use eventlake::Context;
use eventlake_lake::telemetry::{self, LogFormat};
use eventlake_workload::WorkloadConfig;

use crate::args::{BenchArgs, BenchCommand, Cli};
use eventlake::commands::generate;

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = if std::env::args_os().nth(1).is_some_and(|a| a == PRODUCT) {
        // The product's own command line, for benchmarks that run it as a child process.
        let cli = eventlake::args::Cli::parse_from(std::env::args_os().skip(1));
        telemetry::init(match cli.log_format {
            eventlake::args::LogFormat::Pretty => LogFormat::Pretty,
            eventlake::args::LogFormat::Json => LogFormat::Json,
        });
        runtime.block_on(eventlake::run(cli))
    } else {
        let cli = Cli::parse();
        telemetry::init(LogFormat::Pretty);
        runtime.block_on(run(cli))
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::load(None, cli.config.as_deref())?;
    match cli.command {
        BenchCommand::Ingest(args) => ingest::run(&ctx, &args).await,
        BenchCommand::Jobs(args) => jobs::run(&ctx, &args).await,
        BenchCommand::Matching(args) => matching::run(&ctx, &args).await,
        BenchCommand::Serve(args) => serve::run(&args).await,
        BenchCommand::Kinesis(args) => kinesis::run(&ctx, &args).await,
        BenchCommand::Collector(args) => collector::run(&args).await,
        BenchCommand::Maintain(args) => maintain::run(&ctx, &args).await,
    }
}

/// The first argument that makes this binary the `eventlake` command.
const PRODUCT: &str = "eventlake";

/// A child process running the `eventlake` command line (this binary, in product mode).
fn product() -> Result<std::process::Command> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg(PRODUCT);
    Ok(cmd)
}

/// The working directory and the generated input (no bad records, so every reference can read
/// it), generated once per directory and event count and reused by later runs.
fn input(args: &BenchArgs) -> Result<(PathBuf, PathBuf)> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("eventlake-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let input = dir.join(format!("events-{}.ndjson", args.events));
    if !input.exists() {
        let config = WorkloadConfig {
            events: args.events,
            bad_ratio: 0.0,
            ..WorkloadConfig::default()
        };
        generate::write_file(config, &input, true)?;
    }
    Ok((dir, input))
}

/// Runs a Python script with arguments; returns its standard output.
fn python(python: &Path, script: &str, args: &[&OsStr]) -> Result<String> {
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "Python reference run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
