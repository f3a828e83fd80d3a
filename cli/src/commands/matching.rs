//! `eventlake matching evaluate`: quality of the published matches against the ground truth
//! a generator planted, beside the random and Jaccard baselines.

use anyhow::{Result, bail};
use eventlake_lake::query;
use eventlake_matching::evaluate::{self, ModelReport, Truth};

use crate::Context;
use crate::args::{EvaluateArgs, Format};
use crate::output::print_rows;

pub async fn evaluate(ctx: &Context, args: &EvaluateArgs) -> Result<()> {
    anyhow::ensure!(args.k >= 1, "--k must be at least 1");
    let truth = Truth::read(&args.truth)?;
    let lake = ctx.lake()?;
    let session = query::session(&lake).await?;
    let reports = evaluate::published(&session, &truth, args.k).await?;
    if reports.is_empty() {
        bail!(
            "none of the {} planted opportunities is open in {} (run the jobs on the lake the \
             truth was generated with)",
            truth.planted.len(),
            lake.root()
        );
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        _ => print_reports(&reports, args.k)?,
    }
    Ok(())
}

/// The report as a table: one row per model, the engine beside both baselines.
pub fn print_reports(reports: &[ModelReport], k: usize) -> Result<()> {
    let f = |x: f64| format!("{x:.3}");
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                r.opportunities.to_string(),
                f(r.engine.precision),
                f(r.engine.recall),
                f(r.engine.ndcg),
                f(r.random.ndcg),
                f(r.jaccard.precision),
                f(r.jaccard.recall),
                f(r.jaccard.ndcg),
                format!("{:.2}x", r.lift()),
            ]
        })
        .collect();
    let p = format!("P@{k}");
    let r = format!("R@{k}");
    let n = format!("NDCG@{k}");
    print_rows(
        &[
            "model",
            "opportunities",
            &p,
            &r,
            &n,
            &format!("random {n}"),
            &format!("jaccard {p}"),
            &format!("jaccard {r}"),
            &format!("jaccard {n}"),
            "NDCG vs jaccard",
        ],
        &rows,
    )
}
