//! The typed Arrow schema of a contract's payload: the same spec that validates a payload
//! types it, so a payload that passed validation decodes into this schema.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};

use super::spec::{Kind, Spec};

/// Arrow type for one spec. Timestamps are microseconds UTC, as everywhere in the lake.
pub fn data_type(spec: &Spec) -> DataType {
    match spec.kind {
        Kind::String => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::Float => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::Date => DataType::Date32,
        Kind::Object => DataType::Struct(fields(spec.fields.as_deref().unwrap_or_default())),
        Kind::List => {
            let item = spec
                .items
                .as_deref()
                .expect("lists have items (checked at load)");
            DataType::List(Arc::new(Field::new("item", data_type(item), true)))
        }
    }
}

/// Arrow fields for a list of named specs; optional fields are nullable.
pub fn fields(specs: &[Spec]) -> Fields {
    specs
        .iter()
        .map(|s| Field::new(s.name(), data_type(s), !s.required))
        .collect()
}

/// The payload schema of a contract.
pub fn payload_schema(specs: &[Spec]) -> Arc<Schema> {
    Arc::new(Schema::new(fields(specs)))
}
