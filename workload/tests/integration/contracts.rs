//! The workload against the contract files in `lake/contracts`: every good line satisfies its
//! contract, and every planted fault breaks it in exactly the planted way.
//!
//! The checker here is deliberately independent of the `lake` loader: it reads the TOML files
//! as plain tables, so it also checks that the files keep the agreed format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use eventlake_workload::{BadKind, Workload, WorkloadConfig};
use serde_json::Value;
use toml::Table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Missing,
    WrongType,
    OutOfRange,
    BadLength,
    BadEnum,
    BadFormat,
    UnknownField,
}

const TYPES: [&str; 8] = [
    "string",
    "int",
    "float",
    "bool",
    "timestamp",
    "date",
    "object",
    "list",
];
const APPLICATIONS: [&str; 5] = ["marketplace", "supporter", "chat", "saas", "analysis"];
const TOP_KEYS: [&str; 5] = [
    "event_type",
    "application",
    "schema_version",
    "description",
    "fields",
];
const TYPE_KEYS: [&str; 9] = [
    "type",
    "description",
    "enum",
    "min",
    "max",
    "min_length",
    "max_length",
    "items",
    "fields",
];

fn contracts_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../lake/contracts")
}

/// Contracts by event type, after checking each file's format.
fn load_contracts() -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for app_dir in std::fs::read_dir(contracts_dir()).unwrap() {
        let app_dir = app_dir.unwrap().path();
        let app = app_dir.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            APPLICATIONS.contains(&app.as_str()),
            "unexpected directory {app}"
        );
        for file in std::fs::read_dir(&app_dir).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let table: Table = text.parse().unwrap_or_else(|e| panic!("{path:?}: {e}"));
            for key in table.keys() {
                assert!(
                    TOP_KEYS.contains(&key.as_str()),
                    "{path:?}: unknown key {key}"
                );
            }
            let event_type = table["event_type"].as_str().unwrap().to_owned();
            assert_eq!(
                path.file_name().unwrap().to_str().unwrap(),
                format!("{event_type}.toml")
            );
            assert_eq!(
                table["application"].as_str(),
                Some(app.as_str()),
                "{path:?}"
            );
            assert_eq!(table["schema_version"].as_integer(), Some(1), "{path:?}");
            assert!(!table["description"].as_str().unwrap().is_empty());
            check_fields_format(table["fields"].as_array().unwrap(), &event_type);
            out.insert(event_type, table);
        }
    }
    out
}

fn check_fields_format(fields: &[toml::Value], at: &str) {
    let mut names = BTreeSet::new();
    for field in fields {
        let field = field.as_table().unwrap();
        let name = field["name"].as_str().unwrap();
        assert!(names.insert(name), "{at}: duplicate field {name}");
        let at = format!("{at}.{name}");
        assert!(field["required"].is_bool(), "{at}: required");
        assert!(field.contains_key("description"), "{at}: description");
        for key in field.keys() {
            assert!(
                key == "name" || key == "required" || TYPE_KEYS.contains(&key.as_str()),
                "{at}: unknown key {key}"
            );
        }
        check_type_format(field, &at);
    }
}

fn check_type_format(spec: &Table, at: &str) {
    let ty = spec["type"].as_str().unwrap();
    assert!(TYPES.contains(&ty), "{at}: type {ty}");
    let allowed = |key: &str| match key {
        "enum" => ty == "string",
        "min" | "max" => ty == "int" || ty == "float",
        "min_length" | "max_length" => ty == "string" || ty == "list",
        "items" => ty == "list",
        "fields" => ty == "object",
        _ => true,
    };
    for key in spec.keys() {
        assert!(allowed(key), "{at}: {key} on a {ty}");
    }
    if ty == "int" {
        for key in ["min", "max"] {
            assert!(
                spec.get(key).is_none_or(toml::Value::is_integer),
                "{at}: {key}"
            );
        }
    }
    if ty == "float" {
        for key in ["min", "max"] {
            assert!(
                spec.get(key).is_none_or(toml::Value::is_float),
                "{at}: {key}"
            );
        }
    }
    if ty == "list" {
        let items = spec["items"].as_table().unwrap();
        for key in items.keys() {
            assert!(
                TYPE_KEYS.contains(&key.as_str()),
                "{at}[]: unknown key {key}"
            );
        }
        check_type_format(items, &format!("{at}[]"));
    }
    if ty == "object" {
        check_fields_format(spec["fields"].as_array().unwrap(), at);
    }
}

fn number(v: &toml::Value) -> f64 {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .unwrap()
}

fn check_value(spec: &Table, v: &Value, at: &str, faults: &mut Vec<(Fault, String)>) {
    let mut fault = |f: Fault| faults.push((f, at.to_owned()));
    let length = |n: usize, fault: &mut dyn FnMut(Fault)| {
        if spec
            .get("min_length")
            .is_some_and(|m| (n as i64) < m.as_integer().unwrap())
            || spec
                .get("max_length")
                .is_some_and(|m| (n as i64) > m.as_integer().unwrap())
        {
            fault(Fault::BadLength);
        }
    };
    let range = |x: f64, fault: &mut dyn FnMut(Fault)| {
        if spec.get("min").is_some_and(|m| x < number(m))
            || spec.get("max").is_some_and(|m| x > number(m))
        {
            fault(Fault::OutOfRange);
        }
    };
    match (spec["type"].as_str().unwrap(), v) {
        ("string", Value::String(s)) => {
            if let Some(allowed) = spec.get("enum").and_then(toml::Value::as_array)
                && !allowed.iter().any(|a| a.as_str() == Some(s))
            {
                fault(Fault::BadEnum);
            }
            length(s.chars().count(), &mut fault);
        }
        ("int", Value::Number(n)) if n.is_i64() || n.is_u64() => {
            range(n.as_f64().unwrap(), &mut fault)
        }
        ("float", Value::Number(n)) => range(n.as_f64().unwrap(), &mut fault),
        ("bool", Value::Bool(_)) => {}
        ("timestamp", Value::String(s)) => {
            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                fault(Fault::BadFormat);
            }
        }
        ("date", Value::String(s)) => {
            if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() || s.len() != 10 {
                fault(Fault::BadFormat);
            }
        }
        ("object", Value::Object(o)) => {
            check_object(spec["fields"].as_array().unwrap(), o, at, faults)
        }
        ("list", Value::Array(items)) => {
            length(items.len(), &mut fault);
            let item_spec = spec["items"].as_table().unwrap();
            for (i, item) in items.iter().enumerate() {
                check_value(item_spec, item, &format!("{at}[{i}]"), faults);
            }
        }
        _ => fault(Fault::WrongType),
    }
}

