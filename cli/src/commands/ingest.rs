//! `eventlake ingest file|http`.

use anyhow::Result;
use eventlake_ingest::Report;
use eventlake_ingest::source::file::{self, FileInput};
use eventlake_ingest::source::http::{self, HttpConfig};
use eventlake_lake::IngestConfig;

use crate::Context;
use crate::args::{FileArgs, FlushArgs, HttpArgs};

impl FlushArgs {
    /// The configured ingest settings with the command-line overrides applied.
    pub fn apply(&self, mut config: IngestConfig) -> IngestConfig {
        if let Some(n) = self.flush_records {
            config.flush_records = n.max(1);
        }
        if let Some(ms) = self.flush_age_ms {
            config.flush_age_ms = ms;
        }
        config
    }
}

pub async fn file(ctx: &Context, args: &FileArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let input = FileInput {
        path: (!file::is_stdin(&args.path)).then(|| args.path.clone()),
        source_id: args.source_id.clone(),
    };
    let config = args.flush.apply(ctx.config.ingest.clone());
    let report = run_file(&lake, &input, config, true).await?;
    print_report(&report);
    Ok(())
}

/// Runs a file ingest with a progress bar by bytes.
pub async fn run_file(
    lake: &eventlake_lake::Lake,
    input: &FileInput,
    config: IngestConfig,
    show: bool,
) -> Result<Report> {
    let mut bar: Option<indicatif::ProgressBar> = None;
    let report = file::ingest(lake, input, config, |r| {
        if !show {
            return;
        }
        let bar =
            bar.get_or_insert_with(|| crate::progress::bytes(r.total_bytes.unwrap_or(0), "ingest"));
        bar.set_position(r.bytes);
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(report)
}

/// Prints the totals of an ingest run.
pub fn print_report(report: &Report) {
    println!(
        "offered {} records: {} accepted, {} rejected, {} already committed; {} flushes in {:.2} s ({:.0} records/s)",
        report.offered,
        report.accepted,
        report.rejected_total(),
        report.already_committed,
        report.flushes,
        report.elapsed.as_secs_f64(),
        report.rate()
    );
    for (reason, n) in &report.rejected {
        println!("  rejected {n:>8}  {reason}");
    }
}

pub async fn http(ctx: &Context, args: &HttpArgs) -> Result<()> {
    anyhow::ensure!(
        args.request_timeout_ms > 0,
        "--request-timeout-ms must be at least 1"
    );
    anyhow::ensure!(
        args.max_connections > 0,
        "--max-connections must be at least 1"
    );
    let lake = ctx.lake()?;
    let config = http_config(ctx, &args.flush);
    let http_config = HttpConfig {
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_millis(args.request_timeout_ms),
        max_connections: args.max_connections,
    };
    let listener = eventlake_ingest::error::listen(args.listen).await?;
    http::serve(&lake, listener, config, http_config, shutdown_signal()).await?;
    Ok(())
}

/// HTTP clients wait for the commit, so the collector flushes sooner than batch sources.
pub const HTTP_FLUSH_AGE_MS: u64 = 200;

/// Ingest settings of the HTTP collector: the configured ones with the age trigger capped at
/// [`HTTP_FLUSH_AGE_MS`], then the command-line overrides.
pub fn http_config(ctx: &Context, flush: &FlushArgs) -> IngestConfig {
    let mut config = ctx.config.ingest.clone();
    config.flush_age_ms = config.flush_age_ms.min(HTTP_FLUSH_AGE_MS);
    flush.apply(config)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: flushing what is buffered");
}
