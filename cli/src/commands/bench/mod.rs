//! `eventlake bench …`: each capability measured beside its reference in one run.

pub mod collector;
pub mod ingest;
pub mod jobs;
pub mod kinesis;
pub mod matching;
pub mod serve;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use eventlake_workload::WorkloadConfig;

use crate::args::BenchArgs;
use crate::commands::generate;

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
