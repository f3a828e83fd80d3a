//! `eventlake jobs list | run | status | schedule | compile`.

use std::sync::Arc;

use anyhow::{Result, bail};
use chrono::Utc;
use eventlake_jobs::{Body, Job, JobRun, Observer, Project, RunOptions};
use indicatif::ProgressBar;

use crate::Context;
use crate::args::{Format, JobsCommand, JobsCompileArgs, JobsRunArgs, ProjectArgs};
use crate::commands::sql;
use crate::output::print_rows;

pub async fn run(ctx: &Context, command: JobsCommand) -> Result<()> {
    match command {
        JobsCommand::List(args) => list(&args),
        JobsCommand::Run(args) => {
            let runs = run_jobs(ctx, &args, true).await?;
            print_summary(&runs)?;
            check(&runs)
        }
        JobsCommand::Status(args) => status(ctx, &args).await,
        JobsCommand::Schedule(args) => schedule(ctx, &args).await,
        JobsCommand::Compile(args) => compile(&args),
    }
}

/// Loads the built-in jobs or the `--jobs-dir` folder.
pub fn project(args: &ProjectArgs) -> Result<Project> {
    Ok(match &args.jobs_dir {
        Some(dir) => Project::from_dir(dir)?,
        None => Project::builtin()?,
    })
}

fn list(args: &ProjectArgs) -> Result<()> {
    let project = project(args)?;
    let rows: Vec<Vec<String>> = project
        .jobs()
        .iter()
        .map(|j| {
            vec![
                j.name.clone(),
                j.output.to_string(),
                kind(j).to_owned(),
                j.materialization.strategy.as_str().to_owned(),
                j.reads
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                j.schedule.clone().unwrap_or_default(),
                j.tests.len().to_string(),
            ]
        })
        .collect();
    print_rows(
        &[
            "job", "output", "kind", "strategy", "reads", "schedule", "tests",
        ],
        &rows,
    )
}

fn kind(job: &Job) -> &'static str {
    match job.body {
        Body::Sql(_) => "sql",
        Body::Silver { .. } => "silver",
        Body::Matching { .. } => "matching",
    }
}

/// Progress on stderr: one bar over the jobs, naming the one running.
struct Bar(ProgressBar);

impl Observer for Bar {
    fn started(&self, job: &Job, position: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(position as u64 - 1);
        self.0.set_message(job.name.clone());
    }

    fn finished(&self, run: &JobRun) {
        self.0.inc(1);
        if !run.status.is_ok() {
            self.0.suspend(|| {
                eprintln!(
                    "{}: {} — {}",
                    run.job,
                    run.status.as_str(),
                    run.error.as_deref().unwrap_or("")
                )
            });
        }
    }
}

/// Runs the selected jobs with a progress bar; returns their records.
pub async fn run_jobs(ctx: &Context, args: &JobsRunArgs, progress: bool) -> Result<Vec<JobRun>> {
    let lake = ctx.lake()?;
    let project = project(&args.project)?;
    let options = RunOptions {
        full_refresh: args.full_refresh,
        from: args.from,
        to: args.to,
        as_of: args.as_of.unwrap_or_else(|| Utc::now().date_naive()),
    };
    let bar = if progress {
        crate::progress::count(0, "jobs")
    } else {
        ProgressBar::hidden()
    };
    let observer = Bar(bar);
    let runs = eventlake_jobs::run(&lake, &project, &args.select, &options, &observer).await?;
    observer.0.finish_and_clear();
    Ok(runs)
}

