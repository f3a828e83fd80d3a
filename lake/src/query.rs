//! One DataFusion session over the whole lake: every Delta table registered as `layer.name`.
//!
//! Invariant: each table is registered at the version that was latest when the session was
//! built, so one query sees one consistent snapshot per table.

use std::sync::Arc;

use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::storage::Lake;
use crate::tables::TableName;

/// A session with every lake table registered; `SHOW TABLES` lists them.
pub async fn session(lake: &Lake) -> Result<SessionContext> {
    session_over(lake, &lake.tables().await?).await
}

/// A session with `tables` of the lake registered (the list the caller already has).
pub async fn session_over(lake: &Lake, tables: &[TableName]) -> Result<SessionContext> {
    let ctx = empty_session();
    for table in tables {
        register(&ctx, lake, table).await?;
    }
    Ok(ctx)
}

/// A session with no tables, configured like [`session`] (catalog `lake`).
pub fn empty_session() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("lake", "public")
        .with_create_default_catalog_and_schema(true);
    SessionContext::new_with_config(config)
}

/// Registers (or re-registers at its latest version) one table in a session.
pub async fn register(ctx: &SessionContext, lake: &Lake, table: &TableName) -> Result<()> {
    let delta = lake.open(table).await?;
    register_delta(ctx, table, &delta).await
}

/// Registers an opened table at the version it was opened at, as `layer.name`.
pub async fn register_delta(
    ctx: &SessionContext,
    table: &TableName,
    delta: &deltalake::DeltaTable,
) -> Result<()> {
    let catalog = ctx.catalog("lake").expect("created with the session");
    if catalog.schema(&table.layer).is_none() {
        catalog.register_schema(&table.layer, Arc::new(MemorySchemaProvider::new()))?;
    }
    delta
        .update_datafusion_session(&ctx.state())
        .map_err(|e| Error::delta(table, e))?;
    let provider = delta.table_provider().await?;
    let reference = TableReference::partial(table.layer.as_str(), table.name.as_str());
    ctx.deregister_table(reference.clone())?;
    ctx.register_table(reference, provider)?;
    Ok(())
}
