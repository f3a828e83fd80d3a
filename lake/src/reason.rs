//! Stable reason codes for records that are not accepted. The codes are part of the public
//! contract of `bronze.events_rejected` (and of the HTTP collector's answers): never rename one.

use std::fmt;

/// Why a record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The bytes are not UTF-8, or not JSON: anything that starts as an object but does not
    /// parse as one (cut off, a syntax error, a duplicate envelope field), and any text that
    /// is no JSON value at all. The message gives the byte offset where it went wrong.
    MalformedJson,
    /// Valid JSON, but not an object: an array (an array of the envelope's values in order
    /// too), a string, a number, a boolean or `null`.
    NotAnObject,
    /// A required envelope or payload field is absent or null.
    MissingField,
    /// A field has the wrong JSON type or format (e.g. a timestamp that is not RFC 3339).
    WrongType,
    /// No contract exists for the `event_type`.
    UnknownEventType,
    /// A number or length is outside the contract's range.
    OutOfRange,
    /// A string is not one of the contract's allowed values.
    InvalidValue,
    /// The event's `schema_version` is newer than the contract this build knows.
    UnsupportedSchemaVersion,
    /// The record is larger than the configured limit.
    TooLarge,
    /// The `event_id` is already in `bronze.events` (a retry or a replay).
    DuplicateEventId,
}

impl Reason {
    /// Every reason, in a stable order.
    pub const ALL: [Reason; 10] = [
        Reason::MalformedJson,
        Reason::NotAnObject,
        Reason::MissingField,
        Reason::WrongType,
        Reason::UnknownEventType,
        Reason::OutOfRange,
        Reason::InvalidValue,
        Reason::UnsupportedSchemaVersion,
        Reason::TooLarge,
        Reason::DuplicateEventId,
    ];

    /// The stable snake_case code stored in `bronze.events_rejected.reason`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed_json",
            Reason::NotAnObject => "not_an_object",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::UnknownEventType => "unknown_event_type",
            Reason::OutOfRange => "out_of_range",
            Reason::InvalidValue => "invalid_value",
            Reason::UnsupportedSchemaVersion => "unsupported_schema_version",
            Reason::TooLarge => "too_large",
            Reason::DuplicateEventId => "duplicate_event_id",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejection: the stable reason and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable code, stored in `bronze.events_rejected.reason`.
    pub reason: Reason,
    /// What is wrong and where (`payload.skills[2].level: 11 is out of range, …`).
    pub message: String,
}

impl Violation {
    /// A violation with the given reason and message.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
    }
}
