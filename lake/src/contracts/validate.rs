//! Validation of a JSON payload against a contract's field specs.
//!
//! Invariant: a payload that passes has every required field non-null, every present field of
//! the declared kind, and every constraint (enum, range, length) met; the first problem found
//! is reported with its JSON path, so the message says exactly what to fix.

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

use super::spec::{Kind, Spec};
use crate::reason::{Reason, Violation};

/// Checks the fields of `object` against `fields`. Fields not in the contract are allowed
/// (producers may be ahead of us) and are kept in the stored payload.
pub fn check_fields(
    fields: &[Spec],
    object: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    for spec in fields {
        let name = spec.name();
        let here = join(path, name);
        match object.get(name) {
            None | Some(Value::Null) if spec.required => {
                return Err(Violation::new(
                    Reason::MissingField,
                    format!("{here}: required {} is missing", spec.kind.name()),
                ));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(spec, value, &here)?,
        }
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn wrong_type(spec: &Spec, value: &Value, here: &str) -> Violation {
    let found = match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {:?}", truncate(s)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    };
    Violation::new(
        Reason::WrongType,
        format!("{here}: expected {}, found {found}", spec.kind.name()),
    )
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn check_value(spec: &Spec, value: &Value, here: &str) -> Result<(), Violation> {
    match (spec.kind, value) {
        (Kind::String, Value::String(s)) => {
            check_length(spec, s.chars().count(), here)?;
            if let Some(allowed) = &spec.allowed
                && !allowed.iter().any(|a| a == s)
            {
                return Err(Violation::new(
                    Reason::InvalidValue,
                    format!(
                        "{here}: {:?} is not one of {}",
                        truncate(s),
                        allowed.join(", ")
                    ),
                ));
            }
            Ok(())
        }
        (Kind::Int, Value::Number(n)) => match n.as_i64() {
            Some(i) => check_range(spec, i as f64, here),
            None => Err(wrong_type(spec, value, here)),
        },
        (Kind::Float, Value::Number(n)) => check_range(spec, n.as_f64().unwrap_or(f64::NAN), here),
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Timestamp, Value::String(s)) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(()),
        (Kind::Date, Value::String(s)) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
            Ok(())
        }
        (Kind::Object, Value::Object(map)) => {
            check_fields(spec.fields.as_deref().unwrap_or_default(), map, here)
        }
        (Kind::List, Value::Array(items)) => {
            check_length(spec, items.len(), here)?;
            let item_spec = spec
                .items
                .as_deref()
                .expect("lists have items (checked at load)");
            for (i, item) in items.iter().enumerate() {
                let at = format!("{here}[{i}]");
                if item.is_null() {
                    return Err(Violation::new(
                        Reason::WrongType,
                        format!("{at}: null item"),
                    ));
                }
                check_value(item_spec, item, &at)?;
            }
            Ok(())
        }
        _ => Err(wrong_type(spec, value, here)),
    }
}

fn check_range(spec: &Spec, x: f64, here: &str) -> Result<(), Violation> {
    let below = spec.min.is_some_and(|min| x < min);
    let above = spec.max.is_some_and(|max| x > max);
    if below || above || x.is_nan() {
        let bound = match (spec.min, spec.max) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => "a finite number".to_owned(),
        };
        return Err(Violation::new(
            Reason::OutOfRange,
            format!("{here}: {x} is out of range, must be {bound}"),
        ));
    }
    Ok(())
}

fn check_length(spec: &Spec, len: usize, here: &str) -> Result<(), Violation> {
    let short = spec.min_length.is_some_and(|min| len < min);
    let long = spec.max_length.is_some_and(|max| len > max);
    if short || long {
        return Err(Violation::new(
            Reason::OutOfRange,
            format!(
                "{here}: length {len} is out of range ({}..={})",
                spec.min_length.unwrap_or(0),
                spec.max_length.map_or("∞".to_owned(), |m| m.to_string())
            ),
        ));
    }
    Ok(())
}
