//! `eventlake maintain`: compaction, vacuum and a log checkpoint of every table (or the ones
//! named), one report row per table. A table that fails is reported and the others still run;
//! the command then exits non-zero.

use std::sync::Arc;

use anyhow::{Result, bail};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{Field, Schema};
use eventlake_lake::TableName;
use eventlake_lake::maintain::{self, Report, Steps};

use crate::Context;
use crate::args::{MaintainArgs, StepArg};

pub async fn run(ctx: &Context, args: &MaintainArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let tables = if args.tables.is_empty() {
        lake.tables().await?
    } else {
        args.tables
            .iter()
            .map(|t| t.parse::<TableName>().map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let steps = if args.only.is_empty() {
        Steps::ALL
    } else {
        Steps {
            compact: args.only.contains(&StepArg::Compact),
            vacuum: args.only.contains(&StepArg::Vacuum),
            checkpoint: args.only.contains(&StepArg::Checkpoint),
        }
    };
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for table in &tables {
        match maintain::maintain(&lake, table, &ctx.config, steps, args.dry_run).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("{table}: {e}");
                failed.push(table.to_string());
            }
        }
    }
    crate::output::print(&[batch(&reports, args.dry_run)?], args.format)?;
    if !failed.is_empty() {
        bail!("maintenance failed for {}", failed.join(", "));
    }
    Ok(())
}

/// One row per table: live files and bytes before and after, what each step did, the time.
fn batch(reports: &[Report], dry_run: bool) -> Result<RecordBatch> {
    let u64s = |f: &dyn Fn(&Report) -> u64| {
        Arc::new(UInt64Array::from_iter_values(reports.iter().map(f))) as ArrayRef
    };
    let (compacted, vacuumed) = if dry_run {
        ("files_to_compact", "files_to_vacuum")
    } else {
        ("files_compacted", "files_vacuumed")
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "table",
            Arc::new(StringArray::from_iter_values(
                reports.iter().map(|r| r.table.to_string()),
            )),
        ),
        ("files_before", u64s(&|r| r.before.count as u64)),
        ("files_after", u64s(&|r| r.after.count as u64)),
        ("bytes_before", u64s(&|r| r.before.bytes)),
        ("bytes_after", u64s(&|r| r.after.bytes)),
        ("partitions_compacted", u64s(&|r| r.partitions)),
        (compacted, u64s(&|r| r.compacted)),
        (vacuumed, u64s(&|r| r.vacuumed as u64)),
        ("bytes_vacuumed", u64s(&|r| r.freed)),
        (
            "checkpoint",
            Arc::new(UInt64Array::from_iter(reports.iter().map(|r| r.checkpoint))),
        ),
        ("logs_removed", u64s(&|r| r.logs_removed as u64)),
        (
            "seconds",
            Arc::new(Float64Array::from_iter_values(
                reports.iter().map(|r| r.elapsed.as_secs_f64()),
            )),
        ),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}
