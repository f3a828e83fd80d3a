//! A Delta table's schema as Glue columns: Hive type names, partition columns apart, and the
//! protocol check that keeps a table readable by Athena.
//!
//! Invariant: `columns` followed by `partitions` is the Delta schema, field for field, in
//! order; a type with no Hive equivalent is an error, never a guess.

use arrow::datatypes::{DataType, Field, Schema};
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow as _;
use eventlake_lake::TableName;

use crate::error::{Error, Result};

/// One Glue column: name, Hive type, and the Delta field's comment if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name, as in the Delta schema.
    pub name: String,
    /// The Hive type (`bigint`, `array<string>`, `struct<a:int>`).
    pub hive_type: String,
}

/// A table's shape for Glue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The data columns, in schema order.
    pub columns: Vec<Column>,
    /// The partition columns, in partitioning order.
    pub partitions: Vec<Column>,
    /// The table's Delta description, if it has one.
    pub description: Option<String>,
}

/// The Glue shape of the table's loaded version, after checking Athena can read it.
pub fn shape(table: &TableName, delta: &DeltaTable) -> Result<Shape> {
    let unreadable = |reason: String| Error::Unreadable {
        table: table.to_string(),
        reason,
    };
    let snapshot = delta
        .snapshot()
        .map_err(|e| eventlake_lake::Error::delta(table, e))?;
    let protocol =
        serde_json::to_value(snapshot.protocol()).map_err(|e| unreadable(e.to_string()))?;
    readable_by_athena(&protocol).map_err(unreadable)?;
    let metadata =
        serde_json::to_value(snapshot.metadata()).map_err(|e| unreadable(e.to_string()))?;
    let partitioned: Vec<String> = metadata["partitionColumns"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let schema: Schema = snapshot
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e| unreadable(format!("schema: {e}")))?;
    let column = |f: &Field| -> Result<Column> {
        Ok(Column {
            name: f.name().clone(),
            hive_type: hive_type(f.data_type())
                .map_err(|t| unreadable(format!("column {}: {t} has no Hive type", f.name())))?,
        })
    };
    let mut columns = Vec::new();
    for field in schema
        .fields()
        .iter()
        .filter(|f| !partitioned.contains(f.name()))
    {
        columns.push(column(field)?);
    }
    let mut partitions = Vec::new();
    for name in &partitioned {
        let field = schema
            .field_with_name(name)
            .map_err(|_| unreadable(format!("partition column {name} is not in the schema")))?;
        partitions.push(column(field)?);
    }
    Ok(Shape {
        columns,
        partitions,
        description: metadata["description"].as_str().map(str::to_owned),
    })
}

/// The Hive type of an Arrow type as Delta writes it, or the type's name when there is none.
pub fn hive_type(t: &DataType) -> Result<String, String> {
    Ok(match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Float64 => "double".into(),
        DataType::Float32 => "float".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("array<{}>", hive_type(f.data_type())?)
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                hive_type(kv[0].data_type())?,
                hive_type(kv[1].data_type())?
            ),
            other => return Err(other.to_string()),
        },
        DataType::Struct(fields) => {
            let mut parts = Vec::new();
            for f in fields {
                parts.push(format!("{}:{}", f.name(), hive_type(f.data_type())?));
            }
            format!("struct<{}>", parts.join(","))
        }
        other => return Err(other.to_string()),
    })
}

/// Athena (engine v3) reads reader protocol 1, and 3 with only `timestampNtz` among the reader
/// features; deletion vectors, v2 checkpoints, column mapping and the rest it cannot read.
fn readable_by_athena(protocol: &serde_json::Value) -> Result<(), String> {
    let reader = protocol["minReaderVersion"].as_i64().unwrap_or(1);
    let features: Vec<&str> = protocol["readerFeatures"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    match reader {
        1 => Ok(()),
        3 if features.iter().all(|f| *f == "timestampNtz") => Ok(()),
        3 => Err(format!(
            "reader features {features:?} (Athena reads only timestampNtz)"
        )),
        v => Err(format!(
            "reader protocol {v} (Athena reads 1, or 3 with timestampNtz)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Fields, TimeUnit};

    use super::*;

    #[test]
    fn every_delta_type_has_its_hive_name() {
        let item = Arc::new(Field::new("element", DataType::Utf8, true));
        let entries = Arc::new(Field::new(
            "key_value",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Int64, true),
            ])),
            false,
        ));
        let cases = [
            (DataType::Utf8, "string"),
            (DataType::Int64, "bigint"),
            (DataType::Int32, "int"),
            (DataType::Int16, "smallint"),
            (DataType::Int8, "tinyint"),
            (DataType::Float64, "double"),
            (DataType::Float32, "float"),
            (DataType::Boolean, "boolean"),
            (DataType::Binary, "binary"),
            (DataType::Date32, "date"),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "timestamp",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "timestamp",
            ),
            (DataType::Decimal128(38, 2), "decimal(38,2)"),
            (DataType::List(item), "array<string>"),
            (DataType::Map(entries, false), "map<string,bigint>"),
            (
                DataType::Struct(Fields::from(vec![
                    Field::new("a", DataType::Int32, true),
                    Field::new("b", DataType::Utf8, true),
                ])),
                "struct<a:int,b:string>",
            ),
        ];
        for (t, hive) in cases {
            assert_eq!(hive_type(&t).as_deref(), Ok(hive), "{t}");
        }
        assert!(hive_type(&DataType::UInt64).is_err());
    }

    #[test]
    fn athena_reads_protocol_one_and_three_with_timestamp_ntz_only() {
        let p = |v: serde_json::Value| readable_by_athena(&v);
        assert!(p(serde_json::json!({"minReaderVersion": 1, "minWriterVersion": 2})).is_ok());
        assert!(
            p(serde_json::json!({"minReaderVersion": 3, "readerFeatures": ["timestampNtz"]}))
                .is_ok()
        );
        let dv =
            p(serde_json::json!({"minReaderVersion": 3, "readerFeatures": ["deletionVectors"]}));
        assert!(dv.unwrap_err().contains("deletionVectors"));
        assert!(p(serde_json::json!({"minReaderVersion": 2})).is_err());
    }
}
