//! Table names and the schemas of the bronze tables written by ingest.
//!
//! Invariant: a table is named `layer.name`, both plain lowercase identifiers, so the name is
//! at once a path (`<root>/layer/name`) and a SQL reference (`layer.name`).

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// A table's `layer.name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    /// Layer (`bronze`, `silver`, `gold`, `ops`): the first path segment and the SQL schema.
    pub layer: String,
    /// Table within the layer (`events`); a lowercase identifier like `layer`.
    pub name: String,
}

impl TableName {
    /// Checks both parts are lowercase identifiers (`[a-z][a-z0-9_]*`).
    pub fn new(layer: &str, name: &str) -> Result<Self, String> {
        let ok = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if ok(layer) && ok(name) {
            Ok(Self {
                layer: layer.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(format!("`{layer}.{name}` is not a valid table name"))
        }
    }

    /// `bronze.events`: every accepted event, exactly once.
    pub fn events() -> Self {
        Self::new("bronze", "events").expect("valid")
    }

    /// `bronze.events_rejected`: every record that was not accepted, with its reason.
    pub fn rejected() -> Self {
        Self::new("bronze", "events_rejected").expect("valid")
    }

    /// The name in the Glue Data Catalog and in Athena, where a database has no layers:
    /// `layer_name` (`bronze_events`). `eventlake sql` knows the tables by it too, so the
    /// dashboard views run unchanged in both.
    pub fn glue_name(&self) -> String {
        format!("{}_{}", self.layer, self.name)
    }
}

impl std::str::FromStr for TableName {
    type Err = String;

    /// Parses `layer.name`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (layer, name) = text
            .split_once('.')
            .ok_or_else(|| format!("`{text}` is not `layer.name`"))?;
        Self::new(layer, name)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Columns naming where a record came from, in both bronze tables.
fn position_fields() -> [Field; 3] {
    [
        Field::new("source_id", DataType::Utf8, false),
        Field::new("source_key", DataType::Utf8, false),
        Field::new("source_position", DataType::Utf8, false),
    ]
}

/// Schema of `bronze.events`, partitioned by `event_date` (the UTC day of `occurred_at`).
pub fn events_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("subject_id", DataType::Utf8, false),
        Field::new("occurred_at", timestamp(), false),
        Field::new("schema_version", DataType::Int32, false),
        Field::new("payload", DataType::Utf8, false),
    ];
    fields.extend(position_fields());
    fields.push(Field::new("ingested_at", timestamp(), false));
    fields.push(Field::new("event_date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// Partition column of `bronze.events`.
pub const EVENTS_PARTITION: &str = "event_date";

/// Schema of `bronze.events_rejected`, partitioned by `ingest_date` (a reject may have no
/// readable event time).
pub fn rejected_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("raw", DataType::Binary, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
        Field::new("tenant_id", DataType::Utf8, true),
    ];
    fields.extend(position_fields());
    fields.push(Field::new("ingested_at", timestamp(), false));
    fields.push(Field::new("ingest_date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// Partition column of `bronze.events_rejected`.
pub const REJECTED_PARTITION: &str = "ingest_date";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(TableName::new("bronze", "events").is_ok());
        assert_eq!(TableName::events().glue_name(), "bronze_events");
        assert!(TableName::new("Bronze", "events").is_err());
        assert!(TableName::new("bronze", "../x").is_err());
        assert_eq!(TableName::events().to_string(), "bronze.events");
    }
}
