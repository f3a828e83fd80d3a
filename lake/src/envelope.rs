//! The event envelope: decoding one raw record into its envelope fields and validating it,
//! payload included, against the contracts.
//!
//! Invariant: [`decode`] either returns an [`Event`] that satisfies its contract, or a
//! [`Violation`] with a stable reason; it never panics on any input bytes.

use std::borrow::Cow;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::contracts::Contracts;
use crate::reason::{Reason, Violation};

/// Longest accepted identifier (`event_id`, `tenant_id`, …), in characters.
pub const MAX_ID_CHARS: usize = 256;

/// A record that passed validation. `payload` is the JSON text exactly as the producer sent
/// it: borrowed from the record as decoded (`&str`), or any owner of those bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<P> {
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub tenant_id: String,
    pub subject_id: String,
    /// Microseconds since the Unix epoch, UTC.
    pub occurred_at: i64,
    pub schema_version: i32,
    pub payload: P,
}

impl<P> Event<P> {
    /// The UTC day of `occurred_at`, as days since the epoch (Arrow `Date32`).
    pub fn event_date(&self) -> i32 {
        self.occurred_at.div_euclid(86_400_000_000) as i32
    }

    /// The same event with its payload converted (e.g. to an owned slice).
    pub fn map_payload<Q>(self, f: impl FnOnce(P) -> Q) -> Event<Q> {
        Event {
            event_id: self.event_id,
            event_type: self.event_type,
            source: self.source,
            tenant_id: self.tenant_id,
            subject_id: self.subject_id,
            occurred_at: self.occurred_at,
            schema_version: self.schema_version,
            payload: f(self.payload),
        }
    }
}

/// Envelope fields as they arrive; a JSON `null` reads as absent.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    tenant_id: Option<&'a RawValue>,
    #[serde(borrow)]
    subject_id: Option<&'a RawValue>,
    #[serde(borrow)]
    occurred_at: Option<&'a RawValue>,
    #[serde(borrow)]
    schema_version: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// The fields every event must carry, in the order they are checked.
pub const ENVELOPE_FIELDS: [&str; 8] = [
    "event_id",
    "event_type",
    "source",
    "tenant_id",
    "subject_id",
    "occurred_at",
    "schema_version",
    "payload",
];

/// Best-effort identifiers of a record, for triage of rejects: whatever could be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub tenant_id: Option<String>,
}

/// Decodes and validates one record.
pub fn decode<'a>(
    bytes: &'a [u8],
    contracts: &Contracts,
) -> Result<Event<&'a str>, (Violation, Hints)> {
    let raw: Raw<'a> =
        serde_json::from_slice(bytes).map_err(|e| (not_parsed(bytes, &e), Hints::default()))?;
    let hints = Hints {
        event_id: raw
            .event_id
            .and_then(|v| string(v).ok())
            .map(Cow::into_owned),
        event_type: raw
            .event_type
            .and_then(|v| string(v).ok())
            .map(Cow::into_owned),
        tenant_id: raw
            .tenant_id
            .and_then(|v| string(v).ok())
            .map(Cow::into_owned),
    };
    check(&raw, contracts).map_err(|v| (v, hints))
}

fn check<'a>(raw: &Raw<'a>, contracts: &Contracts) -> Result<Event<&'a str>, Violation> {
    let present = [
        raw.event_id,
        raw.event_type,
        raw.source,
        raw.tenant_id,
        raw.subject_id,
        raw.occurred_at,
        raw.schema_version,
        raw.payload,
    ];
    let missing: Vec<&str> = ENVELOPE_FIELDS
        .iter()
        .zip(present)
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(Violation::new(
            Reason::MissingField,
            format!("envelope field(s) missing: {}", missing.join(", ")),
        ));
    }
    let field = |name: &str, v: Option<&RawValue>| identifier(name, v.expect("checked above"));
    let event_id = field("event_id", raw.event_id)?;
    let event_type = field("event_type", raw.event_type)?;
    let source = field("source", raw.source)?;
    let tenant_id = field("tenant_id", raw.tenant_id)?;
    let subject_id = field("subject_id", raw.subject_id)?;
    let occurred_at = timestamp(raw.occurred_at.expect("checked above"))?;
    let schema_version = version(raw.schema_version.expect("checked above"))?;
    let payload_raw = raw.payload.expect("checked above");
    if !payload_raw.get().starts_with('{') {
        return Err(Violation::new(
            Reason::WrongType,
            format!("payload: expected an object, found {}", payload_raw.get()),
        ));
    }
    let contract = contracts.get(&event_type).ok_or_else(|| {
        Violation::new(
            Reason::UnknownEventType,
            format!("event_type {event_type:?} has no contract"),
        )
    })?;
    if schema_version > contract.schema_version {
        return Err(Violation::new(
            Reason::UnsupportedSchemaVersion,
            format!(
                "{event_type} schema_version {schema_version} is newer than the known {}",
                contract.schema_version
            ),
        ));
    }
    contract.validate(payload_raw.get())?;
    Ok(Event {
        event_id,
        event_type,
        source,
        tenant_id,
        subject_id,
        occurred_at,
        schema_version,
        payload: payload_raw.get(),
    })
}

