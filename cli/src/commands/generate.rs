//! `eventlake generate`: the seeded workload as NDJSON to a file or stdout.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use eventlake_workload::{Mix, Planted, Workload, WorkloadConfig};

use crate::args::{GenerateArgs, MixArg, WorkloadArgs};

impl WorkloadArgs {
    pub fn config(&self) -> Result<WorkloadConfig> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.bad_ratio),
            "--bad-ratio must be between 0 and 1, got {}",
            self.bad_ratio
        );
        anyhow::ensure!(self.days >= 1, "--days must be at least 1");
        anyhow::ensure!(self.tenants >= 1, "--tenants must be at least 1");
        Ok(WorkloadConfig {
            events: self.events,
            seed: self.seed,
            bad_ratio: self.bad_ratio,
            days: self.days,
            tenants: self.tenants,
            mix: match self.mix {
                MixArg::All => Mix::All,
                MixArg::Marketplace => Mix::Marketplace,
            },
            ..WorkloadConfig::default()
        })
    }
}

#[cfg(feature = "kinesis")]
use super::kinesis::put as to_kinesis;

#[cfg(not(feature = "kinesis"))]
async fn to_kinesis(_: WorkloadConfig, _: &str) -> Result<Vec<Planted>> {
    Err(super::without("kinesis", "generate --to kinesis://"))
}

pub async fn run(args: &GenerateArgs) -> Result<()> {
    let config = args.workload.config()?;
    let truth = if let Some(to) = &args.to {
        to_kinesis(config, to).await?
    } else if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        write(config, &mut stdout.lock(), None)?
    } else {
        write_file(config, &args.out, true)?
    };
    if let Some(path) = &args.truth {
        write_truth(&truth, path)?;
        eprintln!(
            "planted ground truth for {} opportunities in {}",
            truth.len(),
            path.display()
        );
    }
    Ok(())
}

/// Writes planted matching ground truth as JSON (see `eventlake matching evaluate`).
pub fn write_truth(truth: &[Planted], path: &Path) -> Result<()> {
    std::fs::write(path, eventlake_workload::truth_json(truth))
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes the workload to `path`, with a progress bar if `show` is set; returns the planted
/// matching ground truth.
pub fn write_file(config: WorkloadConfig, path: &Path, show: bool) -> Result<Vec<Planted>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let bar = show.then(|| crate::progress::count(config.events, "generate"));
    let truth = write(
        config,
        &mut BufWriter::with_capacity(1 << 20, file),
        bar.as_ref(),
    )?;
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(truth)
}

fn write(
    config: WorkloadConfig,
    out: &mut impl Write,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Vec<Planted>> {
    let mut workload = Workload::new(config);
    for (i, line) in (&mut workload).enumerate() {
        out.write_all(&line.bytes)?;
        out.write_all(b"\n")?;
        if let Some(bar) = bar
            && i % 10_000 == 0
        {
            bar.set_position(i as u64);
        }
    }
    out.flush()?;
    Ok(workload.truth().to_vec())
}
