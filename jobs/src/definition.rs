//! Job definitions: a TOML file per job, with its SQL beside it (`name.sql`), a `[silver]`
//! section for the Rust job that decodes bronze payloads into a typed entity table, or a
//! `[matching]` section for one output of the matching engine.
//!
//! Invariant: a [`Job`] that loaded is internally consistent: its materialisation has the keys
//! its strategy needs, its SQL exists, its schedule parses and each data test names one check.

use croner::Cron;
use eventlake_lake::TableName;
use serde::Deserialize;

use crate::error::{Error, Result};

/// One job, ready to plan and run.
#[derive(Debug, Clone)]
pub struct Job {
    /// Unique name of the job: the file's `name`, else the file stem.
    pub name: String,
    /// What the job computes, for people; may be empty.
    pub description: String,
    /// The file it was defined in, for messages.
    pub file: String,
    /// The table it writes.
    pub output: TableName,
    /// Tables it reads: its edges in the dependency graph.
    pub reads: Vec<TableName>,
    /// What computes its rows.
    pub body: Body,
    /// How its rows are written into `output`.
    pub materialization: Materialization,
    /// Cron expression (5 fields, or 6 with seconds) for `jobs schedule`.
    pub schedule: Option<String>,
    /// Checks on the candidate output, run before it is published.
    pub tests: Vec<DataTest>,
    /// Age limits on inputs' latest commits; each names a table in `reads`.
    pub freshness: Vec<Freshness>,
}

/// What computes the job's rows.
#[derive(Debug, Clone)]
pub enum Body {
    /// DataFusion SQL with `{{ from }}`, `{{ to }}`, `{{ as_of }}`, `{{ run_id }}`,
    /// `{{ is_incremental }}` and `{{ this }}` placeholders.
    Sql(String),
    /// Decode these event types from `bronze.events` into a typed entity table.
    Silver {
        /// The event types decoded (`donation.made`); each needs a built-in contract.
        event_types: Vec<String>,
    },
    /// One output of the matching engine (`eventlake-matching`), with its built-in weights.
    Matching {
        /// The gold table the engine computes for this job.
        output: eventlake_matching::Output,
    },
}

/// How the job's rows replace or join the table's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Materialization {
    /// How new rows are written into the output.
    pub strategy: Strategy,
    /// Partition column of the output (a date column for `replace_partitions`).
    pub partition_by: Option<String>,
    /// Columns identifying a row, for `append` (de-duplication) and `merge`.
    pub unique_key: Vec<String>,
    /// Days re-read before the earliest changed input partition, for late events.
    pub lookback_days: u32,
}

/// The materialisation strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Full replace on every run.
    Table,
    /// New rows whose key is not in the table yet are added.
    Append,
    /// The partitions of the run's date window are replaced.
    ReplacePartitions,
    /// Rows are upserted on the unique key.
    Merge,
}

impl Strategy {
    /// The strategy's name in job files (`replace_partitions`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Table => "table",
            Strategy::Append => "append",
            Strategy::ReplacePartitions => "replace_partitions",
            Strategy::Merge => "merge",
        }
    }

    /// Whether a run builds on the existing output (every strategy but `table`).
    pub fn is_incremental(self) -> bool {
        self != Strategy::Table
    }
}

/// A check run on the job's new output before it is published.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    /// Name in reports: the file's `name`, else derived from the check (`unique(a, b)`).
    pub name: String,
    /// What is checked; a test names exactly one check.
    pub check: Check,
    /// `error` (default) blocks the publish; `warn` is recorded and reported only.
    pub severity: Severity,
}

/// Whether a failing data test blocks the publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failure fails the run and leaves the output unchanged.
    #[default]
    Error,
    /// A failure is recorded and reported; the output is still published.
    Warn,
}

/// The kinds of data test.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// No two rows share the values of these columns (at least one).
    Unique(Vec<String>),
    /// None of these columns (at least one) is null in any row.
    NotNull(Vec<String>),
    /// Every non-null value of a column, compared as text, is one of a list.
    AcceptedValues {
        /// The column checked.
        column: String,
        /// The allowed values, as text.
        values: Vec<String>,
    },
    /// Every non-null value of a column exists in a field of another table (a foreign key).
    Relationships {
        /// The column of the job's output holding the reference.
        column: String,
        /// The table referred to.
        to: TableName,
        /// The column of `to` the reference must match.
        field: String,
    },
    /// A query over `{{ this }}` that must return no rows.
    Sql(String),
}

