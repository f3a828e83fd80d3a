//! `jobs schedule`: runs each job with a `schedule` when its cron expression comes due, until
//! told to stop.
//!
//! Invariant: a job never overlaps with itself (a tick that finds it still running is skipped
//! and logged), and one job's failure never stops the loop or the other jobs.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use eventlake_lake::Lake;

use crate::definition::parse_cron;
use crate::error::Result;
use crate::execute::RunOptions;
use crate::project::Project;
use crate::run::{Observer, run};

/// Runs due jobs until `shutdown` resolves; waits for running jobs before returning.
pub async fn schedule(
    lake: Lake,
    project: Arc<Project>,
    observer: Arc<dyn Observer>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut crons = BTreeMap::new();
    for job in project.jobs() {
        if let Some(expr) = &job.schedule {
            let cron = parse_cron(expr).expect("checked when the job loaded");
            crons.insert(job.name.clone(), cron);
        }
    }
    let next_after = |name: &str, after: DateTime<Utc>| {
        crons[name]
            .find_next_occurrence(&after, false)
            .expect("a valid cron has a next occurrence")
    };
    let now = Utc::now();
    let mut next: BTreeMap<String, DateTime<Utc>> = crons
        .keys()
        .map(|n| (n.clone(), next_after(n, now)))
        .collect();
    tracing::info!(jobs = next.len(), "scheduler started");
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
                tracing::warn!(job = %name, "still running from the previous tick; tick skipped");
                continue;
            }
            let (lake, project, observer, running) = (
                lake.clone(),
                project.clone(),
                observer.clone(),
                running.clone(),
            );
            let name = name.clone();
            tasks.spawn(async move {
                let options = RunOptions {
                    full_refresh: false,
                    from: None,
                    to: None,
                    as_of: Utc::now().date_naive(),
                };
                match run(&lake, &project, std::slice::from_ref(&name), &options, observer.as_ref()).await {
                    Ok(runs) => {
                        for r in runs.iter().filter(|r| !r.status.is_ok()) {
                            tracing::error!(job = %r.job, status = r.status.as_str(), error = ?r.error, "scheduled run did not succeed");
                        }
                    }
                    Err(e) => tracing::error!(job = %name, error = %e, "scheduled run failed"),
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
