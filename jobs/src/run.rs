//! One invocation of the runner: the selected jobs in dependency order, each recorded in
//! `ops.job_runs` as it ends, and `run_results.json` at the end.
//!
//! Invariant: a job runs only if every selected job it reads from ended `success` or
//! `up_to_date` in this invocation; otherwise it is recorded as `skipped`.

use std::collections::BTreeSet;

use chrono::Utc;
use eventlake_lake::Lake;

use crate::definition::Job;
use crate::error::Result;
use crate::execute::{RunOptions, execute};
use crate::project::Project;
use crate::record::{self, JobRun, RunResults, Status};

/// Hooks for progress display.
pub trait Observer: Send + Sync {
    /// A job is about to run (`position` counts from 1).
    fn started(&self, job: &Job, position: usize, total: usize);
    /// A job ended.
    fn finished(&self, run: &JobRun);
}

/// Runs the jobs the selectors name; returns their records in the order they ran.
pub async fn run(
    lake: &Lake,
    project: &Project,
    selectors: &[String],
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<Vec<JobRun>> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let started_at = Utc::now();
    let jobs = project.select(selectors)?;
    let watermarks = record::watermarks(lake).await?;
    let mut not_ok: BTreeSet<String> = BTreeSet::new();
    let mut runs = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        observer.started(job, i + 1, jobs.len());
        let blocked: Vec<&str> = project
            .parents(job)
            .into_iter()
            .filter(|p| not_ok.contains(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        let run = if blocked.is_empty() {
            execute(lake, job, options, &run_id, watermarks.get(&job.name)).await
        } else {
            skipped(job, &run_id, &blocked)
        };
        if !run.status.is_ok() {
            not_ok.insert(job.name.clone());
        }
        record::append(lake, &run).await?;
        observer.finished(&run);
        runs.push(run);
    }
    let results = RunResults {
        run_id: &run_id,
        started_at,
        finished_at: Utc::now(),
        success: runs.iter().all(|r| r.status.is_ok()),
        results: &runs,
    };
    record::write_results(lake, &results).await?;
    Ok(runs)
}

fn skipped(job: &Job, run_id: &str, blocked: &[&str]) -> JobRun {
    let now = Utc::now();
    JobRun {
        run_id: run_id.to_owned(),
        job: job.name.clone(),
        status: Status::Skipped,
        started_at: now,
        finished_at: now,
        rows_written: 0,
        strategy: job.materialization.strategy.as_str().to_owned(),
        full_refresh: false,
        window_from: None,
        window_to: None,
        input_versions: Default::default(),
        output_table: job.output.to_string(),
        output_version: None,
        tests: Vec::new(),
        warnings: Vec::new(),
        error: Some(format!("upstream did not succeed: {}", blocked.join(", "))),
    }
}