fn check_object(
    fields: &[toml::Value],
    o: &serde_json::Map<String, Value>,
    at: &str,
    faults: &mut Vec<(Fault, String)>,
) {
    for field in fields {
        let field = field.as_table().unwrap();
        let name = field["name"].as_str().unwrap();
        let path = format!("{at}.{name}");
        match o.get(name) {
            Some(v) => check_value(field, v, &path, faults),
            None if field["required"].as_bool().unwrap() => faults.push((Fault::Missing, path)),
            None => {}
        }
    }
    for key in o.keys() {
        if !fields.iter().any(|f| f["name"].as_str() == Some(key)) {
            faults.push((Fault::UnknownField, format!("{at}.{key}")));
        }
    }
}

/// What is wrong with a parsed line; `Err` when its event type has no contract.
fn check_line(
    contracts: &BTreeMap<String, Table>,
    v: &Value,
) -> Result<Vec<(Fault, String)>, String> {
    let mut faults = Vec::new();
    let o = v.as_object().expect("a line is an object");
    for key in ["event_id", "source", "tenant_id", "subject_id"] {
        match o.get(key) {
            None => faults.push((Fault::Missing, key.to_owned())),
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => faults.push((Fault::WrongType, key.to_owned())),
        }
    }
    let event_type = o["event_type"].as_str().expect("event_type is kept");
    let Some(contract) = contracts.get(event_type) else {
        return Err(event_type.to_owned());
    };
    match o.get("occurred_at") {
        None => faults.push((Fault::Missing, "occurred_at".into())),
        Some(Value::String(s)) => {
            assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok(), "{s}");
        }
        Some(_) => faults.push((Fault::WrongType, "occurred_at".into())),
    }
    match o.get("schema_version") {
        None => faults.push((Fault::Missing, "schema_version".into())),
        Some(Value::Number(n)) => assert_eq!(n.as_i64(), contract["schema_version"].as_integer()),
        Some(_) => faults.push((Fault::WrongType, "schema_version".into())),
    }
    if let Some(source) = o.get("source").and_then(Value::as_str) {
        assert_eq!(Some(source), contract["application"].as_str());
    }
    let payload = o["payload"].as_object().expect("payload is kept");
    check_object(
        contract["fields"].as_array().unwrap(),
        payload,
        "payload",
        &mut faults,
    );
    Ok(faults)
}

#[test]
fn lines_keep_or_break_their_contracts_as_planted() {
    let contracts = load_contracts();
    let config = WorkloadConfig {
        events: 200_000,
        bad_ratio: 0.06,
        ..WorkloadConfig::default()
    };
    let mut seen_types = BTreeSet::new();
    let mut planted = BTreeMap::new();
    for (i, line) in Workload::new(config).enumerate() {
        let parsed = serde_json::from_slice::<Value>(&line.bytes);
        if line.bad == Some(BadKind::MalformedJson) {
            assert!(parsed.is_err(), "line {i} parses");
            continue;
        }
        let v = parsed.unwrap_or_else(|e| panic!("line {i}: {e}"));
        let checked = check_line(&contracts, &v);
        let expected = match line.bad {
            None | Some(BadKind::DuplicateEventId) => None,
            Some(BadKind::MissingField) => Some(Fault::Missing),
            Some(BadKind::WrongType) => Some(Fault::WrongType),
            Some(BadKind::OutOfRange) => Some(Fault::OutOfRange),
            Some(BadKind::UnknownEventType) => {
                assert!(checked.is_err(), "line {i}: {v}");
                *planted.entry("unknown_event_type").or_insert(0) += 1;
                continue;
            }
            Some(BadKind::MalformedJson) => unreachable!(),
        };
        let faults = checked.unwrap_or_else(|t| panic!("line {i}: unknown type {t}"));
        match expected {
            None => {
                assert!(
                    faults.is_empty(),
                    "line {i} breaks its contract: {faults:?}\n{v}"
                );
                seen_types.insert(v["event_type"].as_str().unwrap().to_owned());
            }
            Some(fault) => {
                assert_eq!(
                    faults.len(),
                    1,
                    "line {i} ({:?}): {faults:?}\n{v}",
                    line.bad
                );
                assert_eq!(faults[0].0, fault, "line {i}: {faults:?}\n{v}");
                *planted.entry(line.bad.unwrap().reason_code()).or_insert(0) += 1;
            }
        }
    }
    let all: BTreeSet<String> = contracts.keys().cloned().collect();
    assert_eq!(
        seen_types, all,
        "event types without good lines, or without contracts"
    );
    assert_eq!(planted.len(), 4, "{planted:?}");
}
