//! Replay after a flush failed between its two commits. The rejected checkpoint is then ahead of
//! the events one, and a replayed record of that gap whose id is known is a duplicate whose row
//! is usually committed already. Not always: a record accepted before the failure may since have
//! been committed by another writer, and then it still needs its `duplicate_event_id` row. So
//! the positions of the rows this source filed for the key are read, once per key per recovery.
//!
//! Invariant: a replayed duplicate is skipped only when a `duplicate_event_id` row of its
//! source, key and position is committed.

use std::collections::HashSet;

use arrow::array::AsArray;
use datafusion::prelude::{SessionContext, col, lit};
use eventlake_lake::deltalake::DeltaTable;

use crate::error::{Error, Result};

/// The positions of the `duplicate_event_id` rows `source_id` committed for `key`.
pub async fn filed_duplicates(
    rejected: &DeltaTable,
    source_id: &str,
    key: &str,
) -> Result<HashSet<Box<str>>> {
    let has_files = rejected
        .snapshot()
        .map(|s| s.log_data().num_files() > 0)
        .unwrap_or(false);
    if !has_files {
        return Ok(HashSet::new());
    }
    let query = |e| eventlake_lake::Error::from(e);
    let ctx = SessionContext::new();
    rejected
        .update_datafusion_session(&ctx.state())
        .map_err(|e| Error::commit("bronze.events_rejected", e))?;
    let provider = rejected
        .table_provider()
        .await
        .map_err(eventlake_lake::Error::from)?;
    let rows = ctx
        .read_table(provider)
        .map_err(query)?
        .filter(
            col("source_id")
                .eq(lit(source_id))
                .and(col("source_key").eq(lit(key)))
                .and(col("reason").eq(lit("duplicate_event_id"))),
        )
        .map_err(query)?
        .select_columns(&["source_position"])
        .map_err(query)?
        .collect()
        .await
        .map_err(query)?;
    let mut positions = HashSet::new();
    for batch in rows {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(eventlake_lake::Error::from)?;
        positions.extend(column.as_string::<i32>().iter().flatten().map(Box::from));
    }
    Ok(positions)
}
