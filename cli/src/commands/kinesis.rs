//! `eventlake ingest kinesis` and `generate --to kinesis://`: the Kinesis consumer and the
//! PutRecords producer (the `kinesis` feature, which brings the AWS SDK).

use anyhow::{Context as _, Result};
use eventlake_ingest::source::kinesis::{self, Start};
use eventlake_workload::{Planted, Workload, WorkloadConfig};

use super::ingest::{print_report, shutdown_signal};
use crate::Context;
use crate::args::{KinesisArgs, StartArg};

/// Consumes the stream into the lake until Ctrl-C, SIGTERM, the idle limit or the stream's end.
pub async fn ingest(ctx: &Context, args: &KinesisArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let config = args.flush.apply(ctx.config.ingest.clone());
    let start = match args.start {
        StartArg::TrimHorizon => Start::TrimHorizon,
        StartArg::Latest => Start::Latest,
        StartArg::AtTimestamp => Start::AtTimestamp(
            args.timestamp
                .context("--start at-timestamp needs --timestamp")?,
        ),
    };
    let input = kinesis::KinesisInput {
        stream: args.stream.clone(),
        source_id: args.source_id.clone(),
        start,
        leases: args
            .lease_table
            .as_ref()
            .map(|table| kinesis::LeaseOptions {
                table: table.clone(),
                duration: std::time::Duration::from_millis(args.lease_ms.max(300)),
                worker: args.worker.clone(),
            }),
        idle_exit: args.idle_exit_ms.map(std::time::Duration::from_millis),
        list_every: std::time::Duration::from_millis(args.list_ms.max(100)),
    };
    let aws = kinesis::Aws::from_env(&args.stream).await;
    let fanout = match &args.efo {
        Some(name) => Some(kinesis::efo::Fanout::register(&aws, name).await?),
        None => None,
    };
    let metrics = std::sync::Arc::new(kinesis::Metrics::default());
    if let Some(addr) = args.metrics_listen {
        let listener = eventlake_ingest::error::listen(addr).await?;
        tracing::info!(%addr, "metrics on /metrics");
        tokio::spawn(kinesis::metrics::serve(metrics.clone(), listener));
    }
    let report = kinesis::consume(
        &lake,
        std::sync::Arc::new(aws),
        fanout,
        input,
        config,
        metrics,
        shutdown_signal(),
    )
    .await?;
    print_report(&report);
    Ok(())
}

/// Puts the workload to the stream named by `kinesis://STREAM`.
pub async fn put(config: WorkloadConfig, to: &str) -> Result<Vec<Planted>> {
    let stream = to
        .strip_prefix("kinesis://")
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .with_context(|| format!("--to must be kinesis://STREAM, got {to:?}"))?;
    let bar = crate::progress::count(config.events, "put");
    let mut workload = Workload::new(config);
    let lines: Vec<bytes::Bytes> = (&mut workload)
        .map(|l| bytes::Bytes::from(l.bytes))
        .collect();
    let aws = kinesis::Aws::from_env(stream).await;
    let started = std::time::Instant::now();
    let put = kinesis::producer::put(&aws, lines, |n| bar.set_position(n)).await?;
    bar.finish();
    eprintln!(
        "put {} records to kinesis://{stream} in {} PutRecords calls ({} retried) in {:.1} s",
        put.records,
        put.calls,
        put.retried,
        started.elapsed().as_secs_f64()
    );
    Ok(workload.truth().to_vec())
}
