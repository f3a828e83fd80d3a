//! Decoding bronze rows (envelope columns plus the JSON payload text) into an entity's typed
//! rows with `arrow-json`, quarantining the payloads that cannot be typed.
//!
//! Invariant: `rows.num_rows() + quarantine.num_rows() == input.num_rows()`, and both keep the
//! input order. The whole batch is decoded at once; only when that fails is it bisected, so a
//! bad payload costs O(log n) extra decodes and never drops its neighbours.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow_json::ReaderBuilder;

use crate::entity::{ENVELOPE, Entity};
use crate::error::{Error, Result};

/// Reason code of a quarantined payload.
pub const UNDECODABLE: &str = "undecodable_payload";

/// The typed rows and the quarantined rows of one input batch.
#[derive(Debug)]
pub struct Decoded {
    /// The rows whose payload decoded, in the entity's schema.
    pub rows: RecordBatch,
    /// The rows whose payload did not, in the [`quarantine_schema`] with the decoder's message.
    pub quarantine: RecordBatch,
}

/// Schema of `silver.quarantine`: payloads that passed ingest but could not be typed.
pub fn quarantine_schema() -> SchemaRef {
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("occurred_at", timestamp, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, false),
        Field::new("event_date", DataType::Date32, false),
    ]))
}

/// Decodes `input` (the envelope columns and `payload`, as read from `bronze.events`) into
/// the entity's schema.
pub fn decode(entity: &Entity, input: &RecordBatch) -> Result<Decoded> {
    let column = |name: &str| -> Result<ArrayRef> {
        let want = if name == "event_date" {
            entity
                .schema
                .field_with_name(name)
                .map(|f| f.data_type().clone())
        } else {
            entity
                .schema
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .or(Ok(DataType::Utf8))
        };
        let bad = || Error::InputColumn {
            entity: entity.name.clone(),
            column: name.to_owned(),
        };
        let array = input.column_by_name(name).ok_or_else(bad)?;
        cast(array, &want.map_err(|_| bad())?).map_err(|_| bad())
    };
    let payload = column("payload")?;
    let payload = payload
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    let mut good = Vec::new();
    let mut bad = Vec::new();
    bisect(entity, payload, 0, payload.len(), &mut good, &mut bad)?;

    let typed = concat_batches(&entity.payload, good.iter().map(|(_, b)| b))
        .map_err(|e| arrow(entity, e))?;
    let kept: UInt32Array = good
        .iter()
        .flat_map(|(start, b)| (*start..*start + b.num_rows()).map(|i| i as u32))
        .collect();
    let mut columns = Vec::with_capacity(entity.schema.fields().len());
    for name in &ENVELOPE[..5] {
        columns.push(take(&column(name)?, &kept, None).map_err(|e| arrow(entity, e))?);
    }
    columns.extend(typed.columns().iter().cloned());
    columns.push(take(&column("event_date")?, &kept, None).map_err(|e| arrow(entity, e))?);
    let rows =
        RecordBatch::try_new(entity.schema.clone(), columns).map_err(|e| arrow(entity, e))?;

    let failed: UInt32Array = bad.iter().map(|(i, _)| *i as u32).collect();
    let pick = |name: &str| -> Result<ArrayRef> {
        take(&column(name)?, &failed, None).map_err(|e| arrow(entity, e))
    };
    let n = bad.len();
    let quarantine = RecordBatch::try_new(
        quarantine_schema(),
        vec![
            pick("event_id")?,
            pick("event_type")?,
            pick("tenant_id")?,
            pick("occurred_at")?,
            Arc::new(StringArray::from(vec![entity.name.as_str(); n])),
            Arc::new(StringArray::from(vec![UNDECODABLE; n])),
            Arc::new(StringArray::from_iter_values(bad.iter().map(|(_, m)| m))),
            take(payload, &failed, None).map_err(|e| arrow(entity, e))?,
            pick("event_date")?,
        ],
    )
    .map_err(|e| arrow(entity, e))?;
    Ok(Decoded { rows, quarantine })
}

fn arrow(entity: &Entity, source: arrow::error::ArrowError) -> Error {
    Error::Arrow {
        entity: entity.name.clone(),
        source,
    }
}

