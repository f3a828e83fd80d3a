//! Bronze → silver: one typed table per entity, decoded from the JSON payloads of its event
//! types with the contracts' Arrow schemas (columnar `arrow-json` decoding, no value tree).
//!
//! Invariant: every input row comes out exactly once, either typed in the entity batch or in
//! the quarantine batch with the reason it could not be typed; nothing is dropped silently.

#![warn(missing_docs)]

mod decode;
mod entity;
mod error;

pub use decode::{Decoded, decode, quarantine_schema};
pub use entity::Entity;
pub use error::{Error, Result};