/// How old an input's latest commit may be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub table: String,
    pub warn_after_hours: Option<f64>,
    pub error_after_hours: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    #[serde(default)]
    description: String,
    output: String,
    reads: Vec<String>,
    sql: Option<String>,
    silver: Option<SilverFile>,
    matching: Option<MatchingFile>,
    materialization: MaterializationFile,
    schedule: Option<String>,
    #[serde(default)]
    tests: Vec<TestFile>,
    #[serde(default)]
    freshness: Vec<Freshness>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilverFile {
    event_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchingFile {
    output: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterializationFile {
    strategy: Strategy,
    partition_by: Option<String>,
    #[serde(default)]
    unique_key: Vec<String>,
    #[serde(default)]
    lookback_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    name: Option<String>,
    #[serde(default)]
    severity: Severity,
    unique: Option<Vec<String>>,
    not_null: Option<Vec<String>>,
    accepted_values: Option<AcceptedValuesFile>,
    relationships: Option<RelationshipsFile>,
    sql: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptedValuesFile {
    column: String,
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationshipsFile {
    column: String,
    to: String,
    field: String,
}

fn table(text: &str) -> Result<TableName, String> {
    text.parse()
}

impl Job {
    /// Parses a job file named `file` (the job is named after it unless `name` is given);
    /// `sql` finds a sibling SQL file by name.
    pub fn parse(file: &str, text: &str, sql: impl Fn(&str) -> Option<String>) -> Result<Job> {
        let bad = |reason: String| Error::Definition {
            file: file.to_owned(),
            reason,
        };
        let parsed: File = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        let stem = file
            .rsplit('/')
            .next()
            .unwrap_or(file)
            .trim_end_matches(".toml");
        let name = parsed.name.unwrap_or_else(|| stem.to_owned());
        let body = match (parsed.silver, parsed.matching, parsed.sql) {
            (Some(silver), None, None) => Body::Silver {
                event_types: silver.event_types,
            },
            (None, Some(matching), None) => Body::Matching {
                output: eventlake_matching::Output::parse(&matching.output).ok_or_else(|| {
                    bad(format!(
                        "`{}` is not a matching output (one of: {})",
                        matching.output,
                        eventlake_matching::Output::ALL.map(|o| o.name()).join(", ")
                    ))
                })?,
            },
            (None, None, sql_file) => {
                let sql_file = sql_file.unwrap_or_else(|| format!("{stem}.sql"));
                Body::Sql(
                    sql(&sql_file)
                        .ok_or_else(|| bad(format!("SQL file `{sql_file}` not found")))?,
                )
            }
            _ => {
                return Err(bad(
                    "give one of `sql`, `[silver]` or `[matching]`, not several".into(),
                ));
            }
        };
        let m = parsed.materialization;
        let materialization = Materialization {
            strategy: m.strategy,
            partition_by: m.partition_by,
            unique_key: m.unique_key,
            lookback_days: m.lookback_days,
        };
        match materialization.strategy {
            Strategy::Append | Strategy::Merge if materialization.unique_key.is_empty() => {
                return Err(bad(format!(
                    "strategy `{}` needs `unique_key` (it makes re-runs idempotent)",
                    materialization.strategy.as_str()
                )));
            }
            Strategy::ReplacePartitions if materialization.partition_by.is_none() => {
                return Err(bad(
                    "strategy `replace_partitions` needs `partition_by`".into()
                ));
            }
            _ => {}
        }
        if let Some(cron) = &parsed.schedule {
            parse_cron(cron).map_err(bad)?;
        }
        if let Some(f) = parsed
            .freshness
            .iter()
            .find(|f| !parsed.reads.contains(&f.table))
        {
            return Err(bad(format!(
                "freshness names {}, which the job does not read",
                f.table
            )));
        }
        let tests = parsed
            .tests
            .into_iter()
            .map(|t| t.into_test())
            .collect::<Result<Vec<_>, String>>()
            .map_err(bad)?;
        Ok(Job {
            name,
            description: parsed.description,
            file: file.to_owned(),
            output: table(&parsed.output).map_err(bad)?,
            reads: parsed
                .reads
                .iter()
                .map(|t| table(t))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            body,
            materialization,
            schedule: parsed.schedule,
            tests,
            freshness: parsed.freshness,
        })
    }
}

impl Job {
    /// A fingerprint of what the job computes and how it publishes (FNV-1a over its SQL, or
    /// its event types and their contracts' schemas, and its materialisation); tests and
    /// schedule do not count.
    pub fn fingerprint(&self) -> u64 {
        let body = match &self.body {
            Body::Sql(sql) => sql.clone(),
            Body::Silver { event_types } => event_types
                .iter()
                .map(|t| {
                    let schema = eventlake_lake::Contracts::builtin()
                        .get(t)
                        .map(|c| format!("{:?}", c.schema))
                        .unwrap_or_default();
                    format!("{t}={schema}")
                })
                .collect::<Vec<_>>()
                .join(","),
            Body::Matching { output } => {
                format!(
                    "matching:{}:{}",
                    output.name(),
                    eventlake_matching::config::BUILTIN
                )
            }
        };
        let text = format!("{body}\u{0}{:?}\u{0}{}", self.materialization, self.output);
        // Kept within i64 so it survives the JSON round trip of `input_versions` anywhere.
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }) >> 1
    }
}

/// Parses a cron expression of 5 fields (minute precision) or 6 (with seconds first).
/// An expression that never comes due (`0 0 30 2 *`) is refused here, not found by the
/// scheduler.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let cron = Cron::new(text)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("schedule `{text}`: {e}"))?;
    cron.find_next_occurrence(&chrono::Utc::now(), false)
        .map_err(|e| format!("schedule `{text}` never comes due: {e}"))?;
    Ok(cron)
}

impl TestFile {
    fn into_test(self) -> Result<DataTest, String> {
        let mut checks = Vec::new();
        if let Some(cols) = self.unique {
            checks.push((format!("unique({})", cols.join(", ")), Check::Unique(cols)));
        }
        if let Some(cols) = self.not_null {
            checks.push((
                format!("not_null({})", cols.join(", ")),
                Check::NotNull(cols),
            ));
        }
        if let Some(a) = self.accepted_values {
            checks.push((
                format!("accepted_values({})", a.column),
                Check::AcceptedValues {
                    column: a.column,
                    values: a.values,
                },
            ));
        }
        if let Some(r) = self.relationships {
            let to = table(&r.to)?;
            checks.push((
                format!("relationships({} -> {}.{})", r.column, r.to, r.field),
                Check::Relationships {
                    column: r.column,
                    to,
                    field: r.field,
                },
            ));
        }
        if let Some(sql) = self.sql {
            checks.push(("sql".to_owned(), Check::Sql(sql)));
        }
        if checks.iter().any(
            |(_, c)| matches!(c, Check::Unique(cols) | Check::NotNull(cols) if cols.is_empty()),
        ) {
            return Err("a unique or not_null test needs at least one column".into());
        }
        if checks.len() != 1 {
            return Err(format!(
                "a data test names exactly one of unique, not_null, accepted_values, relationships, sql (found {})",
                checks.len()
            ));
        }
        let (default_name, check) = checks.pop().expect("one");
        Ok(DataTest {
            name: self.name.unwrap_or(default_name),
            check,
            severity: self.severity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Job> {
        Job::parse("defs/x.toml", text, |f| {
            (f == "x.sql").then(|| "SELECT 1".to_owned())
        })
    }

    #[test]
    fn parses_a_sql_job() {
        let job = parse(
            r#"
            output = "gold.x"
            reads = ["silver.a"]
            schedule = "*/5 * * * *"
            [materialization]
            strategy = "replace_partitions"
            partition_by = "day"
            lookback_days = 2
            [[tests]]
            unique = ["a", "b"]
            [[tests]]
            name = "positive"
            sql = "SELECT * FROM {{ this }} WHERE n < 0"
            "#,
        )
        .unwrap();
        assert_eq!(job.name, "x");
        assert_eq!(job.output.to_string(), "gold.x");
        assert!(matches!(job.body, Body::Sql(ref s) if s == "SELECT 1"));
        assert_eq!(job.tests[0].name, "unique(a, b)");
        assert_eq!(job.tests[1].name, "positive");
    }

    #[test]
    fn merge_needs_a_key_and_tests_name_one_check() {
        let err = parse("output = \"gold.x\"\nreads = []\n[materialization]\nstrategy = \"merge\"")
            .unwrap_err();
        assert!(err.to_string().contains("unique_key"), "{err}");
        let err = parse(
            "output = \"gold.x\"\nreads = []\n[materialization]\nstrategy = \"table\"\n[[tests]]\nunique = [\"a\"]\nnot_null = [\"a\"]",
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    #[test]
    fn cron_with_and_without_seconds() {
        assert!(parse_cron("0 * * * *").is_ok());
        assert!(parse_cron("*/2 * * * * *").is_ok());
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("0 0 30 2 *").is_err(), "30 February never comes");
    }
}
