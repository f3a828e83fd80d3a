//! The hook through which a metadata catalog (the Glue Data Catalog) hears that a table was
//! created or changed its schema, so analysts never query a stale schema.
//!
//! Invariant: a failed registration never fails the write that caused it. The data is
//! committed; the failure is logged with the table, and the next change or a `catalog sync`
//! registers the table.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;

use crate::storage::Lake;
use crate::tables::TableName;

/// A registration in progress; its error says why the catalog refused or could not be reached.
pub type Registration<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn StdError + Send + Sync>>> + Send + 'a>>;

/// A catalog that mirrors the lake's tables.
pub trait Catalog: Send + Sync {
    /// Registers `table` as it is now in `lake` (creating or updating the entry).
    fn register<'a>(&'a self, lake: &'a Lake, table: &'a TableName) -> Registration<'a>;
}
