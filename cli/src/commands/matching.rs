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
                if r.jaccard.ndcg > 0.0 {
                    format!("{:.2}x", r.lift())
                } else {
                    "n/a (Jaccard found none)".into()
                },
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

/// The demo's matching digest: the best match of each model with its reasons, the best
/// complete team, the best barter cycle, and the mentorship pairs.
pub async fn digest(lake: &eventlake_lake::Lake) -> Result<()> {
    use eventlake_matching::load;
    use eventlake_matching::output::{CycleRow, MatchRow, TeamRow};

    let session = query::session(lake).await?;
    let best: Vec<MatchRow> = load::rows(
        &session,
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY model ORDER BY score DESC, opportunity_id) AS n \
         FROM gold.matches WHERE rank = 1) WHERE n = 1 ORDER BY score DESC",
        "gold.matches",
    )
    .await?;
    println!("\nexplained matches, the best of each collaboration model (gold.matches):");
    for m in &best {
        println!(
            "\n  {}: {} for {} as {}, score {:.2}",
            m.model, m.candidate_id, m.opportunity_id, m.role, m.score
        );
        for r in &m.reasons {
            println!("    · {} ({} {:.2})", r.text, r.factor, r.score);
        }
    }
    let team: Vec<TeamRow> = load::rows(
        &session,
        "SELECT * FROM gold.team_suggestions \
         ORDER BY complete DESC, cardinality(members) BETWEEN 2 AND 5 DESC, score DESC LIMIT 1",
        "gold.team_suggestions",
    )
    .await?;
    if let Some(t) = team.first() {
        println!(
            "\na team for {} ({}, covers {:.0}% of roles and skills{}; gold.team_suggestions):",
            t.opportunity_id,
            t.model,
            t.coverage * 100.0,
            if t.complete { ", complete" } else { "" }
        );
        for m in &t.members {
            println!("    · {} as {} (score {:.2})", m.party_id, m.role, m.score);
        }
    }
    let cycle: Vec<CycleRow> = load::rows(
        &session,
        "SELECT * FROM gold.barter_cycles ORDER BY length DESC, score DESC LIMIT 1",
        "gold.barter_cycles",
    )
    .await?;
    if let Some(c) = cycle.first() {
        println!(
            "\na barter cycle (balance {:.2}, {:.0} km in all; gold.barter_cycles):",
            c.balance, c.distance_km
        );
        for s in &c.steps {
            println!(
                "    · {} gives {} to {}",
                s.giver_id,
                s.resources.join(", "),
                s.receiver_id
            );
        }
    }
    let pairs = session
        .sql("SELECT count(*) AS pairs, count(*) FILTER (WHERE mentee_choice = 1) AS first_choice FROM gold.mentorship_pairs")
        .await?
        .collect()
        .await?;
    println!("\nstable mentorship (gold.mentorship_pairs):");
    crate::output::print(&pairs, Format::Table)?;
    Ok(())
}
