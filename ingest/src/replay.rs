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
use datafusion::prelude::{col, lit};
use eventlake_lake::deltalake::DeltaTable;
use eventlake_lake::{TableName, query};

use crate::error::Result;

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
    let failed = |e| eventlake_lake::Error::from(e);
    let ctx = query::empty_session();
    let name = TableName::rejected();
    query::register_delta(&ctx, &name, rejected).await?;
    let rows = ctx
        .table(name.to_string())
        .await
        .map_err(failed)?
        .filter(
            col("source_id")
                .eq(lit(source_id))
                .and(col("source_key").eq(lit(key)))
                .and(col("reason").eq(lit("duplicate_event_id"))),
        )
        .map_err(failed)?
        .select_columns(&["source_position"])
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    let mut positions = HashSet::new();
    for batch in rows {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(eventlake_lake::Error::from)?;
        positions.extend(column.as_string::<i32>().iter().flatten().map(Box::from));
    }
    Ok(positions)
}
