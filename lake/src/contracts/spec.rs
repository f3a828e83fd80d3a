//! The on-disk shape of a contract file (`contracts/<application>/<event_type>.toml`).
//!
//! Invariant: a loaded [`Spec`] tree is well formed — named fields everywhere but list items,
//! `items` only on lists, nested `fields` only on objects, constraints only on the kinds they fit.

use serde::Deserialize;

/// One contract file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    /// Event type the contract governs (`donation.made`); also the file's stem.
    pub event_type: String,
    /// Application that emits the event (`supporter`); also the file's directory.
    pub application: String,
    /// Newest payload version this contract describes; at least 1.
    pub schema_version: i32,
    /// What the event means, for people; empty if the file has none.
    #[serde(default)]
    pub description: String,
    /// Specs of the payload's top-level fields (`[[fields]]`).
    pub fields: Vec<Spec>,
}

/// The JSON kind of a value, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// JSON string.
    String,
    /// JSON integer that fits an `i64`; a number with a fraction is refused.
    Int,
    /// Any JSON number.
    Float,
    /// JSON `true` or `false`.
    Bool,
    /// RFC 3339 string.
    Timestamp,
    /// `YYYY-MM-DD` string.
    Date,
    /// JSON object whose fields are given by nested `fields`.
    Object,
    /// JSON array whose elements all match `items`.
    List,
}

impl Kind {
    /// The kind as worded in violation messages (`integer`, `RFC 3339 timestamp`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Bool => "boolean",
            Kind::Timestamp => "RFC 3339 timestamp",
            Kind::Date => "date (YYYY-MM-DD)",
            Kind::Object => "object",
            Kind::List => "list",
        }
    }
}

/// A field of a payload or object, or the item type of a list (then without name).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// JSON key of the field; `None` exactly for a list's item spec.
    pub name: Option<String>,
    /// Kind the value must have (`type` in the file).
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The field must be present and non-null; an optional field may be absent or null.
    #[serde(default)]
    pub required: bool,
    /// What the field means, for people; empty if the file has none.
    #[serde(default)]
    pub description: String,
    /// The only values a string may take (`enum` in the file); strings only.
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<String>>,
    /// Smallest allowed number, inclusive; int and float only.
    pub min: Option<f64>,
    /// Largest allowed number, inclusive; int and float only.
    pub max: Option<f64>,
    /// Fewest characters of a string or items of a list, inclusive.
    pub min_length: Option<usize>,
    /// Most characters of a string or items of a list, inclusive.
    pub max_length: Option<usize>,
    /// Spec of every item; set on lists and only on lists.
    pub items: Option<Box<Spec>>,
    /// Specs of the nested fields; set on objects and only on objects.
    pub fields: Option<Vec<Spec>>,
}

impl Spec {
    /// The field name; empty for list items.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Checks the tree's shape; `named` says whether this spec must carry a name.
    pub fn check_shape(&self, named: bool, path: &str) -> Result<(), String> {
        let here = if named {
            let name = self
                .name
                .as_deref()
                .ok_or_else(|| format!("{path}: a field without `name`"))?;
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        } else {
            if self.name.is_some() {
                return Err(format!("{path}[]: list items take no `name`"));
            }
            format!("{path}[]")
        };
        let numeric = matches!(self.kind, Kind::Int | Kind::Float);
        if (self.min.is_some() || self.max.is_some()) && !numeric {
            return Err(format!("{here}: `min`/`max` only apply to int and float"));
        }
        let lengthy = matches!(self.kind, Kind::String | Kind::List);
        if (self.min_length.is_some() || self.max_length.is_some()) && !lengthy {
            return Err(format!(
                "{here}: `min_length`/`max_length` only apply to string and list"
            ));
        }
        if self.allowed.is_some() && self.kind != Kind::String {
            return Err(format!("{here}: `enum` only applies to string"));
        }
        match (self.kind, &self.items, &self.fields) {
            (Kind::List, Some(items), None) => items.check_shape(false, &here),
            (Kind::List, None, _) => Err(format!("{here}: a list needs `items`")),
            (Kind::Object, None, Some(fields)) => {
                fields.iter().try_for_each(|f| f.check_shape(true, &here))
            }
            (Kind::Object, _, None) => Err(format!("{here}: an object needs `fields`")),
            (_, None, None) => Ok(()),
            _ => Err(format!(
                "{here}: `items` belongs to lists and `fields` to objects"
            )),
        }
    }
}
