//! `eventlake-bench ingest`: NDJSON → committed Delta, measured in one run beside
//! (a) the ceiling — arrow-json decode + Parquet encode to one local file, nothing else — and
//! (b) DuckDB `COPY … TO … (FORMAT parquet, PARTITION_BY …)` through Python, when available.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use arrow::datatypes::{Schema, SchemaRef};
use eventlake_ingest::source::file::FileInput;
use eventlake_lake::Lake;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::args::BenchArgs;
use eventlake::Context;
use eventlake::commands::ingest;

const DUCKDB_SCRIPT: &str = r#"
import sys, time, duckdb
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
con.execute(f"""COPY (SELECT *, CAST(occurred_at AS DATE) AS event_date
                      FROM read_json('{src}', format='newline_delimited'))
               TO '{out}' (FORMAT parquet, PARTITION_BY (event_date), COMPRESSION zstd)""")
print(time.perf_counter() - started)
"#;

pub async fn run(ctx: &Context, args: &BenchArgs) -> Result<()> {
    let (dir, input) = crate::input(args)?;
    let bytes = std::fs::metadata(&input)?.len();
    println!(
        "input: {} ({} events, {:.1} MiB, no bad records so every tool can read it)",
        input.display(),
        args.events,
        bytes as f64 / 1048576.0
    );

    let ceiling = run_ceiling(&input, &dir.join("ceiling.parquet"))?;
    let ours = run_ours(ctx, &input, &dir.join("lake")).await?;
    let duckdb = match &args.python {
        Some(python) => {
            let _ = std::fs::remove_dir_all(dir.join("duckdb"));
            let out = dir.join("duckdb");
            let stdout =
                crate::python(python, DUCKDB_SCRIPT, &[input.as_os_str(), out.as_os_str()])?;
            let last = stdout.lines().last().unwrap_or_default().trim().to_owned();
            let seconds: f64 = last
                .parse()
                .with_context(|| format!("DuckDB script printed {stdout:?}, not its time"))?;
            Some(Duration::from_secs_f64(seconds))
        }
        None => None,
    };

    let rate = |d: Duration| args.events as f64 / d.as_secs_f64();
    println!("\n| path | seconds | events/s | eventlake ÷ it |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, d: Duration| {
        println!(
            "| {name} | {:.2} | {:.0} | {:.2} |",
            d.as_secs_f64(),
            rate(d),
            rate(ours) / rate(d)
        );
    };
    row(
        "eventlake ingest file (validate, dedup, Delta commit)",
        ours,
    );
    row(
        &format!("ceiling: arrow-json + Parquet ({})", ceiling.1),
        ceiling.0,
    );
    match duckdb {
        Some(d) => row("DuckDB read_json → partitioned Parquet", d),
        None => println!("| DuckDB | skipped: pass --python with duckdb installed | | |"),
    }
    Ok(())
}

async fn run_ours(ctx: &Context, input: &Path, lake_dir: &Path) -> Result<Duration> {
    let _ = std::fs::remove_dir_all(lake_dir);
    let lake = Lake::new(lake_dir.to_str().context("lake path is not UTF-8")?)?;
    let file = FileInput {
        path: Some(input.to_owned()),
        source_id: None,
    };
    let started = Instant::now();
    let report = ingest::run_file(&lake, &file, ctx.config.ingest.clone(), false).await?;
    let elapsed = started.elapsed();
    ingest::print_report(&report);
    Ok(elapsed)
}

/// The ceiling: decode with arrow-json into a schema inferred beforehand (not timed), write
/// one zstd Parquet file. Falls back to the envelope columns if inference fails.
fn run_ceiling(input: &Path, out: &Path) -> Result<(Duration, &'static str)> {
    let (schema, what) = match infer(input) {
        Ok(schema) => (schema, "full inferred schema"),
        Err(e) => {
            tracing::warn!(error = %e, "schema inference failed; the ceiling decodes the envelope only");
            (envelope_schema(), "envelope columns only")
        }
    };
    let started = Instant::now();
    let reader = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(65_536)
        .build(BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(input)?,
        ))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(out)?, schema, Some(properties))?;
    for batch in reader {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok((started.elapsed(), what))
}

fn infer(input: &Path) -> Result<SchemaRef> {
    let file = BufReader::new(std::fs::File::open(input)?);
    let (schema, _) = arrow::json::reader::infer_json_schema(file, None)?;
    Ok(Arc::new(schema))
}

fn envelope_schema() -> SchemaRef {
    use arrow::datatypes::{DataType, Field};
    use eventlake_lake::envelope::ENVELOPE_FIELDS;
    let fields = ENVELOPE_FIELDS
        .iter()
        .filter_map(|name| match *name {
            "schema_version" => Some(Field::new(*name, DataType::Int64, true)),
            "payload" => None,
            _ => Some(Field::new(*name, DataType::Utf8, true)),
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}
