//! `eventlake-bench kinesis`: the Kinesis consumer with the client replaced by an in-process
//! stream (the emulator is far slower than the service), beside `ingest file` of the same
//! events, in one run.
//!
//! The in-process shards are closed, so the consumer stops once every shard is read to its end
//! and committed as ended; its readers keep the service's pacing (five GetRecords calls per
//! second per shard, up to 10 000 records each), so the shard count bounds its rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use eventlake_ingest::source::file::FileInput;
use eventlake_ingest::source::kinesis::memory::Memory;
use eventlake_ingest::source::kinesis::{self, KinesisInput, Metrics, Shard, Start};
use eventlake_lake::Lake;

use crate::args::KinesisBenchArgs;
use eventlake::Context;
use eventlake::commands::ingest;

pub async fn run(ctx: &Context, args: &KinesisBenchArgs) -> Result<()> {
    let (dir, input) = crate::input(&args.bench)?;
    let text = std::fs::read(&input)?;
    let lines: Vec<Bytes> = Bytes::from(text)
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(Bytes::copy_from_slice)
        .collect();
    let shards = args.shards.max(1);
    let mut by_shard = vec![Vec::new(); shards];
    for line in lines {
        let key = kinesis::producer::partition_key(&line);
        let h = key
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        by_shard[(h % shards as u64) as usize].push(line);
    }
    let mut stream = Memory::default();
    for (i, data) in by_shard.into_iter().enumerate() {
        let shard = Shard {
            id: format!("shardId-{i:012}"),
            parents: Vec::new(),
            closed: true,
        };
        stream.add(shard, data);
    }
    println!(
        "input: {} ({} events in {shards} in-process shards)",
        input.display(),
        args.bench.events
    );

    let lake_dir = dir.join("kinesis-lake");
    let _ = std::fs::remove_dir_all(&lake_dir);
    let lake = Lake::new(lake_dir.to_str().context("lake path is not UTF-8")?)?;
    let consumer = KinesisInput {
        stream: "bench".into(),
        source_id: None,
        start: Start::TrimHorizon,
        leases: None,
        idle_exit: None,
        list_every: Duration::from_secs(5),
    };
    let started = Instant::now();
    let report = kinesis::consume(
        &lake,
        Arc::new(stream),
        None,
        consumer,
        ctx.config.ingest.clone(),
        Arc::new(Metrics::default()),
        std::future::pending(),
    )
    .await?;
    let ours = started.elapsed();
    ingest::print_report(&report);

    let file_dir = dir.join("file-lake");
    let _ = std::fs::remove_dir_all(&file_dir);
    let file_lake = Lake::new(file_dir.to_str().context("lake path is not UTF-8")?)?;
    let file = FileInput {
        path: Some(input.clone()),
        source_id: None,
    };
    let started = Instant::now();
    let file_report = ingest::run_file(&file_lake, &file, ctx.config.ingest.clone(), false).await?;
    let reference = started.elapsed();
    ingest::print_report(&file_report);

    let rate = |d: Duration| args.bench.events as f64 / d.as_secs_f64();
    println!("\n| path | seconds | events/s | kinesis ÷ it |");
    println!("|---|---:|---:|---:|");
    for (name, d) in [
        (
            format!("ingest kinesis, in-process stream, {shards} shards"),
            ours,
        ),
        ("ingest file, the same events".to_owned(), reference),
    ] {
        println!(
            "| {name} | {:.2} | {:.0} | {:.2} |",
            d.as_secs_f64(),
            rate(d),
            rate(ours) / rate(d)
        );
    }
    Ok(())
}
