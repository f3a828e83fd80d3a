//! `eventlake demo`: the main job on the embedded default. Generates a workload, ingests it
//! exactly once, prints what landed, then (unless `--no-serve`) keeps collecting over HTTP.

use std::time::Instant;

use anyhow::Result;
use eventlake_ingest::source::file::FileInput;
use eventlake_ingest::source::http::{self, HttpConfig};
use eventlake_workload::WorkloadConfig;

use crate::Context;
use crate::args::{DemoArgs, Format};
use crate::commands::{generate, ingest, sql};

pub async fn run(ctx: &Context, args: &DemoArgs) -> Result<()> {
    let lake = ctx.lake()?;
    println!(
        "eventlake demo: {} events from five applications into {}\n",
        args.events,
        lake.root()
    );

    let config = WorkloadConfig {
        events: args.events,
        seed: args.seed,
        ..WorkloadConfig::default()
    };
    let path = std::env::temp_dir().join(format!(
        "eventlake-demo-seed{}-{}.ndjson",
        args.seed, args.events
    ));
    let started = Instant::now();
    generate::write_file(config, &path, true)?;
    println!(
        "1. generated {} ({:.1} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );

    let input = FileInput {
        path: Some(path.clone()),
        source_id: None,
    };
    let report = ingest::run_file(&lake, &input, ctx.config.ingest.clone(), true).await?;
    print!("2. ");
    ingest::print_report(&report);

    println!("\n3. what landed (eventlake sql \"…\"):");
    for (title, query) in [
        (
            "rows per table",
            "SELECT 'bronze.events' AS table_name, count(*) AS rows FROM bronze.events \
             UNION ALL SELECT 'bronze.events_rejected', count(*) FROM bronze.events_rejected",
        ),
        (
            "rejects by reason",
            "SELECT reason, count(*) AS rows FROM bronze.events_rejected GROUP BY reason ORDER BY rows DESC",
        ),
        (
            "events per application",
            "SELECT source, count(*) AS events, count(DISTINCT subject_id) AS subjects, \
             min(occurred_at) AS first, max(occurred_at) AS last \
             FROM bronze.events GROUP BY source ORDER BY events DESC",
        ),
        (
            "busiest event types",
            "SELECT event_type, count(*) AS events FROM bronze.events GROUP BY event_type ORDER BY events DESC LIMIT 8",
        ),
    ] {
        println!("\n{title}:");
        crate::output::print(&sql::execute(&lake, query).await?, Format::Table)?;
    }
    if report.already_committed > 0 {
        println!("\n(this lake already held the demo's events: nothing was written twice)");
    }

    if args.no_serve {
        return Ok(());
    }
    println!(
        "\n4. collecting more events at http://{}/v1/events — try:\n   \
         curl -s -XPOST http://{}/v1/events --data-binary @{}\n   Ctrl-C to stop.",
        args.listen,
        args.listen,
        path.display()
    );
    let config = ingest::http_config(ctx, &crate::args::FlushArgs::default());
    let listener = eventlake_ingest::error::listen(args.listen).await?;
    http::serve(
        &lake,
        listener,
        config,
        HttpConfig::default(),
        ingest::shutdown_signal(),
    )
    .await?;
    Ok(())
}
