//! `eventlake-bench matching`: the matching jobs on generated marketplaces of growing size.
//! For each size: generate (marketplace mix, a fifth as many postings as parties, planted
//! truth), ingest, build silver, then time the bare engine (candidates, scoring, top-k) and
//! each matching job (load, compute, data tests, Delta commit) in its own `eventlake jobs run`
//! process with that process's peak memory, and evaluate quality beside the baselines.
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

use crate::args::MatchingBenchArgs;
use crate::jobs::Quiet;
use eventlake::Context;
use eventlake::commands::{generate, ingest, matching};

/// Events per party in the marketplace mix (500 registrations in 900 events).
const EVENTS_PER_PARTY: f64 = 1.8;

struct Row {
    parties: u64,
    opportunities: usize,
    roles: u64,
    stats: engine::Stats,
    engine_s: f64,
    jobs: Vec<Timed>,
}

/// One matching job run in its own process.
struct Timed {
    job: String,
    seconds: f64,
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
        "\n| parties | open postings | roles | candidates | cross product | scored | matches | engine (s) | µs / candidate | gold_matches job (s) | teams (s) | mentorship (s) | barter (s) | peak RSS, gold_matches process (MB) | peak RSS, other matching jobs (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let job = |name: &str| {
            r.jobs
                .iter()
                .find(|t| t.job == name)
                .map_or(String::new(), |t| format!("{:.2}", t.seconds))
        };
        let mb = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.0}"));
        let others = r
            .jobs
            .iter()
            .filter(|t| t.job != "gold_matches")
            .filter_map(|t| t.peak_mb)
            .reduce(f64::max);
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
            mb(r.jobs.first().and_then(|t| t.peak_mb)),
            mb(others),
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
    eventlake::commands::jobs::check(
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

    // Each job in its own process, as `jobs run` runs it, so its peak memory is its own.
    let mut jobs = Vec::new();
    for job in [
        "gold_matches",
        "gold_team_suggestions",
        "gold_mentorship_pairs",
        "gold_barter_cycles",
    ] {
        jobs.push(child_job(&lake_dir, job, options.as_of)?);
    }

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
    })
}

/// Runs one job in a child `eventlake jobs run`, polling its peak resident memory (Linux
/// `VmHWM`, which only grows) until it exits; returns its wall time and that peak.
fn child_job(lake: &std::path::Path, job: &str, as_of: chrono::NaiveDate) -> Result<Timed> {
    let started = Instant::now();
    let mut child = crate::product()?
        .arg("--lake")
        .arg(lake)
        .args(["jobs", "run", "--full-refresh", "-s", job, "--as-of"])
        .arg(as_of.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting a child eventlake")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_mb: Option<f64> = None;
    let status = loop {
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        }) {
            peak_mb = Some(peak_mb.unwrap_or(0.0).max(kb / 1024.0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    anyhow::ensure!(
        status.success(),
        "`eventlake jobs run -s {job}` failed: {status}"
    );
    Ok(Timed {
        job: job.to_owned(),
        seconds: started.elapsed().as_secs_f64(),
        peak_mb,
    })
}
