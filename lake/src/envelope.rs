//! The event envelope: decoding one raw record into its envelope fields and validating it,
//! payload included, against the contracts.
//!
//! A record is UTF-8 JSON text whose top-level value is an object. Bytes that are not UTF-8, or
//! text that starts as an object but is not valid JSON, are `malformed_json`; valid JSON that is
//! not an object (an array, even one holding the eight envelope values in order, a string, a
//! number, a boolean, `null`) is `not_an_object`.
//!
//! Invariant: [`decode`] either returns an [`Event`] that satisfies its contract, or a
//! [`Violation`] with a stable reason; it never panics on any input bytes.

use std::borrow::Cow;
use std::fmt;

use chrono::DateTime;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor, value::MapAccessDeserializer};
use serde_json::value::RawValue;

use crate::contracts::Contracts;
use crate::reason::{Reason, Violation};

/// Longest accepted identifier (`event_id`, `tenant_id`, …), in characters.
pub const MAX_ID_CHARS: usize = 256;

/// A record that passed validation. `payload` is the JSON text exactly as the producer sent
/// it: borrowed from the record as decoded (`&str`), or any owner of those bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<P> {
    /// Producer-assigned unique id; a repeat is rejected as `duplicate_event_id`.
    pub event_id: String,
    /// Event type (`donation.made`); it has a contract, which the payload satisfies.
    pub event_type: String,
    /// Application that produced the event (`supporter`).
    pub source: String,
    /// Tenant the event belongs to.
    pub tenant_id: String,
    /// Id of the entity the event is about (a party, a supporter, a session).
    pub subject_id: String,
    /// Microseconds since the Unix epoch, UTC.
    pub occurred_at: i64,
    /// Payload version, from 1 up to the contract's `schema_version`.
    pub schema_version: i32,
    /// The payload's JSON object text, byte for byte as sent.
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

/// Envelope fields as they arrive; a JSON `null` reads as absent. Only ever deserialised
/// through [`EnvelopeObject`]: the derived impl alone would also accept the sequence form.
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

/// Reads the envelope from a JSON object and from nothing else. serde's derived `Deserialize`
/// of a struct also accepts a sequence of its field values by position (`["e1",
/// "donation.made", …]`), which is not a record; this visitor implements only `visit_map`, so
/// any other value fails with serde's "invalid type" error, and hands the map to the derived
/// impl (which keeps its duplicate-field check).
struct EnvelopeObject;

impl<'de> Visitor<'de> for EnvelopeObject {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Raw<'de>, A::Error> {
        Raw::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Parses the envelope of a record's text: one JSON object and nothing after it.
fn parse(text: &str) -> Result<Raw<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let raw = de::Deserializer::deserialize_map(&mut deserializer, EnvelopeObject)?;
    deserializer.end()?;
    Ok(raw)
}

/// Best-effort identifiers of a record, for triage of rejects: whatever could be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// The record's `event_id`, if it has one that reads as a JSON string (length unchecked).
    pub event_id: Option<String>,
    /// The record's `event_type`, if it has one that reads as a JSON string.
    pub event_type: Option<String>,
    /// The record's `tenant_id`, if it has one that reads as a JSON string.
    pub tenant_id: Option<String>,
}

/// Decodes and validates one record.
pub fn decode<'a>(
    bytes: &'a [u8],
    contracts: &Contracts,
) -> Result<Event<&'a str>, (Violation, Hints)> {
    // UTF-8 is checked once, for the whole record: serde_json does not look at the bytes of
    // the strings it skips (the values of unknown envelope fields, and every string when it
    // only checks that text is JSON), so invalid UTF-8 there would pass or be misclassified.
    let reject = |violation: Violation| (violation, Hints::default());
    let text = std::str::from_utf8(bytes).map_err(|e| reject(not_utf8(bytes, &e)))?;
    let raw = parse(text).map_err(|e| reject(not_parsed(text, e)))?;
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

/// JSON text exchanged between systems is UTF-8 (RFC 8259 §8.1), so bytes that are not are
/// never JSON, whatever they start with.
fn not_utf8(bytes: &[u8], error: &std::str::Utf8Error) -> Violation {
    let at = error.valid_up_to();
    let what = match error.error_len() {
        Some(_) => format!("invalid UTF-8 at byte offset {at} (0x{:02x})", bytes[at]),
        None => format!("a UTF-8 sequence cut off by the end of the record at byte offset {at}"),
    };
    Violation::new(Reason::MalformedJson, format!("not valid JSON: {what}"))
}

/// Classifies text that did not parse as an envelope object. Text that starts as an object is
/// `malformed_json` (a syntax error, a record that breaks off, a duplicate envelope field);
/// otherwise it is `not_an_object` when it is some other valid JSON value, and `malformed_json`
/// when it is not JSON at all.
fn not_parsed(text: &str, error: serde_json::Error) -> Violation {
    let error = if first_byte(text) == Some(b'{') {
        error
    } else {
        match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => {
                return Violation::new(
                    Reason::NotAnObject,
                    format!("a record must be a JSON object, found {}", kind(text)),
                );
            }
            Err(syntax) => syntax,
        }
    };
    let at = byte_offset(text, error.line(), error.column())
        .map(|b| format!(" (byte offset {b})"))
        .unwrap_or_default();
    // The only data error an object can raise here is the derived impl's duplicate field.
    let message = if error.is_data() {
        format!("envelope has a {error}{at}")
    } else {
        format!("not valid JSON: {error}{at}")
    };
    Violation::new(Reason::MalformedJson, message)
}

