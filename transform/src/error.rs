//! Errors of the transform crate: an entity that cannot be defined, or input of the wrong shape.

/// Result type of the transform crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail while defining an entity or decoding its rows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("entity {entity}: unknown event type `{event_type}`")]
    UnknownEventType { entity: String, event_type: String },

    #[error(
        "entity {entity}: field `{field}` has type {left} in one event type and {right} in another"
    )]
    FieldConflict {
        entity: String,
        field: String,
        left: String,
        right: String,
    },

    #[error("entity {entity}: payload field `{field}` clashes with an envelope column")]
    EnvelopeClash { entity: String, field: String },

    #[error("entity {entity}: input batch lacks column `{column}` or has the wrong type")]
    InputColumn { entity: String, column: String },

    #[error("entity {entity}: {source}")]
    Arrow {
        entity: String,
        source: arrow::error::ArrowError,
    },
}
