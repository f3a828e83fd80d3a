//! The set of jobs and their dependency graph: job B depends on job A when B reads A's output.
//!
//! Invariant: a [`Project`] has unique job names and outputs, no cycles, and its jobs are
//! stored in a dependency order (every job after the jobs whose outputs it reads).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::definition::Job;
use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/defs.rs"));

/// All jobs, in dependency order.
#[derive(Debug, Clone)]
pub struct Project {
    jobs: Vec<Job>,
}

impl Project {
    /// The jobs shipped in this build (`jobs/defs/`).
    pub fn builtin() -> Result<Self> {
        Self::from_files(
            EMBEDDED
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect(),
        )
    }

    /// Loads every `*.toml` job in a directory, with the `*.sql` files beside them.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })
        };
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Read {
            path: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| Error::Read {
                    path: dir.to_owned(),
                    source,
                })?
                .path();
            if path.extension().is_some_and(|e| e == "toml" || e == "sql") {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                files.push((name, read(&path)?));
            }
        }
        Self::from_files(files)
    }

    fn from_files(mut files: Vec<(String, String)>) -> Result<Self> {
        files.sort();
        let sql: BTreeMap<&str, &str> = files
            .iter()
            .filter(|(f, _)| f.ends_with(".sql"))
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        let jobs = files
            .iter()
            .filter(|(f, _)| f.ends_with(".toml"))
            .map(|(f, t)| Job::parse(f, t, |name| sql.get(name).map(|s| s.to_string())))
            .collect::<Result<Vec<_>>>()?;
        Self::new(jobs)
    }

    /// Checks names, outputs and cycles, and orders the jobs.
    pub fn new(jobs: Vec<Job>) -> Result<Self> {
        let mut names = BTreeSet::new();
        let mut outputs = BTreeMap::new();
        for job in &jobs {
            let bad = |reason: String| Error::Definition {
                file: job.file.clone(),
                reason,
            };
            if !names.insert(job.name.clone()) {
                return Err(bad(format!("job name `{}` is used twice", job.name)));
            }
            if let Some(other) = outputs.insert(job.output.clone(), job.name.clone()) {
                return Err(bad(format!("job `{other}` already writes {}", job.output)));
            }
        }
        // Kahn's algorithm, taking ready jobs in name order so the order is stable.
        let producer = |t| outputs.get(t).cloned();
        let mut pending: BTreeMap<String, BTreeSet<String>> = jobs
            .iter()
            .map(|j| {
                let deps = j
                    .reads
                    .iter()
                    .filter_map(producer)
                    .filter(|d| d != &j.name)
                    .collect();
                (j.name.clone(), deps)
            })
            .collect();
        let mut by_name: BTreeMap<String, Job> =
            jobs.into_iter().map(|j| (j.name.clone(), j)).collect();
        let mut ordered = Vec::new();
        while !pending.is_empty() {
            let ready: Vec<String> = pending
                .iter()
                .filter(|(_, deps)| deps.is_empty())
                .map(|(n, _)| n.clone())
                .collect();
            if ready.is_empty() {
                let cycle: Vec<&str> = pending.keys().map(String::as_str).collect();
                return Err(Error::Definition {
                    file: "jobs".into(),
                    reason: format!("dependency cycle among: {}", cycle.join(", ")),
                });
            }
            for name in ready {
                pending.remove(&name);
                for deps in pending.values_mut() {
                    deps.remove(&name);
                }
                ordered.push(by_name.remove(&name).expect("every pending job is known"));
            }
        }
        Ok(Self { jobs: ordered })
    }

    /// Every job, in dependency order.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The jobs a job reads from directly.
    pub fn parents(&self, job: &Job) -> Vec<&Job> {
        self.jobs
            .iter()
            .filter(|p| p.name != job.name && job.reads.contains(&p.output))
            .collect()
    }

    /// Resolves selectors (`name`, `name+` with descendants, `+name` with ancestors, `+name+`)
    /// into jobs in dependency order; no selector selects everything.
    pub fn select(&self, selectors: &[String]) -> Result<Vec<&Job>> {
        if selectors.is_empty() {
            return Ok(self.jobs.iter().collect());
        }
        let mut chosen = BTreeSet::new();
        for selector in selectors {
            let up = selector.starts_with('+');
            let down = selector.ends_with('+') && selector.len() > 1;
            let name = selector.trim_matches('+');
            let job = self
                .jobs
                .iter()
                .find(|j| j.name == name)
                .ok_or_else(|| Error::Selector(selector.clone()))?;
            chosen.insert(job.name.clone());
            if up {
                chosen.extend(self.closure(job, |j| self.parents(j)));
            }
            if down {
                chosen.extend(self.closure(job, |j| self.children(j)));
            }
        }
        Ok(self
            .jobs
            .iter()
            .filter(|j| chosen.contains(&j.name))
            .collect())
    }

    fn children(&self, job: &Job) -> Vec<&Job> {
        self.jobs
            .iter()
            .filter(|c| c.name != job.name && c.reads.contains(&job.output))
            .collect()
    }

    fn closure<'a>(
        &'a self,
        start: &'a Job,
        next: impl Fn(&'a Job) -> Vec<&'a Job>,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(job) = stack.pop() {
            for n in next(job) {
                if seen.insert(n.name.clone()) {
                    stack.push(n);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, output: &str, reads: &[&str]) -> (String, String) {
        let reads: Vec<String> = reads.iter().map(|r| format!("{r:?}")).collect();
        (
            format!("{name}.toml"),
            format!(
                "output = {output:?}\nreads = [{}]\nsql = \"q.sql\"\n[materialization]\nstrategy = \"table\"\n",
                reads.join(", ")
            ),
        )
    }

    fn project() -> Project {
        Project::from_files(vec![
            job("c", "gold.c", &["silver.b"]),
            job("a", "silver.a", &["bronze.events"]),
            job("b", "silver.b", &["silver.a"]),
            job("d", "gold.d", &["silver.a"]),
            ("q.sql".into(), "SELECT 1".into()),
        ])
        .unwrap()
    }

    fn names(jobs: Vec<&Job>) -> Vec<&str> {
        jobs.into_iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn orders_by_dependencies() {
        let p = project();
        assert_eq!(names(p.select(&[]).unwrap()), ["a", "b", "d", "c"]);
    }

    #[test]
    fn selectors_take_ancestors_and_descendants() {
        let p = project();
        let sel = |s: &str| names(p.select(&[s.to_owned()]).unwrap());
        assert_eq!(sel("b"), ["b"]);
        assert_eq!(sel("b+"), ["b", "c"]);
        assert_eq!(sel("+b"), ["a", "b"]);
        assert_eq!(sel("a+"), ["a", "b", "d", "c"]);
        assert!(p.select(&["zzz".into()]).is_err());
    }

    #[test]
    fn cycles_are_refused() {
        let err = Project::from_files(vec![
            job("a", "silver.a", &["silver.b"]),
            job("b", "silver.b", &["silver.a"]),
            ("q.sql".into(), "SELECT 1".into()),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
    }

    #[test]
    fn builtin_jobs_load() {
        let p = Project::builtin().unwrap();
        assert!(!p.jobs().is_empty());
    }
}
