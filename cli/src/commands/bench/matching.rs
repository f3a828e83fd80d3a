//! `eventlake bench matching`: the matching jobs on generated marketplaces of growing size.
//! For each size: generate (marketplace mix, a fifth as many postings as parties, planted
//! truth), ingest, build silver, then time the bare engine (candidates, scoring, top-k) and
//! each matching job (load, compute, data tests, Delta commit), with the process's peak
//! memory over the matching jobs, and evaluate quality beside the baselines.
//!
//! The reference for speed is the cross product the engine avoids: the table shows the pairs
//! the index yielded beside parties × roles, and time per candidate across sizes (flat means
//! linear in candidates).

use std::time::Instant;

use anyhow::{Context as _, Result};
use eventlake_jobs::{Project, RunOptions};
use eventlake_lake::{Lake, query};
use eventlake_matching::{Config, engine, evaluate, load};
use eventlake_workload::{Mix, WorkloadConfig};

use super::jobs::Quiet;
use crate::Context;
use crate::args::MatchingBenchArgs;
use crate::commands::{generate, ingest, matching};

/// Events per party in the marketplace mix (500 registrations in 900 events).
const EVENTS_PER_PARTY: f64 = 1.8;

struct Row {
    parties: u64,
    opportunities: usize,
    roles: u64,
    stats: engine::Stats,
    engine_s: f64,
    jobs: Vec<(String, f64)>,
    /// Resident memory before the matching jobs (the allocator keeps what earlier steps
    /// freed), and the peak while they ran.
    before_mb: Option<f64>,
    peak_mb: Option<f64>,
}

pub async fn run(ctx: &Context, args: &MatchingBenchArgs) -> Result<()> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("eventlake-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &parties in &args.parties {
        rows.push(size(ctx, &dir, parties).await?);
    }
    println!(
        "\n| parties | open postings | roles | candidates | cross product | scored | matches | engine (s) | µs / candidate | gold_matches job (s) | teams (s) | mentorship (s) | barter (s) | RSS before the matching jobs (MB) | peak RSS during them (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let job = |name: &str| {
            r.jobs
                .iter()
                .find(|(j, _)| j == name)
                .map_or(String::new(), |(_, s)| format!("{s:.2}"))
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.3} | {} | {} | {} | {} | {} | {} |",
            r.parties,
            r.opportunities,
            r.roles,
            r.stats.candidates,
            r.parties * r.roles,
            r.stats.scored,
            r.stats.matches,
            r.engine_s,
            r.engine_s * 1e6 / r.stats.candidates.max(1) as f64,
            job("gold_matches"),
            job("gold_team_suggestions"),
            job("gold_mentorship_pairs"),
            job("gold_barter_cycles"),
            r.before_mb.map_or("n/a".into(), |m| format!("{m:.0}")),
            r.peak_mb.map_or("n/a".into(), |m| format!("{m:.0}")),
        );
    }
    Ok(())
}

async fn size(ctx: &Context, dir: &std::path::Path, parties: u64) -> Result<Row> {
    let events = (parties as f64 * EVENTS_PER_PARTY) as u64;
    let input = dir.join(format!("marketplace-{parties}.ndjson"));
    let config = WorkloadConfig {
        events,
        bad_ratio: 0.0,
        mix: Mix::Marketplace,
        ..WorkloadConfig::default()
    };
    let truth = generate::write_file(config.clone(), &input, false)?;
    let lake_dir = dir.join(format!("matching-lake-{parties}"));
    let _ = std::fs::remove_dir_all(&lake_dir);
    let lake = Lake::new(lake_dir.to_str().context("lake path is not UTF-8")?)?;
    let file = eventlake_ingest::source::file::FileInput {
        path: Some(input),
        source_id: None,
    };
    ingest::run_file(&lake, &file, ctx.config.ingest.clone(), false).await?;
    let project = Project::builtin()?;
    let options = RunOptions {
        full_refresh: true,
        from: None,
        to: None,
        as_of: config.end.date_naive(),
    };
    let silver: Vec<String> = [
        "silver_parties",
        "silver_opportunities",
        "silver_match_feedback",
    ]
    .iter()
    .map(|s| format!("+{s}"))
    .collect();
    crate::commands::jobs::check(
        &eventlake_jobs::run(&lake, &project, &silver, &options, &Quiet).await?,
    )?;

    // The bare engine, on the same inputs the job will load.
    let session = query::session(&lake).await?;
    let inputs = load::inputs(&session).await?;
    let started = Instant::now();
    let (_, stats) = engine::run(&inputs, &Config::builtin());
    let engine_s = started.elapsed().as_secs_f64();
    let roles: u64 = inputs
        .opportunities
        .iter()
        .map(|o| o.roles.len().max(1) as u64)
        .sum();
    let opportunities = inputs.opportunities.len();
    drop(inputs);

    let before_mb = rss_mb("VmRSS:");
    reset_peak_rss();
    let mut jobs = Vec::new();
    for job in [
        "gold_matches",
        "gold_team_suggestions",
        "gold_mentorship_pairs",
        "gold_barter_cycles",
    ] {
        let runs =
            eventlake_jobs::run(&lake, &project, &[job.to_owned()], &options, &Quiet).await?;
        crate::commands::jobs::check(&runs)?;
        jobs.push((job.to_owned(), runs[0].duration_ms() as f64 / 1000.0));
    }
    let peak_mb = rss_mb("VmHWM:");

    let session = query::session(&lake).await?;
    let truth_file = dir.join(format!("marketplace-{parties}.truth.json"));
    generate::write_truth(&truth, &truth_file)?;
    let truth = evaluate::Truth::read(&truth_file)?;
    let reports = evaluate::published(&session, &truth, 10).await?;
    println!(
        "\n{parties} parties, {opportunities} open postings: quality against the planted truth"
    );
    matching::print_reports(&reports, 10)?;
    Ok(Row {
        parties,
        opportunities,
        roles,
        stats,
        engine_s,
        jobs,
        before_mb,
        peak_mb,
    })
}

/// Resets the kernel's peak-RSS mark of this process (Linux; no-op elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of this process from `/proc/self/status`, in MB: `VmRSS:` (now) or
/// `VmHWM:` (peak since the last reset). Linux only.
fn rss_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