/// The first byte of the text's first token. JSON whitespace is exactly space, tab, line feed
/// and carriage return (RFC 8259 §2), the set serde_json skips (`trim_ascii_start` would also
/// skip form feed). A byte-order mark is not whitespace: the file source drops one at the start
/// of a file, and a record that still starts with one is not JSON.
fn first_byte(text: &str) -> Option<u8> {
    text.bytes()
        .find(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// What kind of JSON value a valid, non-object text is, for the reject message.
fn kind(text: &str) -> &'static str {
    match first_byte(text) {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The 0-based byte offset of a serde_json error position: a 1-based line, and a column that
/// counts bytes from the start of that line up to and including the byte where the error was
/// found. `None` when the error carries no position.
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        _ => text.match_indices('\n').nth(line - 2)?.0 + 1,
    };
    Some(line_start + column.saturating_sub(1))
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
    fn a_record_must_be_a_json_object() {
        let c = contracts();
        let reason = |record: &[u8]| decode(record, &c).unwrap_err().0.reason;
        // serde's sequence form of the envelope struct: the eight values by position.
        let by_position: &[u8] =
            br#"["e1","room.created","chat","t1","u1","2026-01-02T03:04:05Z",1,{"room_id":"r1"}]"#;
        let (violation, hints) = decode(by_position, &c).unwrap_err();
        assert_eq!(violation.reason, Reason::NotAnObject, "{violation}");
        assert!(violation.message.contains("an array"), "{violation}");
        assert_eq!(hints, Hints::default());
        for record in [
            &b"\"x\""[..],
            b"1",
            b"-2.5e3",
            b"null",
            b"true",
            b" \r\n[]\t",
        ] {
            let text = String::from_utf8_lossy(record);
            assert_eq!(reason(record), Reason::NotAnObject, "{text}");
        }
        // Not JSON at all, whatever the first token, is malformed; so is an object preceded by
        // a byte-order mark or a form feed (neither is JSON whitespace).
        for record in [
            &b"[1,"[..],
            b"",
            b"nul",
            b"\xEF\xBB\xBF{}",
            b"\x0C{}",
            b"{} {}",
        ] {
            let text = String::from_utf8_lossy(record);
            assert_eq!(reason(record), Reason::MalformedJson, "{text}");
        }
        let mut padded = b" \t\r\n".to_vec();
        padded.extend(serde_json::to_vec(&event()).unwrap());
        padded.extend(b"\n ");
        assert_eq!(decode(&padded, &c).unwrap().event_id, "e1");
    }

    #[test]
    fn invalid_utf8_in_an_object_is_malformed_json_with_its_offset() {
        let c = contracts();
        let (violation, hints) = decode(b"{\"event_id\":\"\xffe1\"}", &c).unwrap_err();
        assert_eq!(violation.reason, Reason::MalformedJson, "{violation}");
        assert!(violation.message.contains("byte offset 13"), "{violation}");
        assert_eq!(hints, Hints::default());
        // Anywhere in an otherwise valid event: an envelope value, the payload, a field the
        // envelope ignores, a sequence cut off at the end.
        let valid = serde_json::to_vec(&event()).unwrap();
        let mut extra = event();
        extra["note"] = json!("n");
        let extra = serde_json::to_vec(&extra).unwrap();
        for (record, needle) in [(&valid, "\"e1\""), (&valid, "\"r1\""), (&extra, "\"n\"")] {
            let at = record
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap()
                + 1;
            let mut bad = record.clone();
            bad.insert(at, 0xff);
            let (violation, _) = decode(&bad, &c).unwrap_err();
            assert_eq!(
                violation.reason,
                Reason::MalformedJson,
                "{needle}: {violation}"
            );
            assert!(
                violation
                    .message
                    .contains(&format!("byte offset {at} (0xff)")),
                "{needle}: {violation}"
            );
        }
        let mut cut = valid;
        cut.push("é".as_bytes()[0]);
        let (violation, _) = decode(&cut, &c).unwrap_err();
        assert_eq!(violation.reason, Reason::MalformedJson, "{violation}");
        assert!(violation.message.contains("cut off"), "{violation}");
    }

    #[test]
    fn malformed_objects_say_where() {
        let c = contracts();
        let (violation, _) = decode(b"{\"event_id\" 1}", &c).unwrap_err();
        assert_eq!(violation.reason, Reason::MalformedJson);
        assert!(violation.message.contains("byte offset 12"), "{violation}");
        let (violation, _) = decode(b"{\n\"a\": 1,\n\"b\" 2}", &c).unwrap_err();
        assert!(violation.message.contains("byte offset 14"), "{violation}");
        let twice = br#"{"event_id":"e1","event_id":"e2"}"#;
        let (violation, _) = decode(twice, &c).unwrap_err();
        assert_eq!(violation.reason, Reason::MalformedJson);
        assert!(violation.message.contains("duplicate field"), "{violation}");
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
