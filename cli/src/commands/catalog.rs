//! `eventlake catalog sync`, `eventlake athena query` and `eventlake athena views`: the lake
//! in the Glue Data Catalog, SQL in Athena over it (with the output formats of `eventlake
//! sql`), and the dashboard views created there from their files.

use anyhow::Result;
use eventlake_catalog::athena::{Athena, Settings};
use eventlake_catalog::glue::Catalog;
use eventlake_jobs::views;
use eventlake_lake::CatalogConfig;
use futures::FutureExt;

use crate::Context;
use crate::args::{AthenaArgs, AthenaQueryArgs, CatalogArgs};

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
                format!("{}.{}", catalog.database(), table.glue_name()),
                outcome.as_str().to_owned(),
            ]
        })
        .collect();
    crate::output::print_rows(&["table", "glue table", "sync"], &rows)
}

async fn athena(ctx: &Context, args: &AthenaArgs) -> Athena {
    let configured = configured(ctx);
    let settings = Settings {
        workgroup: args.workgroup.clone().unwrap_or(configured.workgroup),
        database: database(ctx, &args.catalog),
        results: args.results.clone().or(configured.results),
    };
    Athena::from_env(settings).await
}

pub async fn query(ctx: &Context, args: &AthenaQueryArgs) -> Result<()> {
    let batch = athena(ctx, &args.athena)
        .await
        .run(&args.query, crate::commands::ingest::shutdown_signal())
        .await?;
    crate::output::print(&[batch], args.format)
}

/// Sends each view file whose tables Glue holds; reports every view, and fails when one
/// of them failed in Athena.
pub async fn views(ctx: &Context, args: &AthenaArgs) -> Result<()> {
    let catalog = Catalog::from_env(&database(ctx, &args.catalog)).await;
    let (ready, missing) = views::available(&catalog.names().await?)?;
    let athena = athena(ctx, args).await;
    // One Ctrl-C stops the view being created and sends none of the rest.
    let stop = crate::commands::ingest::shutdown_signal().boxed().shared();
    let mut rows = Vec::new();
    let mut failed = 0;
    for view in ready {
        if stop.peek().is_some() {
            break;
        }
        let outcome = match athena.run(view.sql, stop.clone()).await {
            Ok(_) => "created or replaced".to_owned(),
            Err(e) => {
                failed += 1;
                tracing::error!(view = view.name, error = %e, "view not created");
                format!("failed: {e}")
            }
        };
        rows.push(vec![view.name.to_owned(), outcome]);
    }
    for (view, table) in missing {
        rows.push(vec![
            view.name.to_owned(),
            format!(
                "left out: {table} is not in {} (catalog sync, jobs run)",
                catalog.database()
            ),
        ]);
    }
    crate::output::print_rows(&["view", "athena"], &rows)?;
    anyhow::ensure!(stop.peek().is_none(), "stopped on request (Ctrl-C)");
    anyhow::ensure!(failed == 0, "{failed} view(s) failed in Athena");
    Ok(())
}