/// The end-of-run table, then the failing rows of any failed data test.
pub fn print_summary(runs: &[JobRun]) -> Result<()> {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let passed = r.tests.iter().filter(|t| t.passed).count();
            let window = match (r.full_refresh, r.window_from) {
                (true, _) => "rebuild".to_owned(),
                (false, Some(from)) => format!("from {from}"),
                _ => String::new(),
            };
            vec![
                r.job.clone(),
                r.status.as_str().to_owned(),
                r.rows_written.to_string(),
                format!("{:.2}", r.duration_ms() as f64 / 1000.0),
                window,
                format!("{passed}/{}", r.tests.len()),
                r.output_version.map(|v| v.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    print_rows(
        &[
            "job", "status", "rows", "seconds", "window", "tests", "version",
        ],
        &rows,
    )?;
    for run in runs.iter().filter(|r| !r.status.is_ok()) {
        println!(
            "\n{} {}: {}",
            run.job,
            run.status.as_str(),
            run.error.as_deref().unwrap_or("")
        );
        for test in run.tests.iter().filter(|t| t.blocks()) {
            println!(
                "  test {} failed on {} row(s), e.g.:",
                test.name, test.failures
            );
            for row in &test.sample {
                println!("    {row}");
            }
        }
    }
    for run in runs.iter().filter(|r| !r.warnings.is_empty()) {
        for warning in &run.warnings {
            println!("warning: {}: {warning}", run.job);
        }
    }
    let ok = runs.iter().filter(|r| r.status.is_ok()).count();
    println!(
        "\n{ok} of {} job(s) succeeded or were up to date; {} row(s) written.",
        runs.len(),
        runs.iter().map(|r| r.rows_written).sum::<u64>()
    );
    Ok(())
}

/// Fails when any job did not succeed, so the command exits non-zero.
pub fn check(runs: &[JobRun]) -> Result<()> {
    let bad: Vec<&str> = runs
        .iter()
        .filter(|r| !r.status.is_ok())
        .map(|r| r.job.as_str())
        .collect();
    if !bad.is_empty() {
        bail!("{} job(s) did not succeed: {}", bad.len(), bad.join(", "));
    }
    Ok(())
}

async fn status(ctx: &Context, args: &ProjectArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let project = project(args)?;
    let has_runs = lake.exists(&eventlake_jobs::record::table()).await?;
    let batches = if has_runs {
        sql::execute(
            &lake,
            "SELECT job, status, finished_at, rows_written, duration_ms, output_version, error FROM (
                SELECT *, row_number() OVER (PARTITION BY job ORDER BY finished_at DESC) AS n
                FROM ops.job_runs) WHERE n = 1 ORDER BY job",
        )
        .await?
    } else {
        Vec::new()
    };
    crate::output::print(&batches, Format::Table)?;
    let never: Vec<&str> = project
        .jobs()
        .iter()
        .map(|j| j.name.as_str())
        .filter(|name| !has_runs || !batches_mention(&batches, name))
        .collect();
    if !never.is_empty() {
        println!("never run: {}", never.join(", "));
    }
    Ok(())
}

fn batches_mention(batches: &[arrow::array::RecordBatch], name: &str) -> bool {
    batches.iter().any(|b| {
        let jobs = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
            .expect("job names are strings");
        let jobs = jobs
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("cast to Utf8");
        jobs.iter().any(|j| j == Some(name))
    })
}

/// Logs each scheduled run as it ends.
struct Log;

impl Observer for Log {
    fn started(&self, job: &Job, _: usize, _: usize) {
        tracing::info!(job = %job.name, "scheduled run started");
    }

    fn finished(&self, run: &JobRun) {
        tracing::info!(
            job = %run.job,
            status = run.status.as_str(),
            rows = run.rows_written,
            ms = run.duration_ms(),
            "scheduled run ended"
        );
    }
}

async fn schedule(ctx: &Context, args: &ProjectArgs) -> Result<()> {
    let project = Arc::new(project(args)?);
    let scheduled = project
        .jobs()
        .iter()
        .filter(|j| j.schedule.is_some())
        .count();
    eprintln!(
        "scheduling {scheduled} job(s), compaction ({}) and vacuum ({}); Ctrl-C to stop",
        ctx.config.maintain.compact_schedule, ctx.config.maintain.vacuum_schedule
    );
    eventlake_jobs::schedule::schedule(
        ctx.lake()?,
        Arc::new(ctx.config.clone()),
        project,
        Arc::new(Log),
        crate::commands::ingest::shutdown_signal(),
    )
    .await?;
    Ok(())
}

fn compile(args: &JobsCompileArgs) -> Result<()> {
    let project = project(&args.project)?;
    let Some(job) = project.jobs().iter().find(|j| j.name == args.name) else {
        bail!("no job named `{}`", args.name);
    };
    let as_of = args.as_of.unwrap_or_else(|| Utc::now().date_naive());
    println!("{}", eventlake_jobs::compile(job, as_of)?);
    Ok(())
}
