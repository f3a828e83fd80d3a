//! Registers the lake's Delta tables in the Glue Data Catalog in the shape Athena (engine v3)
//! and Trino read as native Delta tables: `EXTERNAL_TABLE`, `table_type=DELTA`,
//! `spark.sql.sources.provider=delta`, the table URI as location and as the SerDe's `path`,
//! the Parquet SerDe, the Delta schema in Hive types with partition columns as partition keys.
//!
//! Invariant: a sync writes only what differs (a second sync writes nothing), and never
//! touches a Glue table that eventlake did not create (no [`MANAGED`] parameter).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_glue::Client;
use aws_sdk_glue::types::{
    Column as GlueColumn, DatabaseInput, SerDeInfo, StorageDescriptor, Table, TableInput,
};
use eventlake_lake::{Lake, TableName};

use crate::error::{Error, Result};
use crate::hive::{self, Column, Shape};

/// The table parameter that marks a Glue table as eventlake's.
pub const MANAGED: &str = "eventlake.managed";

const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

/// What a sync did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not in Glue before: created.
    Created,
    /// eventlake's, with another schema, location or description: updated.
    Updated,
    /// eventlake's and already as the lake says: nothing written.
    Unchanged,
    /// A Glue table of that name that eventlake did not create: left as it is.
    NotOurs,
}

impl Outcome {
    /// The outcome as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::NotOurs => "not ours: left alone",
        }
    }
}

/// One Glue database that holds the lake's tables.
#[derive(Clone)]
pub struct Catalog {
    client: Client,
    database: String,
}

impl Catalog {
    /// A catalog over `database`, with the standard AWS configuration.
    pub async fn from_env(database: &str) -> Self {
        Self::new(Client::new(&crate::aws_config().await), database)
    }

    /// A catalog over `database` with a given client.
    pub fn new(client: Client, database: &str) -> Self {
        Self {
            client,
            database: database.to_owned(),
        }
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Creates the database if it does not exist; `true` when it was created.
    pub async fn ensure_database(&self) -> Result<bool> {
        match self.client.get_database().name(&self.database).send().await {
            Ok(_) => return Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) => {}
            Err(e) => return Err(Error::aws(format!("GetDatabase {}", self.database), e)),
        }
        let input = DatabaseInput::builder()
            .name(&self.database)
            .description("eventlake's Delta tables (bronze, silver, gold, ops)")
            .build()
            .map_err(|e| Error::aws("CreateDatabase input", e))?;
        match self
            .client
            .create_database()
            .database_input(input)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // Another sync created it meanwhile.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(Error::aws(format!("CreateDatabase {}", self.database), e)),
        }
    }

    /// The names of every table and view in the database (none when it does not exist).
    pub async fn names(&self) -> Result<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        let mut pages = self
            .client
            .get_tables()
            .database_name(&self.database)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => names.extend(page.table_list().iter().map(|t| t.name().to_owned())),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_entity_not_found_exception()) =>
                {
                    break;
                }
                Err(e) => return Err(Error::aws(format!("GetTables {}", self.database), e)),
            }
        }
        Ok(names)
    }

    /// Registers every table of the lake; stops at the first failure.
    pub async fn sync(&self, lake: &Lake) -> Result<Vec<(TableName, Outcome)>> {
        check_on_s3(lake)?;
        self.ensure_database().await?;
        let mut outcomes = Vec::new();
        for table in lake.tables().await? {
            let outcome = self.sync_table(lake, &table).await?;
            outcomes.push((table, outcome));
        }
        Ok(outcomes)
    }

    /// Registers one table, or brings its registration up to date.
    pub async fn sync_table(&self, lake: &Lake, table: &TableName) -> Result<Outcome> {
        check_on_s3(lake)?;
        let delta = lake.open(table).await?;
        let shape = hive::shape(table, &delta)?;
        let location = lake.table_url(table).to_string();
        let location = location.trim_end_matches('/');
        let name = table.glue_name();
        let existing = match self
            .client
            .get_table()
            .database_name(&self.database)
            .name(&name)
            .send()
            .await
        {
            Ok(found) => found.table,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(Error::aws(format!("GetTable {}.{name}", self.database), e)),
        };
        let input = table_input(&name, location, &shape)?;
        match existing {
            None => {
                let created = self
                    .client
                    .create_table()
                    .database_name(&self.database)
                    .table_input(input)
                    .send()
                    .await;
                match created {
                    Ok(_) => Ok(Outcome::Created),
                    // Another process registered it first: check it is as it should be.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_already_exists_exception()) =>
                    {
                        Box::pin(self.sync_table(lake, table)).await
                    }
                    Err(e) => Err(Error::aws(
                        format!("CreateTable {}.{name}", self.database),
                        e,
                    )),
                }
            }
            Some(found) if !is_ours(&found) => Ok(Outcome::NotOurs),
            Some(found) if matches(&found, location, &shape) => Ok(Outcome::Unchanged),
            Some(found) => {
                let mut update = self
                    .client
                    .update_table()
                    .database_name(&self.database)
                    .table_input(input)
                    // Glue keeps the replaced definition as a table version.
                    .skip_archive(false);
                // Lost-update guard: the update applies only to the version read above.
                if let Some(version) = found.version_id() {
                    update = update.version_id(version);
                }
                update
                    .send()
                    .await
                    .map_err(|e| Error::aws(format!("UpdateTable {}.{name}", self.database), e))?;
                Ok(Outcome::Updated)
            }
        }
    }
}

/// The lake's [catalog hook](eventlake_lake::catalog::Catalog) for Glue: registers each table
/// a writer creates or changes, with a client made on first use.
pub struct Registrar {
    database: String,
    catalog: tokio::sync::OnceCell<Catalog>,
    ensured: tokio::sync::OnceCell<()>,
}

