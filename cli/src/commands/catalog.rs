//! `eventlake catalog sync` and `eventlake athena query`: the lake in the Glue Data Catalog,
//! and SQL in Athena over it, with the same output formats as `eventlake sql`.

use anyhow::Result;
use eventlake_catalog::athena::{Athena, Settings};
use eventlake_catalog::glue::{self, Catalog};
use eventlake_lake::CatalogConfig;

use crate::Context;
use crate::args::{AthenaQueryArgs, CatalogArgs};

/// The `[catalog]` section, or its defaults.
fn configured(ctx: &Context) -> CatalogConfig {
    ctx.config.catalog.clone().unwrap_or_default()
}

fn database(ctx: &Context, args: &CatalogArgs) -> String {
    args.database
        .clone()
        .unwrap_or_else(|| configured(ctx).database)
}

pub async fn sync(ctx: &Context, args: &CatalogArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let catalog = Catalog::from_env(&database(ctx, args)).await;
    let outcomes = catalog.sync(&lake).await?;
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|(table, outcome)| {
            vec![
                table.to_string(),
                format!("{}.{}", catalog.database(), glue::glue_name(table)),
                outcome.as_str().to_owned(),
            ]
        })
        .collect();
    crate::output::print_rows(&["table", "glue table", "sync"], &rows)
}

pub async fn query(ctx: &Context, args: &AthenaQueryArgs) -> Result<()> {
    let configured = configured(ctx);
    let settings = Settings {
        workgroup: args.workgroup.clone().unwrap_or(configured.workgroup),
        database: database(ctx, &args.catalog),
        results: args.results.clone().or(configured.results),
    };
    let athena = Athena::from_env(settings).await;
    let batch = athena
        .run(&args.query, crate::commands::ingest::shutdown_signal())
        .await?;
    crate::output::print(&[batch], args.format)
}
