//! Dashboard views for analysts and QuickSight: one SQL file per view under `jobs/views/`,
//! each `CREATE OR REPLACE VIEW <name> AS` a query over the tables by their Glue names
//! (`gold_metrics_api`), with a comment saying what one row is. The SQL keeps to what Athena's
//! Trino dialect, DataFusion and DuckDB (through sqlglot) read alike, so one text defines the
//! view everywhere: `eventlake athena views` sends each file to Athena as it is, and
//! [`register`] creates the same views in a local DataFusion session for `eventlake sql`.
//!
//! Invariant: a view is named as its file, and exposes flat columns only (no nested types;
//! timestamps cast to `timestamp`), which QuickSight maps without a custom SQL.

use std::collections::BTreeSet;

use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use eventlake_lake::TableName;

use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/views.rs"));

/// One dashboard view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The view's name (its file's, without `.sql`).
    pub name: &'static str,
    /// The file's text: one `CREATE OR REPLACE VIEW` statement.
    pub sql: &'static str,
}

impl View {
    /// The Glue names of the tables the view reads, sorted.
    pub fn reads(&self) -> Result<BTreeSet<String>> {
        let invalid = |reason: String| Error::Definition {
            file: format!("views/{}.sql", self.name),
            reason,
        };
        let mut statements = DFParser::parse_sql(self.sql).map_err(|e| invalid(e.to_string()))?;
        let statement = match (statements.pop_front(), statements.is_empty()) {
            (Some(statement), true) => statement,
            _ => return Err(invalid("holds more than one statement".into())),
        };
        let (tables, _ctes) =
            resolve_table_references(&statement, true).map_err(|e| invalid(e.to_string()))?;
        // The view's own name is not among them: it is not a relation the query reads.
        Ok(tables.iter().map(|t| t.table().to_owned()).collect())
    }
}

/// Every view of `jobs/views/`, in name order.
pub fn all() -> Vec<View> {
    VIEW_FILES
        .iter()
        .map(|(file, sql)| View {
            name: file.trim_end_matches(".sql"),
            sql,
        })
        .collect()
}

/// A view left out, with the first table it reads that is missing.
pub type Missing = (View, String);

/// The views whose tables all exist among `present` (Glue names), and the others.
pub fn available(present: &BTreeSet<String>) -> Result<(Vec<View>, Vec<Missing>)> {
    let mut ready = Vec::new();
    let mut missing = Vec::new();
    for view in all() {
        match view.reads()?.into_iter().find(|t| !present.contains(t)) {
            None => ready.push(view),
            Some(table) => missing.push((view, table)),
        }
    }
    Ok((ready, missing))
}

/// Registers, in a session that holds `tables` as `layer.name`, each table again under its
/// Glue name and every view whose tables exist: the session then answers the SQL analysts
/// write for Athena. Returns the views that were left out, each with a table it lacks.
pub async fn register(ctx: &SessionContext, tables: &[TableName]) -> Result<Vec<(View, String)>> {
    for table in tables {
        let provider = ctx
            .table_provider(TableReference::partial(
                table.layer.as_str(),
                table.name.as_str(),
            ))
            .await?;
        ctx.register_table(table.glue_name(), provider)?;
    }
    let present = tables.iter().map(TableName::glue_name).collect();
    let (ready, missing) = available(&present)?;
    for view in ready {
        ctx.sql(view.sql).await.map_err(|e| Error::Definition {
            file: format!("views/{}.sql", view.name),
            reason: e.to_string(),
        })?;
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_creates_the_view_it_is_named_after() {
        let views = all();
        assert!(views.len() >= 10, "{views:?}");
        for view in views {
            let head = format!("CREATE OR REPLACE VIEW {} AS\n--", view.name);
            assert!(
                view.sql.starts_with(&head),
                "{}: starts otherwise",
                view.name
            );
            assert!(!view.sql.contains(';'), "{}: a `;` in the text", view.name);
            let reads = view.reads().unwrap();
            assert!(!reads.is_empty(), "{}", view.name);
            for table in &reads {
                assert!(
                    table.starts_with("bronze_")
                        || table.starts_with("silver_")
                        || table.starts_with("gold_"),
                    "{}: reads {table}, not a Glue name",
                    view.name
                );
            }
        }
    }

    #[test]
    fn a_view_whose_table_is_missing_is_left_out() {
        let present = BTreeSet::from(["gold_metrics_api".to_owned()]);
        let (ready, missing) = available(&present).unwrap();
        assert_eq!(
            ready.iter().map(|v| v.name).collect::<Vec<_>>(),
            ["dashboard_api_routes"]
        );
        let retention = missing
            .iter()
            .find(|(v, _)| v.name == "dashboard_campaign_retention")
            .unwrap();
        assert_eq!(retention.1, "silver_donations");
    }
}
