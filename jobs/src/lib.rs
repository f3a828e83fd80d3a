//! A dbt-like job runner over the lake: jobs are SQL (or a Rust body) plus a TOML config, form
//! a dependency graph through the tables they read, and publish each output in one Delta
//! commit after their data tests pass. Every run is recorded in `ops.job_runs`.
//!
//! Invariant: a job's output is replaced all at once or not at all (the `execute` module), and a
//! job whose upstream did not succeed in the same invocation is skipped, not run on stale data.

#![warn(missing_docs)]

mod candidate;
mod changes;
mod data_test;
mod definition;
mod error;
mod execute;
mod project;
mod publish;
pub mod record;
mod run;
pub mod schedule;
mod silver;
mod template;
pub mod views;
mod window;

pub use definition::{Body, Check, DataTest, Job, Materialization, Severity, Strategy, parse_cron};
pub use error::{Error, Result};
pub use execute::RunOptions;
pub use project::Project;
pub use record::{JobRun, Status};
pub use run::{Observer, run};
pub use silver::quarantine_table;

/// A SQL job's query with its placeholders filled in for a full rebuild as of `as_of` (what
/// `eventlake jobs compile` prints, and what the benchmark hands to DuckDB).
pub fn compile(job: &Job, as_of: chrono::NaiveDate) -> Result<String> {
    let Body::Sql(sql) = &job.body else {
        return Err(Error::Job {
            job: job.name.clone(),
            reason: "only SQL jobs have SQL to compile ([silver] and [matching] jobs are Rust)"
                .into(),
        });
    };
    let vars = template::Vars {
        from: window::min_date(),
        to: window::max_date(),
        as_of,
        run_id: "compiled".into(),
        is_incremental: false,
        this: job.output.to_string(),
    };
    template::render(sql, &vars).map_err(|reason| Error::Job {
        job: job.name.clone(),
        reason,
    })
}
