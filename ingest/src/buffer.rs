//! Columnar buffers for the two bronze tables, filled record by record and turned into one
//! Arrow batch per table at flush time.
//!
//! Invariant: each buffer's columns always have the same length, and the batch it produces
//! has exactly the schema of its table.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Date32Builder, Int32Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use eventlake_lake::envelope::Hints;
use eventlake_lake::reason::Violation;
use eventlake_lake::tables;

use crate::record::{Event, Record};

/// Where rows came from and when they landed; shared by both buffers.
pub struct Origin<'a> {
    pub source_id: &'a str,
    pub ingested_at: i64,
}

fn utc_timestamps() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

/// The provenance columns both tables share: `source_id`, `source_key`, `source_position`,
/// `ingested_at`, in that order.
struct Provenance {
    source_id: StringBuilder,
    source_key: StringBuilder,
    source_position: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
}

impl Default for Provenance {
    fn default() -> Self {
        Self {
            source_id: StringBuilder::new(),
            source_key: StringBuilder::new(),
            source_position: StringBuilder::new(),
            ingested_at: utc_timestamps(),
        }
    }
}

impl Provenance {
    fn push(&mut self, record: &Record, origin: &Origin<'_>) {
        self.source_id.append_value(origin.source_id);
        self.source_key.append_value(&*record.key);
        self.source_position.append_value(&record.position);
        self.ingested_at.append_value(origin.ingested_at);
    }

    fn finish(&mut self) -> [ArrayRef; 4] {
        [
            Arc::new(self.source_id.finish()),
            Arc::new(self.source_key.finish()),
            Arc::new(self.source_position.finish()),
            Arc::new(self.ingested_at.finish()),
        ]
    }
}

/// Rows for `bronze.events`.
pub struct EventRows {
    event_id: StringBuilder,
    event_type: StringBuilder,
    source: StringBuilder,
    tenant_id: StringBuilder,
    subject_id: StringBuilder,
    occurred_at: TimestampMicrosecondBuilder,
    schema_version: Int32Builder,
    payload: StringBuilder,
    provenance: Provenance,
    event_date: Date32Builder,
    rows: usize,
}

impl Default for EventRows {
    fn default() -> Self {
        Self {
            event_id: StringBuilder::new(),
            event_type: StringBuilder::new(),
            source: StringBuilder::new(),
            tenant_id: StringBuilder::new(),
            subject_id: StringBuilder::new(),
            occurred_at: utc_timestamps(),
            schema_version: Int32Builder::new(),
            payload: StringBuilder::new(),
            provenance: Provenance::default(),
            event_date: Date32Builder::new(),
            rows: 0,
        }
    }
}

impl EventRows {
    pub fn push(&mut self, event: &Event, record: &Record, origin: &Origin<'_>) {
        self.event_id.append_value(&event.event_id);
        self.event_type.append_value(&event.event_type);
        self.source.append_value(&event.source);
        self.tenant_id.append_value(&event.tenant_id);
        self.subject_id.append_value(&event.subject_id);
        self.occurred_at.append_value(event.occurred_at);
        self.schema_version.append_value(event.schema_version);
        // The payload slice came out of a JSON parser, so it is valid UTF-8.
        self.payload
            .append_value(std::str::from_utf8(&event.payload).unwrap_or_default());
        self.provenance.push(record, origin);
        self.event_date.append_value(event.event_date());
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Takes the buffered rows as one batch, leaving the buffer empty.
    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.tenant_id.finish()),
            Arc::new(self.subject_id.finish()),
            Arc::new(self.occurred_at.finish()),
            Arc::new(self.schema_version.finish()),
            Arc::new(self.payload.finish()),
        ];
        columns.extend(self.provenance.finish());
        columns.push(Arc::new(self.event_date.finish()));
        self.rows = 0;
        RecordBatch::try_new(tables::events_schema(), columns)
            .expect("columns are built to the bronze.events schema")
    }
}

/// Rows for `bronze.events_rejected`.
pub struct RejectedRows {
    raw: BinaryBuilder,
    reason: StringBuilder,
    message: StringBuilder,
    event_id: StringBuilder,
    event_type: StringBuilder,
    tenant_id: StringBuilder,
    provenance: Provenance,
    ingest_date: Date32Builder,
    rows: usize,
}

impl Default for RejectedRows {
    fn default() -> Self {
        Self {
            raw: BinaryBuilder::new(),
            reason: StringBuilder::new(),
            message: StringBuilder::new(),
            event_id: StringBuilder::new(),
            event_type: StringBuilder::new(),
            tenant_id: StringBuilder::new(),
            provenance: Provenance::default(),
            ingest_date: Date32Builder::new(),
            rows: 0,
        }
    }
}

impl RejectedRows {
    pub fn push(
        &mut self,
        record: &Record,
        violation: &Violation,
        hints: &Hints,
        origin: &Origin<'_>,
    ) {
        self.raw.append_value(&record.bytes);
        self.reason.append_value(violation.reason.code());
        self.message.append_value(&violation.message);
        self.event_id.append_option(hints.event_id.as_deref());
        self.event_type.append_option(hints.event_type.as_deref());
        self.tenant_id.append_option(hints.tenant_id.as_deref());
        self.provenance.push(record, origin);
        self.ingest_date
            .append_value(origin.ingested_at.div_euclid(86_400_000_000) as i32);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Takes the buffered rows as one batch, leaving the buffer empty.
    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.raw.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.tenant_id.finish()),
        ];
        columns.extend(self.provenance.finish());
        columns.push(Arc::new(self.ingest_date.finish()));
        self.rows = 0;
        RecordBatch::try_new(tables::rejected_schema(), columns)
            .expect("columns are built to the bronze.events_rejected schema")
    }
}
