//! Event contracts: one data file per event type, loaded once, used both to validate payloads
//! and to give each event type a typed Arrow schema.
//!
//! Invariant: a [`Contracts`] registry only holds contracts whose spec tree is well formed and
//! whose event types are unique.

mod schema;
mod spec;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::Schema;

pub use spec::{ContractFile, Kind, Spec};
pub use validate::check_json;

use crate::error::{Error, Result};
use crate::reason::Violation;

include!(concat!(env!("OUT_DIR"), "/contracts.rs"));

/// The contract of one event type.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Event type the contract governs (`donation.made`); unique within a [`Contracts`].
    pub event_type: String,
    /// Application that emits the event (`supporter`).
    pub application: String,
    /// Newest payload version this contract knows; at least 1. Newer events are rejected.
    pub schema_version: i32,
    /// What the event means, for people; may be empty.
    pub description: String,
    /// Specs of the payload's top-level fields; the tree is well formed.
    pub fields: Vec<Spec>,
    /// Typed Arrow schema of the payload.
    pub schema: Arc<Schema>,
}

impl Contract {
    /// Parses and checks one contract file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self> {
        let bad = |reason: String| Error::Contract {
            file: file.to_owned(),
            reason,
        };
        let parsed: ContractFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if parsed.schema_version < 1 {
            return Err(bad("schema_version must be at least 1".into()));
        }
        for field in &parsed.fields {
            field.check_shape(true, "").map_err(bad)?;
        }
        Ok(Contract {
            schema: schema::payload_schema(&parsed.fields),
            event_type: parsed.event_type,
            application: parsed.application,
            schema_version: parsed.schema_version,
            description: parsed.description,
            fields: parsed.fields,
        })
    }

    /// Validates the JSON text of a payload object against this contract.
    pub fn validate(&self, payload: &str) -> Result<(), Violation> {
        check_json(&self.fields, payload, "payload")
    }
}

/// All known contracts, by event type.
#[derive(Debug, Clone, Default)]
pub struct Contracts {
    by_type: BTreeMap<String, Contract>,
}

