//! The matching jobs end to end on a generated marketplace with planted truth: every
//! published match keeps the hard constraints (checked here by independent SQL over the
//! silver tables), barter cycles are real cycles of needed resources, mentorship is stable
//! under the published preferences, quality beats the Jaccard baseline by 1.5× on every
//! model. (The comparison with the Python `matching` package is in the peers lane.)

use std::collections::HashMap;

use crate::support::{eventlake, run_ok, scalar};
use anyhow::{Context as _, Result, ensure};
use eventlake_lake::{Lake, query};
use eventlake_matching::mentorship;
use eventlake_matching::output::{CycleRow, MatchRow, MentorshipRow};
use eventlake_matching::{load, mentorship_instance};

/// Generates a marketplace (with truth), ingests it and runs the job graph.
fn marketplace(dir: &std::path::Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let file = dir.join("market.ndjson");
    let truth = dir.join("truth.json");
    let lake = dir.join("lake");
    run_ok(
        eventlake(&lake)
            .args([
                "generate",
                "--mix",
                "marketplace",
                "--events",
                "20000",
                "--seed",
                "11",
            ])
            .arg("--out")
            .arg(&file)
            .arg("--truth")
            .arg(&truth),
    )?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    Ok((lake, truth))
}

/// Great-circle km between `a` and `b` location structs, in SQL (haversine, R = 6371).
fn km(a: &str, b: &str) -> String {
    format!(
        "2 * 6371 * asin(sqrt(power(sin(radians({b}['lat'] - {a}['lat']) / 2), 2) + \
         cos(radians({a}['lat'])) * cos(radians({b}['lat'])) * \
         power(sin(radians({b}['lon'] - {a}['lon']) / 2), 2)))"
    )
}

