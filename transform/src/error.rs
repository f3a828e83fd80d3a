//! Errors of the transform crate: an entity that cannot be defined, or input of the wrong shape.

/// Result type of the transform crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail while defining an entity or decoding its rows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The entity names an event type that has no contract.
    #[error("entity {entity}: unknown event type `{event_type}`")]
    UnknownEventType {
        /// The entity being defined, e.g. `silver.donations`.
        entity: String,
        /// The event type without a contract.
        event_type: String,
    },

    /// Two event types of the entity give one payload field different Arrow types.
    #[error(
        "entity {entity}: field `{field}` has type {left} in one event type and {right} in another"
    )]
    FieldConflict {
        /// The entity being defined.
        entity: String,
        /// The payload field's name.
        field: String,
        /// Its type in the entity's earlier event types.
        left: String,
        /// Its type in the event type being added.
        right: String,
    },

    /// A payload field has the name of an envelope column (`event_id`, `occurred_at`, ...).
    #[error("entity {entity}: payload field `{field}` clashes with an envelope column")]
    EnvelopeClash {
        /// The entity being defined.
        entity: String,
        /// The payload field's name.
        field: String,
    },

    /// An input batch is missing a column the decoder reads, or it cannot be cast to the type
    /// needed.
    #[error("entity {entity}: input batch lacks column `{column}` or has the wrong type")]
    InputColumn {
        /// The entity being decoded.
        entity: String,
        /// The missing or mistyped column.
        column: String,
    },

    /// An Arrow operation building the entity's rows or quarantine failed.
    #[error("entity {entity}: {source}")]
    Arrow {
        /// The entity being decoded.
        entity: String,
        /// The Arrow error.
        source: arrow::error::ArrowError,
    },
}
