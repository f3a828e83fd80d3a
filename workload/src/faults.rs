//! Bad records planted in the stream, one kind of fault per line.
//!
//! Invariant: a bad line is bad in exactly one way. Missing-field, wrong-type and out-of-range
//! faults are planted in an otherwise valid line of a known event type, so the line is
//! rejected for that reason and no other; duplicates are byte-for-byte copies of an earlier good
//! line.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::events::{Breach, EventType};

/// Why a planted bad line is bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BadKind {
    /// Not JSON: a truncated record or garbage bytes.
    MalformedJson,
    /// An envelope field or a required payload field is absent.
    MissingField,
    /// A field holds a value of the wrong JSON type.
    WrongType,
    /// `event_type` names no known contract.
    UnknownEventType,
    /// A numeric field is outside its contract's range.
    OutOfRange,
    /// An exact repeat of an earlier good line (a client retry).
    DuplicateEventId,
}

impl BadKind {
    /// Every kind, in the order faults are planted.
    pub const ALL: [BadKind; 6] = [
        BadKind::MalformedJson,
        BadKind::MissingField,
        BadKind::WrongType,
        BadKind::UnknownEventType,
        BadKind::OutOfRange,
        BadKind::DuplicateEventId,
    ];

    /// Stable snake_case code, as ingest records it in `bronze.events_rejected`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            BadKind::MalformedJson => "malformed_json",
            BadKind::MissingField => "missing_field",
            BadKind::WrongType => "wrong_type",
            BadKind::UnknownEventType => "unknown_event_type",
            BadKind::OutOfRange => "out_of_range",
            BadKind::DuplicateEventId => "duplicate_event_id",
        }
    }
}

/// Envelope fields a missing-field fault may remove. `event_type` and `payload` are left alone:
/// without them the line could as well be classed as an unknown event type or malformed.
const REMOVABLE_ENVELOPE: [&str; 6] = [
    "event_id",
    "source",
    "tenant_id",
    "subject_id",
    "occurred_at",
    "schema_version",
];

const UNKNOWN_EVENT_TYPES: [&str; 6] = [
    "donation.refunded.v9",
    "party.merged",
    "message.reacted",
    "api.request.v2",
    "analysis.cancelled",
    "supporter.forgotten",
];

/// Turns the good line `good` of type `ty` into a bad line of `kind`, or `None` when this line
/// cannot carry that fault (then the caller plants it in a later line).
/// [`BadKind::DuplicateEventId`] is not planted here.
pub(crate) fn plant(
    kind: BadKind,
    ty: EventType,
    good: &[u8],
    rng: &mut ChaCha8Rng,
) -> Option<Vec<u8>> {
    match kind {
        BadKind::MalformedJson => Some(malformed(good, rng)),
        BadKind::DuplicateEventId => None,
        _ => {
            let mut line: Value = serde_json::from_slice(good).expect("good lines are JSON");
            let planted = match kind {
                BadKind::MissingField => remove_field(&mut line, ty, rng),
                BadKind::WrongType => retype_field(&mut line, ty, rng),
                BadKind::UnknownEventType => {
                    line["event_type"] = UNKNOWN_EVENT_TYPES[rng.random_range(0..6)].into();
                    true
                }
                _ => break_range(&mut line, ty, rng),
            };
            planted.then(|| serde_json::to_vec(&line).expect("a Value always serialises"))
        }
    }
}

fn malformed(good: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    if rng.random_bool(0.7) {
        // Truncated: the outer object is never closed, so no prefix parses.
        good[..rng.random_range(1..good.len() - 1)].to_vec()
    } else {
        // Garbage: 0xFF can start neither JSON nor UTF-8. No newlines, so it stays one line.
        let len = rng.random_range(8..80);
        let mut bytes = vec![0xff];
        bytes.extend((0..len).map(|_| rng.random_range(0x20u8..0x7f)));
        bytes
    }
}

fn remove_field(line: &mut Value, ty: EventType, rng: &mut ChaCha8Rng) -> bool {
    let required = ty.spec().required;
    let removed = if rng.random_bool(0.4) || required.is_empty() {
        let key = REMOVABLE_ENVELOPE[rng.random_range(0..REMOVABLE_ENVELOPE.len())];
        line.as_object_mut().and_then(|o| o.remove(key))
    } else {
        let key = required[rng.random_range(0..required.len())];
        line["payload"].as_object_mut().and_then(|o| o.remove(key))
    };
    removed.is_some()
}

fn retype_field(line: &mut Value, ty: EventType, rng: &mut ChaCha8Rng) -> bool {
    if rng.random_bool(0.3) {
        if rng.random_bool(0.5) {
            line["schema_version"] = Value::String("1".into());
        } else {
            // Epoch seconds instead of an RFC 3339 string.
            line["occurred_at"] = Value::from(1_782_908_096_i64);
        }
        return true;
    }
    let required = ty.spec().required;
    let key = required[rng.random_range(0..required.len())];
    let Some(field) = line["payload"].get_mut(key) else {
        return false;
    };
    *field = match field.take() {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(if b { "yes" } else { "no" }.into()),
        Value::String(_) => Value::from(42),
        Value::Array(items) => Value::String(format!("{} items", items.len())),
        Value::Object(_) | Value::Null => Value::Bool(true),
    };
    true
}

fn break_range(line: &mut Value, ty: EventType, rng: &mut ChaCha8Rng) -> bool {
    let candidates = ty.spec().out_of_range;
    if candidates.is_empty() {
        return false;
    }
    let (pointer, breach) = candidates[rng.random_range(0..candidates.len())];
    let Some(field) = line.pointer_mut(pointer) else {
        return false;
    };
    *field = match breach {
        Breach::Int(v) => Value::from(v),
        Breach::Float(v) => Value::from(v),
    };
    true
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn is_unknown(event_type: &str) -> bool {
        super::UNKNOWN_EVENT_TYPES.contains(&event_type)
    }
}