/// Pounds per unit of a currency column, as the engine's fixed table.
fn pounds(currency: &str) -> String {
    format!(
        "(1.0 / CASE {currency} WHEN 'EUR' THEN 1.17 WHEN 'USD' THEN 1.27 WHEN 'CAD' THEN 1.73 \
         WHEN 'CHF' THEN 1.12 WHEN 'SEK' THEN 13.5 WHEN 'DKK' THEN 8.7 WHEN 'PLN' THEN 5.0 ELSE 1.0 END)"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn matching_end_to_end_keeps_every_invariant() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (lake, truth) = marketplace(dir.path())?;
    for table in [
        "matches",
        "team_suggestions",
        "barter_cycles",
        "mentorship_pairs",
    ] {
        let n = scalar(&lake, &format!("SELECT count(*) FROM gold.{table}")).await?;
        ensure!(n > 0, "gold.{table} is empty");
    }
    let models = scalar(&lake, "SELECT count(DISTINCT model) FROM gold.matches").await?;
    ensure!(models == 5, "matches cover {models} of 5 models");

    // Hard constraints, restated independently over the silver tables.
    let end = "coalesce(o.ends_on, o.starts_on + 89)";
    let days = format!("least(CAST({end} - o.starts_on + 1 AS DOUBLE) * 5.0 / 7.0, 220.0)");
    let broken = format!(
        "WITH h AS (
             SELECT tenant_id, opportunity_id, sum(r['count']) AS heads
             FROM (SELECT tenant_id, opportunity_id, unnest(required_roles) AS r FROM silver.opportunities)
             GROUP BY tenant_id, opportunity_id)
         SELECT m.opportunity_id, m.candidate_id, m.role FROM gold.matches m
         JOIN silver.opportunities o ON o.tenant_id = m.tenant_id AND o.opportunity_id = m.opportunity_id
         JOIN h ON h.tenant_id = m.tenant_id AND h.opportunity_id = m.opportunity_id
         JOIN silver.parties p ON p.tenant_id = m.tenant_id AND p.party_id = m.candidate_id
         WHERE o.status <> 'open' OR o.poster_id = m.candidate_id
            OR (NOT o.remote AND o.location IS NOT NULL
                AND (p.location IS NULL OR {d} > coalesce(o.radius_km, 100) + 1e-6))
            OR (coalesce(o.eligibility['min_verified'], false) AND NOT p.verified)
            OR (cardinality(o.eligibility['countries']) > 0
                AND NOT array_has(o.eligibility['countries'], p.location['country']))
            OR p.capacity < o.eligibility['min_capacity']
            OR (cardinality(o.eligibility['required_certifications']) > 0
                AND NOT array_has_all(coalesce(p.certifications, make_array()), o.eligibility['required_certifications']))
            OR (p.availability IS NOT NULL
                AND (p.availability['from'] > {end} OR p.availability['to'] < o.starts_on))
            OR (m.model <> 'resource_pooling' AND o.budget IS NOT NULL AND p.rate IS NOT NULL
                AND p.rate['min'] * {pp} * CASE WHEN p.kind <> 'individual' THEN 1.0
                    WHEN o.collaboration_model = 'hiring' THEN 110.0 ELSE {days} END
                  > o.budget['max'] * {bp} / CASE WHEN o.collaboration_model = 'hiring' THEN 1 ELSE h.heads END * 1.25 + 1e-6)",
        d = km("o.location", "p.location"),
        pp = pounds("p.rate['currency']"),
        bp = pounds("o.budget['currency']"),
    );
    let n = scalar(&lake, &format!("SELECT count(*) FROM ({broken})")).await?;
    ensure!(n == 0, "{n} matches break a hard constraint");

    let no_common_skill = "
        WITH rs AS (
            SELECT tenant_id, opportunity_id, r['role'] AS role, unnest(r['skills']) AS s
            FROM (SELECT tenant_id, opportunity_id, unnest(required_roles) AS r FROM silver.opportunities)),
        ps AS (SELECT tenant_id, party_id, unnest(skills) AS s FROM silver.parties),
        ok AS (
            SELECT DISTINCT m.tenant_id, m.opportunity_id, m.role, m.candidate_id FROM gold.matches m
            JOIN rs ON rs.tenant_id = m.tenant_id AND rs.opportunity_id = m.opportunity_id AND rs.role = m.role
            JOIN ps ON ps.tenant_id = m.tenant_id AND ps.party_id = m.candidate_id AND ps.s['name'] = rs.s['name'])
        SELECT count(*) FROM gold.matches m
        LEFT JOIN ok ON ok.tenant_id = m.tenant_id AND ok.opportunity_id = m.opportunity_id
            AND ok.role = m.role AND ok.candidate_id = m.candidate_id
        WHERE m.model <> 'resource_pooling' AND ok.candidate_id IS NULL";
    ensure!(
        scalar(&lake, no_common_skill).await? == 0,
        "a match shares no required skill"
    );

    let declined = "SELECT count(*) FROM gold.matches m JOIN silver.match_feedback f
        ON f.tenant_id = m.tenant_id AND f.opportunity_id = m.opportunity_id
        AND f.candidate_id = m.candidate_id AND f.event_type = 'match.declined'";
    ensure!(
        scalar(&lake, declined).await? == 0,
        "a declined pair was proposed again"
    );
    let funnel = "SELECT sum(viewed) FROM gold.metrics_match_funnel WHERE model <> 'unknown'";
    ensure!(
        scalar(&lake, funnel).await? > 0,
        "the match funnel counted no views"
    );

    let session = query::session(&Lake::new(lake.to_str().context("UTF-8")?)?).await?;
    barter_cycles_are_real(&session).await?;
    mentorship_is_stable(&session).await?;
    quality_beats_jaccard(&lake, &truth)?;
    Ok(())
}

