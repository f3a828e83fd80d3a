//! The on-disk shape of a contract file (`contracts/<application>/<event_type>.toml`).
//!
//! Invariant: a loaded [`Spec`] tree is well formed — named fields everywhere but list items,
//! `items` only on lists, nested `fields` only on objects, constraints only on the kinds they fit.

use serde::Deserialize;

/// One contract file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    pub event_type: String,
    pub application: String,
    pub schema_version: i32,
    #[serde(default)]
    pub description: String,
    pub fields: Vec<Spec>,
}

/// The JSON kind of a value, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    String,
    Int,
    Float,
    Bool,
    /// RFC 3339 string.
    Timestamp,
    /// `YYYY-MM-DD` string.
    Date,
    Object,
    List,
}

impl Kind {
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
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub items: Option<Box<Spec>>,
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