fn not_parsed(bytes: &[u8], error: &serde_json::Error) -> Violation {
    let json = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
    let message = error.to_string();
    if json && message.starts_with("duplicate field") {
        Violation::new(Reason::MalformedJson, format!("envelope has a {message}"))
    } else if json {
        Violation::new(Reason::NotAnObject, "a record must be a JSON object")
    } else {
        Violation::new(Reason::MalformedJson, format!("not valid JSON: {message}"))
    }
}

fn string(v: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    serde_json::from_str::<Cow<'_, str>>(v.get())
}

fn identifier(name: &str, v: &RawValue) -> Result<String, Violation> {
    let s = string(v).map_err(|_| {
        Violation::new(
            Reason::WrongType,
            format!("{name}: expected a string, found {}", v.get()),
        )
    })?;
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_ID_CHARS {
        return Err(Violation::new(
            Reason::OutOfRange,
            format!("{name}: must be 1 to {MAX_ID_CHARS} characters, has {chars}"),
        ));
    }
    Ok(s.into_owned())
}

/// Earliest and latest accepted `occurred_at` (years 1970 to 2199).
const TIME_RANGE: (i64, i64) = (0, 7_258_118_400_000_000);

fn timestamp(v: &RawValue) -> Result<i64, Violation> {
    let wrong = || {
        Violation::new(
            Reason::WrongType,
            format!(
                "occurred_at: expected an RFC 3339 timestamp, found {}",
                v.get()
            ),
        )
    };
    let s = string(v).map_err(|_| wrong())?;
    let micros = DateTime::parse_from_rfc3339(&s)
        .map_err(|_| wrong())?
        .timestamp_micros();
    if !(TIME_RANGE.0..TIME_RANGE.1).contains(&micros) {
        return Err(Violation::new(
            Reason::OutOfRange,
            format!("occurred_at: {s} is outside 1970..2199"),
        ));
    }
    Ok(micros)
}

fn version(v: &RawValue) -> Result<i32, Violation> {
    let n: i64 = serde_json::from_str(v.get()).map_err(|_| {
        Violation::new(
            Reason::WrongType,
            format!("schema_version: expected an integer, found {}", v.get()),
        )
    })?;
    i32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        Violation::new(
            Reason::OutOfRange,
            format!("schema_version: {n} must be at least 1"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn contracts() -> Contracts {
        Contracts::from_texts([(
            "t",
            "event_type = \"room.created\"\napplication = \"chat\"\nschema_version = 1\n[[fields]]\nname = \"room_id\"\ntype = \"string\"\nrequired = true\n",
        )])
        .unwrap()
    }

    fn event() -> Value {
        json!({
            "event_id": "e1", "event_type": "room.created", "source": "chat",
            "tenant_id": "t1", "subject_id": "u1", "occurred_at": "2026-01-02T03:04:05.678901Z",
            "schema_version": 1, "payload": {"room_id": "r1"}
        })
    }

    fn reason_of(v: &Value) -> Reason {
        let bytes = serde_json::to_vec(v).unwrap();
        decode(&bytes, &contracts()).unwrap_err().0.reason
    }

    #[test]
    fn decodes_a_valid_event() {
        let bytes = serde_json::to_vec(&event()).unwrap();
        let e = decode(&bytes, &contracts()).unwrap();
        assert_eq!(e.event_id, "e1");
        assert_eq!(e.occurred_at, 1_767_323_045_678_901);
        assert_eq!(e.payload, r#"{"room_id":"r1"}"#);
    }

    #[test]
    fn classifies_bad_envelopes() {
        let c = contracts();
        assert_eq!(
            decode(b"{\"event_id\":", &c).unwrap_err().0.reason,
            Reason::MalformedJson
        );
        assert_eq!(
            decode(b"[1,2]", &c).unwrap_err().0.reason,
            Reason::NotAnObject
        );
        assert_eq!(
            decode(&[0xff, 0xfe], &c).unwrap_err().0.reason,
            Reason::MalformedJson
        );
        let mut e = event();
        e.as_object_mut().unwrap().remove("tenant_id");
        assert_eq!(reason_of(&e), Reason::MissingField);
        let mut e = event();
        e["schema_version"] = json!("1");
        assert_eq!(reason_of(&e), Reason::WrongType);
        let mut e = event();
        e["occurred_at"] = json!("yesterday");
        assert_eq!(reason_of(&e), Reason::WrongType);
        let mut e = event();
        e["event_type"] = json!("room.exploded");
        assert_eq!(reason_of(&e), Reason::UnknownEventType);
        let mut e = event();
        e["schema_version"] = json!(2);
        assert_eq!(reason_of(&e), Reason::UnsupportedSchemaVersion);
        let mut e = event();
        e["payload"] = json!({});
        assert_eq!(reason_of(&e), Reason::MissingField);
        let mut e = event();
        e["event_id"] = json!("");
        assert_eq!(reason_of(&e), Reason::OutOfRange);
    }

    #[test]
    fn hints_survive_a_rejection() {
        let mut e = event();
        e["payload"] = json!({});
        let bytes = serde_json::to_vec(&e).unwrap();
        let (_, hints) = decode(&bytes, &contracts()).unwrap_err();
        assert_eq!(hints.event_id.as_deref(), Some("e1"));
        assert_eq!(hints.tenant_id.as_deref(), Some("t1"));
    }
}
