//! `eventlake demo`: the main job on the embedded default. Generates a workload, ingests it
//! exactly once, prints what landed, runs the job graph and prints a digest of its results,
//! then (unless `--no-serve`) serves the API, dashboard and collector with ready-made tokens.

use std::time::Instant;

use anyhow::Result;
use arrow::array::Array;
use clap::Parser;
use eventlake_ingest::source::file::FileInput;
use eventlake_serving_api::auth::{self, Auth, Claims};
use eventlake_workload::WorkloadConfig;

use crate::Context;
use crate::args::{DemoArgs, Format, JobsRunArgs, ProjectArgs, ServeArgs};
use crate::commands::{generate, ingest, jobs, serve, sql};

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

    digest(ctx, &lake).await?;

    if args.no_serve {
        return Ok(());
    }
    serve(ctx, &lake, args).await
}

/// Step 6: serves the API, dashboard and collector, with ready-made tokens.
async fn serve(ctx: &Context, lake: &eventlake_lake::Lake, args: &DemoArgs) -> Result<()> {
    let first = |query: &str| {
        let lake = lake.clone();
        let query = query.to_owned();
        async move {
            let batches = sql::execute(&lake, &query).await.ok()?;
            Some((text(&batches, 0, 0)?, text(&batches, 0, 1)?))
        }
    };
    let opportunity = first(
        "SELECT tenant_id, opportunity_id FROM gold.matches ORDER BY score DESC, opportunity_id LIMIT 1",
    )
    .await;
    let supporter = first(
        "SELECT tenant_id, supporter_id FROM gold.user_context ORDER BY gifts_lifetime DESC, supporter_id LIMIT 1",
    )
    .await;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let token = |tenant: &str| {
        let claims = Claims {
            sub: "demo".into(),
            tenant_id: tenant.into(),
            roles: vec!["analyst".into()],
            exp: (chrono::Utc::now().timestamp() + 24 * 3600) as u64,
        };
        auth::sign(secret.as_bytes(), &claims)
    };
    /// `eventlake serve`'s defaults with the demo's address and secret.
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }
    let Serve { args: serve_args } = Serve::parse_from([
        "serve".to_owned(),
        "--listen".to_owned(),
        args.listen.to_string(),
        "--jwt-secret".to_owned(),
        secret.clone(),
    ]);
    let base = format!("http://{}", args.listen);
    let auth = Auth::hs256(secret.as_bytes());
    serve::serve(ctx, lake, &serve_args, auth, |_| {
        println!("\n6. serving the API, the dashboard and the collector (tokens valid 24 h, role analyst):");
        if let Some((tenant, id)) = &opportunity {
            let t = token(tenant);
            println!("   dashboard ({tenant}):  {base}/#token={t}");
            println!("   export TOKEN={t}");
            println!("   curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/opportunities/{id}/matches?k=3'");
            println!("   curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/metrics/match_funnel?grain=week'");
            println!(
                "   websocat '{}/v1/ws?access_token='$TOKEN   then send {{\"op\":\"subscribe\",\"topics\":[\"matches:opportunity:{id}\"]}}",
                base.replace("http", "ws")
            );
        }
        if let Some((tenant, id)) = &supporter {
            let t = token(tenant);
            println!("   dashboard ({tenant}):  {base}/#token={t}");
            println!("   curl -s -H \"Authorization: Bearer {t}\" '{base}/v1/users/{id}/context?format=prompt'");
        }
        println!("   more events: curl -s -XPOST -H \"Authorization: Bearer $TOKEN\" {base}/v1/events --data-binary @FILE.ndjson");
        println!("   API description: {base}/v1/openapi.json — Ctrl-C to stop.");
    })
    .await
}