impl Contracts {
    /// The contracts shipped in this build (`lake/contracts/**.toml`), parsed once.
    pub fn builtin() -> &'static Contracts {
        static BUILTIN: OnceLock<Contracts> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Contracts::from_texts(EMBEDDED.iter().copied())
                .expect("embedded contracts are checked by the lake crate's tests")
        })
    }

    /// Builds a registry from `(file name, text)` pairs.
    pub fn from_texts<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut by_type = BTreeMap::new();
        for (file, text) in files {
            let contract = Contract::parse(file, text)?;
            let event_type = contract.event_type.clone();
            if by_type.insert(event_type.clone(), contract).is_some() {
                return Err(Error::Contract {
                    file: file.to_owned(),
                    reason: format!("event type {event_type} is defined twice"),
                });
            }
        }
        Ok(Self { by_type })
    }

    /// Loads every `*.toml` below a directory (for contracts kept outside the binary).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut texts = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(next) = stack.pop() {
            let entries = std::fs::read_dir(&next).map_err(|source| Error::Io {
                path: next.clone(),
                source,
            })?;
            for entry in entries {
                let path = entry
                    .map_err(|source| Error::Io {
                        path: next.clone(),
                        source,
                    })?
                    .path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                    texts.push((path.display().to_string(), text));
                }
            }
        }
        Self::from_texts(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))
    }

    /// The contract of an event type.
    pub fn get(&self, event_type: &str) -> Option<&Contract> {
        self.by_type.get(event_type)
    }

    /// All contracts, ordered by event type.
    pub fn iter(&self) -> impl Iterator<Item = &Contract> {
        self.by_type.values()
    }

    /// Number of contracts, one per event type.
    pub fn len(&self) -> usize {
        self.by_type.len()
    }

    /// Whether the registry holds no contract.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;
    use serde_json::{Value, json};

    const DONATION: &str = r#"
        event_type = "test.donation"
        application = "supporter"
        schema_version = 1
        [[fields]]
        name = "amount_minor"
        type = "int"
        required = true
        min = 1
        [[fields]]
        name = "currency"
        type = "string"
        required = true
        enum = ["GBP", "EUR"]
        [[fields]]
        name = "skills"
        type = "list"
        [fields.items]
        type = "object"
        [[fields.items.fields]]
        name = "level"
        type = "int"
        required = true
        max = 5
    "#;

    fn check(payload: Value) -> Result<(), Violation> {
        let contract = Contract::parse("test", DONATION).unwrap();
        contract.validate(&payload.to_string())
    }

    fn reason(payload: Value) -> Reason {
        check(payload).unwrap_err().reason
    }

    #[test]
    fn valid_payload_passes() {
        check(json!({"amount_minor": 500, "currency": "GBP", "skills": [{"level": 3}], "x": 1}))
            .unwrap();
    }

    #[test]
    fn each_fault_has_its_reason() {
        assert_eq!(reason(json!({"currency": "GBP"})), Reason::MissingField);
        assert_eq!(
            reason(json!({"amount_minor": null, "currency": "GBP"})),
            Reason::MissingField
        );
        assert_eq!(
            reason(json!({"amount_minor": "5", "currency": "GBP"})),
            Reason::WrongType
        );
        assert_eq!(
            reason(json!({"amount_minor": 1.5, "currency": "GBP"})),
            Reason::WrongType
        );
        assert_eq!(
            reason(json!({"amount_minor": 0, "currency": "GBP"})),
            Reason::OutOfRange
        );
        assert_eq!(
            reason(json!({"amount_minor": 1, "currency": "XYZ"})),
            Reason::InvalidValue
        );
        let nested = json!({"amount_minor": 1, "currency": "GBP", "skills": [{"level": 9}]});
        let violation = check(nested).unwrap_err();
        assert_eq!(violation.reason, Reason::OutOfRange);
        assert!(
            violation.message.contains("payload.skills[0].level"),
            "{violation}"
        );
    }

    #[test]
    fn lists_nulls_and_unknown_fields() {
        let base = |skills: Value| json!({"amount_minor": 5, "currency": "EUR", "skills": skills});
        assert_eq!(reason(base(json!([null]))), Reason::WrongType);
        assert_eq!(reason(base(json!("welding"))), Reason::WrongType);
        assert_eq!(reason(base(json!([{"level": "high"}]))), Reason::WrongType);
        assert_eq!(reason(base(json!([{}]))), Reason::MissingField);
        check(base(json!(null))).unwrap();
        let mut extra = base(json!([]));
        extra["note"] = json!({"deep": [1, {"x": null}]});
        check(extra).unwrap();
        let huge = json!({"amount_minor": u64::MAX, "currency": "GBP"});
        assert_eq!(reason(huge), Reason::WrongType);
        let contract = Contract::parse("test", DONATION).unwrap();
        assert_eq!(
            contract.validate("[1]").unwrap_err().reason,
            Reason::WrongType
        );
    }

    #[test]
    fn malformed_specs_are_refused() {
        let no_items = "event_type = \"a\"\napplication = \"b\"\nschema_version = 1\n[[fields]]\nname = \"l\"\ntype = \"list\"\n";
        assert!(Contract::parse("t", no_items).is_err());
        let range_on_string = "event_type = \"a\"\napplication = \"b\"\nschema_version = 1\n[[fields]]\nname = \"s\"\ntype = \"string\"\nmin = 1\n";
        assert!(Contract::parse("t", range_on_string).is_err());
    }

    #[test]
    fn builtin_contracts_cover_all_five_applications() {
        let contracts = Contracts::builtin();
        for application in ["marketplace", "supporter", "chat", "saas", "analysis"] {
            assert!(
                contracts.iter().any(|c| c.application == application),
                "no contract for {application}"
            );
        }
        for event_type in [
            "party.registered",
            "opportunity.posted",
            "match.accepted",
            "donation.made",
            "interaction.logged",
            "message.created",
            "api.request",
            "analysis.failed",
            "audit.logged",
        ] {
            assert!(
                contracts.get(event_type).is_some(),
                "no contract for {event_type}"
            );
        }
    }

    /// Paths of the int and float specs at or below `spec` that lack a `min` or a `max`.
    fn unbounded(spec: &Spec, at: String, out: &mut Vec<String>) {
        let numeric = matches!(spec.kind, Kind::Int | Kind::Float);
        if numeric && (spec.min.is_none() || spec.max.is_none()) {
            out.push(at.clone());
        }
        if let Some(items) = &spec.items {
            unbounded(items, format!("{at}[]"), out);
        }
        for field in spec.fields.iter().flatten() {
            unbounded(field, format!("{at}.{}", field.name()), out);
        }
    }

    /// A number a producer can send without bound is a number a gold sum can be driven to
    /// any size by (and a producer bug that reaches the metrics): each has a stated range.
    #[test]
    fn every_builtin_number_has_a_range() {
        let mut out = Vec::new();
        for contract in Contracts::builtin().iter() {
            for field in &contract.fields {
                let at = format!("{} payload.{}", contract.event_type, field.name());
                unbounded(field, at, &mut out);
            }
        }
        assert!(out.is_empty(), "numbers without min and max: {out:?}");
    }

    #[test]
    fn api_request_bytes_out_is_at_most_5_gib() {
        let contract = Contracts::builtin().get("api.request").unwrap();
        let payload = |bytes_out: Value| {
            json!({
                "request_id": "r1", "route": "/v1/exports/{id}", "method": "GET", "status": 200,
                "latency_ms": 12.5, "tier": "pro", "api_key_id": "k1", "bytes_out": bytes_out
            })
            .to_string()
        };
        contract
            .validate(&payload(json!(5_368_709_120_i64)))
            .unwrap();
        for over in [json!(5_368_709_121_i64), json!(i64::MAX)] {
            let violation = contract.validate(&payload(over)).unwrap_err();
            assert_eq!(violation.reason, Reason::OutOfRange, "{violation}");
            assert!(
                violation.message.contains("payload.bytes_out"),
                "{violation}"
            );
        }
    }

    #[test]
    fn builtin_files_are_named_after_their_event_type() {
        for (file, text) in EMBEDDED {
            let contract = Contract::parse(file, text).unwrap();
            let expected = format!("{}/{}.toml", contract.application, contract.event_type);
            assert_eq!(*file, expected);
        }
    }
}