impl Registrar {
    /// A hook registering into `database`.
    pub fn new(database: &str) -> Self {
        Self {
            database: database.to_owned(),
            catalog: tokio::sync::OnceCell::new(),
            ensured: tokio::sync::OnceCell::new(),
        }
    }
}

impl eventlake_lake::catalog::Catalog for Registrar {
    fn register<'a>(
        &'a self,
        lake: &'a Lake,
        table: &'a TableName,
    ) -> eventlake_lake::catalog::Registration<'a> {
        Box::pin(async move {
            let catalog = self
                .catalog
                .get_or_init(|| Catalog::from_env(&self.database))
                .await;
            self.ensured
                .get_or_try_init(|| async { catalog.ensure_database().await.map(|_| ()) })
                .await?;
            let outcome = catalog.sync_table(lake, table).await?;
            tracing::debug!(%table, outcome = outcome.as_str(), "registered in Glue");
            Ok(())
        })
    }
}

fn check_on_s3(lake: &Lake) -> Result<()> {
    match lake.root().scheme() {
        "s3" | "s3a" => Ok(()),
        _ => Err(Error::NotOnS3(lake.root().to_string())),
    }
}

fn is_ours(table: &Table) -> bool {
    table
        .parameters()
        .and_then(|p| p.get(MANAGED))
        .is_some_and(|v| v == "true")
}

/// The parameters every eventlake table carries.
fn parameters() -> HashMap<String, String> {
    [
        ("table_type", "DELTA"),
        ("spark.sql.sources.provider", "delta"),
        ("EXTERNAL", "TRUE"),
        ("classification", "delta"),
        (MANAGED, "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The `CreateTable`/`UpdateTable` input of a table.
pub fn table_input(name: &str, location: &str, shape: &Shape) -> Result<TableInput> {
    let columns = glue_columns(&shape.columns)?;
    let partitions = glue_columns(&shape.partitions)?;
    let serde = SerDeInfo::builder()
        .serialization_library(PARQUET_SERDE)
        .parameters("serialization.format", "1")
        // Trino-based readers (Athena v3) find a Delta table only through `path`.
        .parameters("path", location)
        .build();
    let storage = StorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(location)
        .input_format(PARQUET_INPUT)
        .output_format(PARQUET_OUTPUT)
        .serde_info(serde)
        .build();
    let mut input = TableInput::builder()
        .name(name)
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(parameters()))
        .storage_descriptor(storage)
        .set_partition_keys(Some(partitions));
    if let Some(description) = &shape.description {
        input = input.description(description);
    }
    input
        .build()
        .map_err(|e| Error::aws(format!("TableInput {name}"), e))
}

fn glue_columns(columns: &[Column]) -> Result<Vec<GlueColumn>> {
    columns
        .iter()
        .map(|c| {
            GlueColumn::builder()
                .name(&c.name)
                .r#type(&c.hive_type)
                .build()
                .map_err(|e| Error::aws(format!("Column {}", c.name), e))
        })
        .collect()
}

/// Whether a registered table already says what the lake says.
fn matches(found: &Table, location: &str, shape: &Shape) -> bool {
    let pairs = |columns: &[GlueColumn]| -> Vec<(String, String)> {
        columns
            .iter()
            .map(|c| {
                (
                    c.name().to_owned(),
                    c.r#type().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let expected = |columns: &[Column]| -> Vec<(String, String)> {
        columns
            .iter()
            .map(|c| (c.name.clone(), c.hive_type.clone()))
            .collect()
    };
    let Some(storage) = found.storage_descriptor() else {
        return false;
    };
    let serde_path = storage
        .serde_info()
        .and_then(|s| s.parameters())
        .and_then(|p| p.get("path"))
        .map(String::as_str);
    let params_ok = found.parameters().is_some_and(|p| {
        parameters()
            .iter()
            .all(|(k, v)| p.get(k).is_some_and(|have| have == v))
    });
    storage.location() == Some(location)
        && serde_path == Some(location)
        && pairs(storage.columns()) == expected(&shape.columns)
        && pairs(found.partition_keys()) == expected(&shape.partitions)
        && found.description() == shape.description.as_deref()
        && found.table_type() == Some("EXTERNAL_TABLE")
        && params_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            columns: vec![Column {
                name: "event_id".into(),
                hive_type: "string".into(),
            }],
            partitions: vec![Column {
                name: "event_date".into(),
                hive_type: "date".into(),
            }],
            description: Some("events".into()),
        }
    }

    #[test]
    fn the_input_has_the_shape_athena_reads_as_delta() {
        let input = table_input("bronze_events", "s3://b/lake/bronze/events", &shape()).unwrap();
        assert_eq!(input.table_type(), Some("EXTERNAL_TABLE"));
        let params = input.parameters().unwrap();
        assert_eq!(params["table_type"], "DELTA");
        assert_eq!(params["spark.sql.sources.provider"], "delta");
        assert_eq!(params["EXTERNAL"], "TRUE");
        assert_eq!(params[MANAGED], "true");
        let storage = input.storage_descriptor().unwrap();
        assert_eq!(storage.location(), Some("s3://b/lake/bronze/events"));
        let serde = storage.serde_info().unwrap();
        assert_eq!(serde.serialization_library(), Some(PARQUET_SERDE));
        assert_eq!(
            serde.parameters().unwrap()["path"],
            "s3://b/lake/bronze/events"
        );
        assert_eq!(storage.columns()[0].r#type(), Some("string"));
        assert_eq!(input.partition_keys()[0].name(), "event_date");
    }
}
