//! `eventlake bench …`: each capability measured beside its reference in one run.

pub mod ingest;
pub mod jobs;

use std::ffi::OsStr;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

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
