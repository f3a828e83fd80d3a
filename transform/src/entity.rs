//! An entity: a silver table fed by one or more event types. Its schema is the envelope
//! columns followed by the union of the payload fields of its event types.
//!
//! Invariant: a field present in several event types has one Arrow type in all of them (up to
//! nullability); it is nullable in the entity unless every event type requires it.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use eventlake_lake::Contracts;

use crate::error::{Error, Result};

/// Envelope columns every silver row carries, in order; `event_date` is the partition column.
pub const ENVELOPE: [&str; 6] = [
    "event_id",
    "event_type",
    "tenant_id",
    "subject_id",
    "occurred_at",
    "event_date",
];

/// A silver entity and its schemas.
#[derive(Debug, Clone)]
pub struct Entity {
    /// Name used in errors, e.g. `silver.donations`.
    pub name: String,
    /// The event types feeding it, each with a contract; their rows share the table.
    pub event_types: Vec<String>,
    /// Union of the payload fields, the schema payloads are decoded with.
    pub payload: SchemaRef,
    /// Envelope columns, then payload fields, then `event_date`.
    pub schema: SchemaRef,
}

impl Entity {
    /// Defines an entity from the contracts of its event types.
    pub fn new(contracts: &Contracts, name: &str, event_types: &[String]) -> Result<Self> {
        let mut fields: Vec<Field> = Vec::new();
        for (i, event_type) in event_types.iter().enumerate() {
            let contract = contracts
                .get(event_type)
                .ok_or_else(|| Error::UnknownEventType {
                    entity: name.to_owned(),
                    event_type: event_type.clone(),
                })?;
            for field in contract.schema.fields() {
                match fields.iter_mut().find(|f| f.name() == field.name()) {
                    Some(existing) => *existing = union(name, existing, field)?,
                    // A field the earlier event types lack is null in their rows.
                    None => fields.push(
                        field
                            .as_ref()
                            .clone()
                            .with_nullable(field.is_nullable() || i > 0),
                    ),
                }
            }
            // A field earlier event types have but this one lacks is null in its rows.
            for existing in fields.iter_mut() {
                if contract.schema.field_with_name(existing.name()).is_err() {
                    *existing = existing.clone().with_nullable(true);
                }
            }
        }
        if let Some(clash) = fields
            .iter()
            .find(|f| ENVELOPE.contains(&f.name().as_str()))
        {
            return Err(Error::EnvelopeClash {
                entity: name.to_owned(),
                field: clash.name().clone(),
            });
        }
        let payload = Arc::new(Schema::new(fields.clone()));
        let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let mut columns = vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("event_type", DataType::Utf8, false),
            Field::new("tenant_id", DataType::Utf8, false),
            Field::new("subject_id", DataType::Utf8, false),
            Field::new("occurred_at", timestamp, false),
        ];
        columns.extend(fields);
        columns.push(Field::new("event_date", DataType::Date32, false));
        Ok(Self {
            name: name.to_owned(),
            event_types: event_types.to_vec(),
            payload,
            schema: Arc::new(Schema::new(columns)),
        })
    }
}

/// The union of two definitions of one field: same type, nullable if either is.
fn union(entity: &str, left: &Field, right: &Field) -> Result<Field> {
    let data_type =
        union_type(left.data_type(), right.data_type()).ok_or_else(|| Error::FieldConflict {
            entity: entity.to_owned(),
            field: left.name().clone(),
            left: left.data_type().to_string(),
            right: right.data_type().to_string(),
        })?;
    Ok(Field::new(
        left.name(),
        data_type,
        left.is_nullable() || right.is_nullable(),
    ))
}

fn union_type(left: &DataType, right: &DataType) -> Option<DataType> {
    match (left, right) {
        (DataType::Struct(l), DataType::Struct(r)) => {
            let mut out: Vec<Field> = l.iter().map(|f| f.as_ref().clone()).collect();
            for field in r.iter() {
                match out.iter_mut().find(|f| f.name() == field.name()) {
                    Some(existing) => {
                        let t = union_type(existing.data_type(), field.data_type())?;
                        let nullable = existing.is_nullable() || field.is_nullable();
                        *existing = Field::new(existing.name(), t, nullable);
                    }
                    None => out.push(field.as_ref().clone().with_nullable(true)),
                }
            }
            for existing in out.iter_mut() {
                if r.find(existing.name()).is_none() {
                    *existing = existing.clone().with_nullable(true);
                }
            }
            Some(DataType::Struct(Fields::from(out)))
        }
        (DataType::List(l), DataType::List(r)) => {
            let t = union_type(l.data_type(), r.data_type())?;
            Some(DataType::List(Arc::new(Field::new(
                l.name(),
                t,
                l.is_nullable() || r.is_nullable(),
            ))))
        }
        (l, r) if l == r => Some(l.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(types: &[&str]) -> Entity {
        let types: Vec<String> = types.iter().map(|s| s.to_string()).collect();
        Entity::new(Contracts::builtin(), "silver.test", &types).unwrap()
    }

    #[test]
    fn union_of_partial_updates_is_nullable() {
        let e = entity(&["party.registered", "party.updated"]);
        let kind = e.payload.field_with_name("kind").unwrap();
        assert!(kind.is_nullable(), "party.updated may omit kind");
        let id = e.payload.field_with_name("party_id").unwrap();
        assert!(!id.is_nullable(), "both require party_id");
    }

    #[test]
    fn fields_of_one_type_only_are_nullable() {
        let e = entity(&["opportunity.posted", "opportunity.closed"]);
        assert!(e.payload.field_with_name("title").unwrap().is_nullable());
        assert!(e.payload.field_with_name("reason").unwrap().is_nullable());
        assert_eq!(e.schema.fields().last().unwrap().name(), "event_date");
    }

    #[test]
    fn unknown_event_type_is_an_error() {
        let err = Entity::new(Contracts::builtin(), "silver.x", &["nope".into()]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
