//! `jobs schedule`: runs each job with a `schedule` when its cron expression comes due, and
//! the built-in maintenance (compaction with a log checkpoint, and vacuum, over every table) on
//! the crons of `[maintain]`, until told to stop.
//!
//! Invariant: a task never overlaps with itself (a tick that finds it still running is skipped
//! and logged), and one task's failure never stops the loop or the other tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use eventlake_lake::maintain::{self, Steps};
use eventlake_lake::{Config, Lake};

use crate::definition::parse_cron;
use crate::error::{Error, Result};
use crate::execute::RunOptions;
use crate::project::Project;
use crate::run::{Observer, run};

/// Name of the scheduled compaction (with a log checkpoint) of every table.
pub const COMPACT: &str = "maintain:compact";
/// Name of the scheduled vacuum of every table.
pub const VACUUM: &str = "maintain:vacuum";

/// What the scheduler runs.
#[derive(Clone)]
enum Task {
    /// A job of the project, by name.
    Job(String),
    /// Maintenance steps over every table.
    Maintain(Steps),
}

/// Runs due tasks until `shutdown` resolves; waits for running tasks before returning.
pub async fn schedule(
    lake: Lake,
    config: Arc<Config>,
    project: Arc<Project>,
    observer: Arc<dyn Observer>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut crons = BTreeMap::new();
    for job in project.jobs() {
        if let Some(expr) = &job.schedule {
            let cron = parse_cron(expr).expect("checked when the job loaded");
            crons.insert(job.name.clone(), (cron, Task::Job(job.name.clone())));
        }
    }
    let maintenance = [
        (
            COMPACT,
            &config.maintain.compact_schedule,
            Steps {
                compact: true,
                vacuum: false,
                checkpoint: true,
            },
        ),
        (
            VACUUM,
            &config.maintain.vacuum_schedule,
            Steps {
                compact: false,
                vacuum: true,
                checkpoint: false,
            },
        ),
    ];
    for (name, expr, steps) in maintenance {
        let cron = parse_cron(expr).map_err(|reason| Error::Schedule {
            task: name.to_owned(),
            reason,
        })?;
        crons.insert(name.to_owned(), (cron, Task::Maintain(steps)));
    }
    let next_after = |name: &str, after: DateTime<Utc>| {
        crons[name]
            .0
            .find_next_occurrence(&after, false)
            .expect("a valid cron has a next occurrence")
    };
    let now = Utc::now();
    let mut next: BTreeMap<String, DateTime<Utc>> = crons
        .keys()
        .map(|n| (n.clone(), next_after(n, now)))
        .collect();
    tracing::info!(tasks = next.len(), "scheduler started");
    let running: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let Some(due) = next.values().min().copied() else {
            shutdown.await;
            break;
        };
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        }
        let now = Utc::now();
        for (name, at) in next.iter_mut() {
            if *at > now {
                continue;
            }
            *at = next_after(name, now);
            if !running.lock().expect("not poisoned").insert(name.clone()) {
                tracing::warn!(task = %name, "still running from the previous tick; tick skipped");
                continue;
            }
            let (lake, config, project, observer, running) = (
                lake.clone(),
                config.clone(),
                project.clone(),
                observer.clone(),
                running.clone(),
            );
            let name = name.clone();
            let task = crons[&name].1.clone();
            tasks.spawn(async move {
                match task {
                    Task::Job(job) => run_job(&lake, &project, &job, observer.as_ref()).await,
                    Task::Maintain(steps) => run_maintenance(&lake, &config, &name, steps).await,
                }
                running.lock().expect("not poisoned").remove(&name);
            });
        }
    }
    tracing::info!(
        running = tasks.len(),
        "scheduler stopping; waiting for running jobs"
    );
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn run_job(lake: &Lake, project: &Project, name: &str, observer: &dyn Observer) {
    let options = RunOptions {
        full_refresh: false,
        from: None,
        to: None,
        as_of: Utc::now().date_naive(),
    };
    match run(lake, project, &[name.to_owned()], &options, observer).await {
        Ok(runs) => {
            for r in runs.iter().filter(|r| !r.status.is_ok()) {
                tracing::error!(job = %r.job, status = r.status.as_str(), error = ?r.error, "scheduled run did not succeed");
            }
        }
        Err(e) => tracing::error!(job = %name, error = %e, "scheduled run failed"),
    }
}

/// One maintenance pass over every table; a table that fails is logged and the rest go on.
async fn run_maintenance(lake: &Lake, config: &Config, name: &str, steps: Steps) {
    let tables = match lake.tables().await {
        Ok(tables) => tables,
        Err(e) => {
            tracing::error!(task = name, error = %e, "cannot list the lake's tables");
            return;
        }
    };
    for table in tables {
        // Each table's outcome is logged by `maintain` itself.
        if let Err(e) = maintain::maintain(lake, &table, config, steps, false).await {
            tracing::error!(task = name, table = %table, error = %e, "maintenance failed");
        }
    }
}
