//! Data tests: queries over the candidate output (`__candidate`: the table as it would be after
//! the publish) that must return no rows.
//!
//! Invariant: tests run before the publish commit, so a failing test leaves the table as it was.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;

use crate::definition::{Check, DataTest};
use crate::error::Result;
use crate::record::TestResult;
use crate::template::{Vars, render};

/// Name the candidate output is registered under while tests run.
pub const CANDIDATE: &str = "__candidate";

/// How many failing rows a result shows.
const SAMPLE: usize = 5;

/// How much of each failing row a result shows.
const SAMPLE_CHARS: usize = 300;

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The query whose rows are the test's failures.
pub fn failing_rows_sql(test: &DataTest, vars: &Vars) -> Result<String, String> {
    Ok(match &test.check {
        Check::Unique(cols) => {
            let cols = cols.join(", ");
            format!(
                "SELECT {cols}, count(*) AS copies FROM {CANDIDATE} GROUP BY {cols} HAVING count(*) > 1"
            )
        }
        Check::NotNull(cols) => {
            let any_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NULL")).collect();
            format!("SELECT * FROM {CANDIDATE} WHERE {}", any_null.join(" OR "))
        }
        Check::AcceptedValues { column, values } => {
            let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
            format!(
                "SELECT {column}, count(*) AS rows FROM {CANDIDATE} \
                 WHERE {column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({}) GROUP BY {column}",
                values.join(", ")
            )
        }
        Check::Relationships { column, to, field } => format!(
            "SELECT c.{column}, count(*) AS rows FROM {CANDIDATE} c \
             WHERE c.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {to} p WHERE p.{field} = c.{column}) \
             GROUP BY c.{column}"
        ),
        Check::Sql(sql) => render(
            sql,
            &Vars {
                this: CANDIDATE.to_owned(),
                ..vars.clone()
            },
        )?,
    })
}

/// Runs a `SELECT count(*) …` query and returns the count.
pub async fn count(ctx: &SessionContext, sql: &str) -> Result<u64> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
        })
        .map_or(0, |a| a.value(0) as u64))
}

/// Runs one test against the registered candidate.
pub async fn run(ctx: &SessionContext, test: &DataTest, vars: &Vars) -> Result<TestResult> {
    let sql = failing_rows_sql(test, vars).map_err(|reason| crate::error::Error::DataTest {
        test: test.name.clone(),
        reason,
    })?;
    let failures = count(ctx, &format!("SELECT count(*) FROM ({sql})")).await?;
    let mut sample = Vec::new();
    if failures > 0 {
        let rows = ctx
            .sql(&format!("{sql} LIMIT {SAMPLE}"))
            .await?
            .collect()
            .await?;
        let options = FormatOptions::default().with_null("NULL");
        for batch in &rows {
            let schema = batch.schema();
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = formatters
                    .iter()
                    .zip(schema.fields())
                    .map(|(f, field)| format!("{}={}", field.name(), f.value(row)))
                    .collect();
                let mut text = cells.join(" ");
                if text.len() > SAMPLE_CHARS {
                    let cut = (0..=SAMPLE_CHARS)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                sample.push(text);
            }
        }
    }
    Ok(TestResult {
        name: test.name.clone(),
        passed: failures == 0,
        severity: test.severity,
        failures,
        sample,
    })
}