/// Step 4 and 5: the job graph as of the day of the latest event, then a digest of the
/// personalisation context and of that day's metrics.
async fn digest(ctx: &Context, lake: &eventlake_lake::Lake) -> Result<()> {
    let latest = sql::execute(
        lake,
        "SELECT CAST(max(event_date) AS VARCHAR) FROM bronze.events",
    )
    .await?;
    let as_of = text(&latest, 0, 0)
        .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let args = JobsRunArgs {
        project: ProjectArgs { jobs_dir: None },
        select: Vec::new(),
        full_refresh: false,
        from: None,
        to: None,
        as_of: Some(as_of),
    };
    let started = Instant::now();
    let runs = jobs::run_jobs(ctx, &args, true).await?;
    println!(
        "\n4. job graph as of {as_of} (the day of the latest event): {} jobs in {:.1} s \
         (eventlake jobs run --as-of {as_of})",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    jobs::print_summary(&runs)?;
    jobs::check(&runs)?;

    let day = as_of - chrono::Duration::days(1);
    println!("\n5. digest");
    println!(
        "\nthree engaged supporters, as the personalisation agent sees them (gold.user_context):"
    );
    let people = sql::execute(
        lake,
        "SELECT supporter_id, lifecycle, coalesce(rfm_segment, '-'), next_best_action, prompt_context \
         FROM gold.user_context ORDER BY engagement_score DESC, supporter_id LIMIT 3",
    )
    .await?;
    for batch in &people {
        for row in 0..batch.num_rows() {
            let cell = |c| text(std::slice::from_ref(batch), row, c).unwrap_or_default();
            println!(
                "\n  {} — {}, RFM {}, next: {}\n  \"{}\"",
                cell(0),
                cell(1),
                cell(2),
                cell(3),
                cell(4)
            );
        }
    }
    crate::commands::matching::digest(lake).await?;
    for (title, query) in [
        (
            format!("active users on {day} (gold.metrics_active_users)"),
            format!(
                "SELECT application, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau \
                 FROM gold.metrics_active_users WHERE day = DATE '{day}' GROUP BY application ORDER BY dau DESC"
            ),
        ),
        (
            format!("donations on {day} (gold.metrics_donations)"),
            format!(
                "SELECT tenant_id, currency, sum(donations) AS donations, sum(amount_minor) / 100.0 AS amount, \
                 sum(donors) AS donors, sum(new_donors) AS new_donors FROM gold.metrics_donations \
                 WHERE day = DATE '{day}' GROUP BY tenant_id, currency ORDER BY amount DESC"
            ),
        ),
        (
            format!("API on {day}, slowest routes by p95 (gold.metrics_api)"),
            format!(
                "SELECT route, sum(requests) AS requests, round(sum(server_errors) * 100.0 / sum(requests), 2) AS error_pct, \
                 round(max(latency_p95_ms), 1) AS worst_hourly_p95_ms FROM gold.metrics_api \
                 WHERE day = DATE '{day}' GROUP BY route ORDER BY worst_hourly_p95_ms DESC LIMIT 5"
            ),
        ),
        (
            format!("match funnel on {day} (the dashboard view analysts see in Athena)"),
            format!(
                "SELECT model, viewed, accepted, declined, round(acceptance_rate, 3) AS acceptance_rate, \
                 round(decline_rate, 3) AS decline_rate \
                 FROM dashboard_match_funnel WHERE day = DATE '{day}' ORDER BY viewed DESC"
            ),
        ),
        (
            format!("chat on {day} (gold.metrics_chat)"),
            format!(
                "SELECT tenant_id, active_rooms, room_messages, direct_messages, active_senders \
                 FROM gold.metrics_chat WHERE day = DATE '{day}' ORDER BY tenant_id"
            ),
        ),
    ] {
        println!("\n{title}:");
        crate::output::print(&sql::execute(lake, &query).await?, Format::Table)?;
    }
    Ok(())
}

/// One cell as text (strings and numbers), if present and not null.
fn text(batches: &[arrow::array::RecordBatch], row: usize, column: usize) -> Option<String> {
    let batch = batches.first()?;
    if row >= batch.num_rows() || batch.column(column).is_null(row) {
        return None;
    }
    let formatter = arrow::util::display::ArrayFormatter::try_new(
        batch.column(column).as_ref(),
        &Default::default(),
    )
    .ok()?;
    Some(formatter.value(row).to_string())
}
