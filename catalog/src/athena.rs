//! Runs SQL in an Athena workgroup: StartQueryExecution, polling GetQueryExecution with
//! backoff, then every page of GetQueryResults, as one Arrow batch (columns typed from
//! Athena's column info where they parse, strings otherwise).
//!
//! Invariant: a query that ends FAILED or CANCELLED is an error carrying Athena's reason; a
//! query whose caller gives up (Ctrl-C) is stopped in Athena, never left running.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema};
use aws_sdk_athena::Client;
use aws_sdk_athena::types::{
    QueryExecutionContext, QueryExecutionState, ResultConfiguration, StatementType,
};

use crate::error::{Error, Result};

/// Where queries run and where their results go.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The workgroup (`primary` unless configured).
    pub workgroup: String,
    /// The Glue database unqualified table names resolve in.
    pub database: String,
    /// `s3://…/` for result files; `None` uses the workgroup's own setting.
    pub results: Option<String>,
}

/// An Athena client with its settings.
#[derive(Clone)]
pub struct Athena {
    client: Client,
    settings: Settings,
}

impl Athena {
    /// A client with the standard AWS configuration.
    pub async fn from_env(settings: Settings) -> Self {
        Self::new(Client::new(&crate::aws_config().await), settings)
    }

    /// A client with a given SDK client.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self { client, settings }
    }

    /// Runs one statement to its end and returns its rows, or stops it in Athena when
    /// `cancel` resolves first.
    pub async fn run(&self, sql: &str, cancel: impl Future<Output = ()>) -> Result<RecordBatch> {
        let mut start = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.settings.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.settings.database)
                    .build(),
            );
        if let Some(results) = &self.settings.results {
            start = start.result_configuration(
                ResultConfiguration::builder()
                    .output_location(results)
                    .build(),
            );
        }
        let started = start
            .send()
            .await
            .map_err(|e| Error::aws("StartQueryExecution", e))?;
        let id = started
            .query_execution_id()
            .ok_or_else(|| Error::aws("StartQueryExecution", NoId))?
            .to_owned();
        tokio::pin!(cancel);
        let statement = tokio::select! {
            done = self.wait(&id) => done?,
            () = &mut cancel => {
                self.client
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await
                    .map_err(|e| Error::aws(format!("StopQueryExecution {id}"), e))?;
                return Err(Error::Query {
                    id,
                    state: "CANCELLED".into(),
                    reason: "stopped on request (Ctrl-C)".into(),
                });
            }
        };
        self.results(&id, statement).await
    }

    /// Polls until the query ends: 100 ms, doubling to 2 s between polls.
    async fn wait(&self, id: &str) -> Result<Option<StatementType>> {
        let mut pause = Duration::from_millis(100);
        loop {
            let execution = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| Error::aws(format!("GetQueryExecution {id}"), e))?;
            let execution = execution.query_execution();
            let status = execution.and_then(|e| e.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    return Ok(execution.and_then(|e| e.statement_type()).cloned());
                }
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    return Err(Error::Query {
                        id: id.to_owned(),
                        state: state.as_str().to_owned(),
                        reason: status
                            .and_then(|s| s.state_change_reason())
                            .unwrap_or("no reason given")
                            .to_owned(),
                    });
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Every page of the results, as one batch.
    async fn results(&self, id: &str, statement: Option<StatementType>) -> Result<RecordBatch> {
        let mut names: Vec<String> = Vec::new();
        let mut types: Vec<String> = Vec::new();
        let mut rows: Vec<Vec<Option<String>>> = Vec::new();
        let mut token: Option<String> = None;
        let mut first = true;
        loop {
            let page = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::aws(format!("GetQueryResults {id}"), e))?;
            let Some(set) = page.result_set() else { break };
            if first && let Some(meta) = set.result_set_metadata() {
                for c in meta.column_info() {
                    names.push(c.label().unwrap_or(c.name()).to_owned());
                    types.push(c.r#type().to_owned());
                }
            }
            for (i, row) in set.rows().iter().enumerate() {
                let cells: Vec<Option<String>> = row
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().map(str::to_owned))
                    .collect();
                // A SELECT's first row repeats the column names.
                let header = first
                    && i == 0
                    && statement == Some(StatementType::Dml)
                    && cells
                        .iter()
                        .map(|c| c.as_deref())
                        .eq(names.iter().map(|n| Some(n.as_str())));
                if !header {
                    rows.push(cells);
                }
            }
            first = false;
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        batch(&names, &types, &rows)
    }
}

/// StartQueryExecution answered without an id.
#[derive(Debug, thiserror::Error)]
#[error("the answer carries no query execution id")]
struct NoId;

/// The rows as a batch: a column whose Athena type is numeric or boolean and whose every value
/// parses as one is typed; any other column stays text.
pub fn batch(
    names: &[String],
    types: &[String],
    rows: &[Vec<Option<String>>],
) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let text: ArrayRef = Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.get(i).cloned().flatten()),
        ));
        let wanted = match types.get(i).map(String::as_str) {
            Some("tinyint" | "smallint" | "integer" | "int" | "bigint") => Some(DataType::Int64),
            Some("double" | "float" | "real") => Some(DataType::Float64),
            Some("boolean") => Some(DataType::Boolean),
            _ => None,
        };
        let strict = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        let column = wanted
            .and_then(|t| cast_with_options(&text, &t, &strict).ok())
            .unwrap_or(text);
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    // A DDL statement answers no columns: a batch of none, with the row count given.
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_typed_where_every_value_parses() {
        let names = [
            "n".to_owned(),
            "x".to_owned(),
            "s".to_owned(),
            "bad".to_owned(),
        ];
        let types = [
            "bigint".to_owned(),
            "double".to_owned(),
            "varchar".to_owned(),
            "integer".to_owned(),
        ];
        let rows = vec![
            vec![
                Some("1".into()),
                Some("0.5".into()),
                Some("a".into()),
                Some("7".into()),
            ],
            vec![None, Some("2".into()), None, Some("seven".into())],
        ];
        let batch = batch(&names, &types, &rows).unwrap();
        let types: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Float64,
                DataType::Utf8,
                DataType::Utf8
            ]
        );
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).null_count(), 1);
    }

    #[test]
    fn a_statement_without_columns_is_an_empty_batch() {
        let batch = batch(&[], &[], &[]).unwrap();
        assert_eq!((batch.num_columns(), batch.num_rows()), (0, 0));
    }
}