async fn barter_cycles_are_real(session: &datafusion::prelude::SessionContext) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Offer {
        opportunity_id: String,
        poster_id: String,
        resources_offered: Option<Vec<String>>,
        resources_needed: Option<Vec<String>>,
    }
    let offers: Vec<Offer> = load::rows(
        session,
        "SELECT opportunity_id, poster_id, resources_offered, resources_needed FROM silver.opportunities",
        "silver.opportunities",
    )
    .await?;
    let offers: HashMap<&str, &Offer> = offers
        .iter()
        .map(|o| (o.opportunity_id.as_str(), o))
        .collect();
    let cycles: Vec<CycleRow> = load::rows(
        session,
        "SELECT * FROM gold.barter_cycles",
        "gold.barter_cycles",
    )
    .await?;
    for c in &cycles {
        ensure!(
            c.steps.len() == 2 || c.steps.len() == 3,
            "cycle {} has {} steps",
            c.cycle_id,
            c.steps.len()
        );
        for (i, s) in c.steps.iter().enumerate() {
            let next = &c.steps[(i + 1) % c.steps.len()];
            ensure!(
                s.receiver_opportunity_id == next.giver_opportunity_id,
                "cycle {} does not close",
                c.cycle_id
            );
            let giver = offers[s.giver_opportunity_id.as_str()];
            let receiver = offers[s.receiver_opportunity_id.as_str()];
            ensure!(giver.poster_id == s.giver_id && receiver.poster_id == s.receiver_id);
            ensure!(
                !s.resources.is_empty(),
                "cycle {} step gives nothing",
                c.cycle_id
            );
            for r in &s.resources {
                ensure!(
                    giver
                        .resources_offered
                        .as_ref()
                        .is_some_and(|o| o.contains(r)),
                    "{r} not offered"
                );
                ensure!(
                    receiver
                        .resources_needed
                        .as_ref()
                        .is_some_and(|n| n.contains(r)),
                    "{r} not needed"
                );
            }
        }
    }
    Ok(())
}

async fn mentorship_is_stable(session: &datafusion::prelude::SessionContext) -> Result<()> {
    let inputs = load::inputs(session).await?;
    let matches: Vec<MatchRow> = load::rows(
        session,
        "SELECT * FROM gold.matches WHERE model = 'strategic' AND sub_model = 'mentorship'",
        "gold.matches",
    )
    .await?;
    let pairs: Vec<MentorshipRow> = load::rows(
        session,
        "SELECT * FROM gold.mentorship_pairs",
        "gold.mentorship_pairs",
    )
    .await?;
    ensure!(!pairs.is_empty(), "no mentorship pairs");
    let m = mentorship_instance(&inputs, &matches);
    let mut assigned = vec![None; m.instance.mentees.len()];
    for p in &pairs {
        let (e, r) = m
            .pairs
            .iter()
            .find(|(_, row)| {
                row.opportunity_id == p.opportunity_id && row.candidate_id == p.mentor_id
            })
            .map(|(k, _)| *k)
            .context("a mentorship pair that was never a match")?;
        ensure!(
            assigned[e].is_none(),
            "mentee {} has two mentors",
            p.opportunity_id
        );
        assigned[e] = Some(r);
    }
    let blocking = mentorship::blocking_pair(&m.instance, &assigned);
    ensure!(
        blocking.is_none(),
        "the published mentorship is not stable: (mentee, mentor) {blocking:?} would both rather pair"
    );
    Ok(())
}

fn quality_beats_jaccard(lake: &std::path::Path, truth: &std::path::Path) -> Result<()> {
    let out = run_ok(
        eventlake(lake)
            .args(["matching", "evaluate", "--format", "json", "--truth"])
            .arg(truth),
    )?;
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let reports = reports.as_array().context("a JSON array")?;
    ensure!(reports.len() == 5, "evaluated {} models", reports.len());
    for r in reports {
        let ndcg = |who: &str| r[who]["ndcg"].as_f64().unwrap_or(0.0);
        ensure!(
            r["opportunities"].as_u64().unwrap_or(0) >= 5,
            "too few planted opportunities for {}",
            r["model"]
        );
        ensure!(
            ndcg("engine") >= 1.5 * ndcg("jaccard") && ndcg("engine") > ndcg("random"),
            "{}: NDCG@10 {} vs Jaccard {}",
            r["model"],
            ndcg("engine"),
            ndcg("jaccard")
        );
    }
    Ok(())
}