/// Decodes payloads `lo..hi`; on failure splits the range until each failure is one row.
fn bisect(
    entity: &Entity,
    payload: &StringArray,
    lo: usize,
    hi: usize,
    good: &mut Vec<(usize, RecordBatch)>,
    bad: &mut Vec<(usize, String)>,
) -> Result<()> {
    if lo == hi {
        return Ok(());
    }
    match decode_range(entity, payload, lo, hi) {
        Ok(batch) => good.push((lo, batch)),
        Err(message) if hi - lo == 1 => bad.push((lo, message)),
        Err(_) => {
            let mid = lo + (hi - lo) / 2;
            bisect(entity, payload, lo, mid, good, bad)?;
            bisect(entity, payload, mid, hi, good, bad)?;
        }
    }
    Ok(())
}

/// Decodes a contiguous range of payloads as one batch, or says why it could not.
fn decode_range(
    entity: &Entity,
    payload: &StringArray,
    lo: usize,
    hi: usize,
) -> Result<RecordBatch, String> {
    let mut decoder = ReaderBuilder::new(entity.payload.clone())
        .with_batch_size(hi - lo)
        .build_decoder()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    for i in lo..hi {
        if payload.is_null(i) {
            return Err("payload is null".into());
        }
        text.extend_from_slice(payload.value(i).as_bytes());
        text.push(b'\n');
    }
    let mut rest = &text[..];
    while !rest.is_empty() {
        let read = decoder.decode(rest).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        rest = &rest[read..];
    }
    let batch = decoder
        .flush()
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| RecordBatch::new_empty(entity.payload.clone()));
    if batch.num_rows() != hi - lo {
        return Err(format!(
            "expected {} JSON objects, decoded {}",
            hi - lo,
            batch.num_rows()
        ));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int64Array, TimestampMicrosecondArray};

    use super::*;
    use eventlake_lake::Contracts;

    fn input(payloads: &[&str]) -> RecordBatch {
        let n = payloads.len();
        let ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("event_type", DataType::Utf8, false),
            Field::new("tenant_id", DataType::Utf8, false),
            Field::new("subject_id", DataType::Utf8, false),
            Field::new(
                "occurred_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("payload", DataType::Utf8, false),
            Field::new("event_date", DataType::Date32, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids)),
                Arc::new(StringArray::from(vec!["donation.made"; n])),
                Arc::new(StringArray::from(vec!["t1"; n])),
                Arc::new(StringArray::from(vec!["s1"; n])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![1_700_000_000_000_000; n])
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(payloads.to_vec())),
                Arc::new(Date32Array::from(vec![19_676; n])),
            ],
        )
        .unwrap()
    }

    fn donation(amount: &str) -> String {
        format!(
            r#"{{"donation_id":"d","amount_minor":{amount},"currency":"GBP","campaign_id":"c","cause":"health","channel":"online","recurring":false,"gift_aid":true}}"#
        )
    }

    fn entity() -> Entity {
        Entity::new(
            Contracts::builtin(),
            "silver.donations",
            &["donation.made".into()],
        )
        .unwrap()
    }

    #[test]
    fn decodes_typed_columns() {
        let (a, b) = (donation("500"), donation("1200"));
        let out = decode(&entity(), &input(&[&a, &b])).unwrap();
        assert_eq!(out.rows.num_rows(), 2);
        assert_eq!(out.quarantine.num_rows(), 0);
        let amounts = out.rows.column_by_name("amount_minor").unwrap();
        let amounts = amounts.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(amounts.values(), &[500, 1200]);
    }

    #[test]
    fn bad_payloads_are_quarantined_and_neighbours_kept() {
        let good: Vec<String> = (0..9)
            .map(|i| donation(&(100 * i + 100).to_string()))
            .collect();
        let mut payloads: Vec<&str> = good.iter().map(String::as_str).collect();
        let broken = donation("\"lots\"");
        payloads.insert(3, &broken);
        payloads.insert(7, r#"{"donation_id":"d"}"#);
        let out = decode(&entity(), &input(&payloads)).unwrap();
        assert_eq!(out.rows.num_rows(), 9);
        assert_eq!(out.quarantine.num_rows(), 2);
        let ids = out.quarantine.column_by_name("event_id").unwrap();
        let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((ids.value(0), ids.value(1)), ("e3", "e7"));
        let kept = out.rows.column_by_name("event_id").unwrap();
        let kept = kept.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(kept.iter().all(|id| !matches!(id, Some("e3" | "e7"))));
        let raw = out.quarantine.column_by_name("payload").unwrap();
        let raw = raw.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(raw.value(0), broken);
    }
}
