//! Validation of a JSON payload against a contract's field specs, done while parsing: the spec
//! drives a serde visitor, so a valid payload is checked without building a value tree.
//!
//! Invariant: a payload that passes has every required field non-null, every present field of
//! the declared kind, and every constraint (enum, range, length) met; the first problem found
//! (in document order) is reported with its JSON path, so the message says exactly what to fix.

use std::cell::RefCell;
use std::fmt;

use chrono::{DateTime, NaiveDate};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

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

/// Validates the JSON text of an object against `fields`; `path` names it in messages.
/// Fields not in the contract are allowed (producers may be ahead of us) and are kept in the
/// stored payload. The text must be syntactically valid JSON (the envelope parse checked it).
pub fn check_json(fields: &[Spec], json: &str, path: &str) -> Result<(), Violation> {
    let root = At {
        parent: None,
        step: Step::Root(path),
    };
    let slot = RefCell::new(None);
    let seed = ObjectSeed {
        fields,
        at: &root,
        slot: &slot,
    };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let parsed = seed.deserialize(&mut deserializer);
    match (parsed, slot.into_inner()) {
        (_, Some(violation)) => Err(violation),
        (Ok(()), None) => Ok(()),
        (Err(e), None) => Err(Violation::new(
            Reason::MalformedJson,
            format!("{root}: not valid JSON: {e}"),
        )),
    }
}

/// Where the first violation is kept; the parse is then aborted with an empty error.
type Slot = RefCell<Option<Violation>>;

fn fail<T, E: de::Error>(slot: &Slot, violation: Violation) -> Result<T, E> {
    slot.borrow_mut().get_or_insert(violation);
    Err(E::custom("contract violation"))
}

/// Checks an object's fields.
struct ObjectSeed<'a> {
    fields: &'a [Spec],
    at: &'a At<'a>,
    slot: &'a Slot,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut present = vec![false; self.fields.len()];
        while let Some(index) = map.next_key_seed(KeySeed(self.fields))? {
            match index {
                Some(i) => {
                    let here = self.at.field(self.fields[i].name());
                    map.next_value_seed(ValueSeed {
                        spec: &self.fields[i],
                        at: &here,
                        slot: self.slot,
                        item: false,
                    })?;
                    present[i] = true;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (spec, present) in self.fields.iter().zip(present) {
            if spec.required && !present {
                let here = self.at.field(spec.name());
                return fail(self.slot, missing(spec, &here));
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        fail(
            self.slot,
            Violation::new(
                Reason::WrongType,
                format!("{}: expected an object, found null", self.at),
            ),
        )
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object("a string")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_object("a list")
    }
}

impl ObjectSeed<'_> {
    fn not_an_object<E: de::Error>(&self, found: &str) -> Result<(), E> {
        let message = format!("{}: expected an object, found {found}", self.at);
        fail(self.slot, Violation::new(Reason::WrongType, message))
    }
}

fn missing(spec: &Spec, here: &At<'_>) -> Violation {
    Violation::new(
        Reason::MissingField,
        format!("{here}: required {} is missing", spec.kind.name()),
    )
}

/// Maps an object key to the index of its spec, without allocating for plain keys.
struct KeySeed<'a>(&'a [Spec]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|s| s.name() == key))
    }
}

/// Checks one value (a field, or a list item when `item` is set) against its spec.
struct ValueSeed<'a> {
    spec: &'a Spec,
    at: &'a At<'a>,
    slot: &'a Slot,
    item: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn wrong<E: de::Error>(&self, found: fmt::Arguments<'_>) -> Result<(), E> {
        let message = format!(
            "{}: expected {}, found {found}",
            self.at,
            self.spec.kind.name()
        );
        fail(self.slot, Violation::new(Reason::WrongType, message))
    }

    fn check<E: de::Error>(&self, result: Result<(), Violation>) -> Result<(), E> {
        match result {
            Ok(()) => Ok(()),
            Err(violation) => fail(self.slot, violation),
        }
    }

    fn number<E: de::Error>(
        &self,
        x: f64,
        integral: bool,
        shown: fmt::Arguments<'_>,
    ) -> Result<(), E> {
        match self.spec.kind {
            Kind::Int if integral => self.check(check_range(self.spec, x, self.at)),
            Kind::Float => self.check(check_range(self.spec, x, self.at)),
            _ => self.wrong(format_args!("number {shown}")),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec.kind.name())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.item {
            fail(
                self.slot,
                Violation::new(Reason::WrongType, format!("{}: null item", self.at)),
            )
        } else if self.spec.required {
            fail(self.slot, missing(self.spec, self.at))
        } else {
            Ok(())
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.spec.kind {
            Kind::Bool => Ok(()),
            _ => self.wrong(format_args!("boolean {v}")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number(v as f64, true, format_args!("{v}"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number(v as f64, i64::try_from(v).is_ok(), format_args!("{v}"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.number(v, false, format_args!("{v}"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.spec.kind {
            Kind::String => self.check(check_string(self.spec, s, self.at)),
            Kind::Timestamp if DateTime::parse_from_rfc3339(s).is_ok() => Ok(()),
            Kind::Date if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(()),
            _ => self.wrong(format_args!("string {:?}", truncate(s))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        match self.spec.kind {
            Kind::Object => ObjectSeed {
                fields: self.spec.fields.as_deref().unwrap_or_default(),
                at: self.at,
                slot: self.slot,
            }
            .visit_map(map),
            _ => self.wrong(format_args!("an object")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.spec.kind != Kind::List {
            return self.wrong(format_args!("a list"));
        }
        let item = self
            .spec
            .items
            .as_deref()
            .expect("lists have items (checked at load)");
        let mut len = 0;
        loop {
            let here = self.at.item(len);
            let seed = ValueSeed {
                spec: item,
                at: &here,
                slot: self.slot,
                item: true,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            len += 1;
        }
        self.check(check_length(self.spec, len, self.at))
    }
}

fn check_string(spec: &Spec, s: &str, here: &At<'_>) -> Result<(), Violation> {
    // A string has between len/4 and len characters: count them only when that range
    // straddles a bound.
    let surely_short = spec.min_length.is_some_and(|min| s.len() < min);
    let maybe_short = spec.min_length.is_some_and(|min| s.len() / 4 < min);
    let maybe_long = spec.max_length.is_some_and(|max| s.len() > max);
    if surely_short || maybe_short || maybe_long {
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

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
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
