//! Validation of a JSON payload against a contract's field specs.
//!
//! Invariant: a payload that passes has every required field non-null, every present field of
//! the declared kind, and every constraint (enum, range, length) met; the first problem found
//! is reported with its JSON path, so the message says exactly what to fix.

use std::fmt;

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

use super::spec::{Kind, Spec};
use crate::reason::{Reason, Violation};

/// Where a value sits in the payload; rendered (`payload.skills[2].level`) only when a
/// violation is reported, so valid records allocate nothing for paths.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root(&'a str),
    Field(&'a str),
    Item(usize),
}

impl<'a> At<'a> {
    fn field(&'a self, name: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            step: Step::Field(name),
        }
    }

    fn item(&'a self, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            step: Step::Item(index),
        }
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.step {
            Step::Root(name) => f.write_str(name),
            Step::Field(name) if self.parent.is_some() => write!(f, ".{name}"),
            Step::Field(name) => f.write_str(name),
            Step::Item(i) => write!(f, "[{i}]"),
        }
    }
}

/// Checks the fields of `object` against `fields`; `path` names the object in messages.
/// Fields not in the contract are allowed (producers may be ahead of us) and are kept in the
/// stored payload.
pub fn check_fields(
    fields: &[Spec],
    object: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    let root = At {
        parent: None,
        step: Step::Root(path),
    };
    check_object(fields, object, &root)
}

fn check_object(
    fields: &[Spec],
    object: &Map<String, Value>,
    at: &At<'_>,
) -> Result<(), Violation> {
    for spec in fields {
        let here = at.field(spec.name());
        match object.get(spec.name()) {
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

fn wrong_type(spec: &Spec, value: &Value, here: &At<'_>) -> Violation {
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

fn check_value(spec: &Spec, value: &Value, here: &At<'_>) -> Result<(), Violation> {
    match (spec.kind, value) {
        (Kind::String, Value::String(s)) => {
            if spec.min_length.is_some() || spec.max_length.is_some() {
                check_length(spec, s.chars().count(), here)?;
            }
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
            check_object(spec.fields.as_deref().unwrap_or_default(), map, here)
        }
        (Kind::List, Value::Array(items)) => {
            check_length(spec, items.len(), here)?;
            let item_spec = spec
                .items
                .as_deref()
                .expect("lists have items (checked at load)");
            for (i, item) in items.iter().enumerate() {
                let at = here.item(i);
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

fn check_range(spec: &Spec, x: f64, here: &At<'_>) -> Result<(), Violation> {
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

fn check_length(spec: &Spec, len: usize, here: &At<'_>) -> Result<(), Violation> {
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
