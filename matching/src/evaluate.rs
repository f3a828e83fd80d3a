//! Quality against planted ground truth: P@k, R@k and NDCG@k per collaboration model for the
//! published matches, beside two baselines computed the same way over the same opportunities —
//! random candidates, and candidates ranked by skill-overlap Jaccard alone (resource overlap
//! for resource pooling).
//!
//! Invariant: an opportunity is evaluated for all three rankings or for none (it must be open
//! and have planted parties), so the three columns always average over the same set.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::engine::Inputs;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::output::MatchRow;
use crate::profile::Opportunity;

/// The generator's ground truth: for some opportunities, the parties that are right for them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Truth {
    pub planted: Vec<Planted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planted {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub model: String,
    pub parties: Vec<String>,
}

impl Truth {
    pub fn read(path: &std::path::Path) -> Result<Truth> {
        let bad = |reason: String| Error::Truth {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
    }
}

/// P@k, R@k and NDCG@k averaged over opportunities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
}

/// Metrics of one ranking against one truth set (binary relevance).
pub fn metrics(ranked: &[&str], truth: &HashSet<&str>, k: usize) -> Metrics {
    let top = &ranked[..ranked.len().min(k)];
    let hits = top.iter().filter(|c| truth.contains(*c)).count();
    let dcg: f64 = top
        .iter()
        .enumerate()
        .filter(|(_, c)| truth.contains(*c))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..truth.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    Metrics {
        precision: hits as f64 / k as f64,
        recall: if truth.is_empty() {
            0.0
        } else {
            hits as f64 / truth.len() as f64
        },
        ndcg: if ideal > 0.0 { dcg / ideal } else { 0.0 },
    }
}

/// One model's row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub opportunities: usize,
    pub engine: Metrics,
    pub random: Metrics,
    pub jaccard: Metrics,
}

impl ModelReport {
    /// NDCG of the engine over NDCG of the Jaccard baseline.
    pub fn lift(&self) -> f64 {
        if self.jaccard.ndcg > 0.0 {
            self.engine.ndcg / self.jaccard.ndcg
        } else {
            f64::INFINITY
        }
    }
}

/// Evaluates `matches` (the published `gold.matches`) against `truth` at cut-off `k`.
pub fn evaluate(
    inputs: &Inputs,
    matches: &[MatchRow],
    truth: &Truth,
    k: usize,
) -> Vec<ModelReport> {
    // Engine ranking per opportunity: candidates by their best score over the roles.
    let mut ranked: HashMap<(&str, &str), Vec<(&str, f64)>> = HashMap::new();
    for m in matches {
        ranked
            .entry((&m.tenant_id, &m.opportunity_id))
            .or_default()
            .push((&m.candidate_id, m.score));
    }
    let opportunities: HashMap<(u32, &str), &Opportunity> = inputs
        .opportunities
        .iter()
        .map(|o| ((o.tenant, o.id.as_str()), o))
        .collect();
    let pools = inputs.pools();
    let mut sums: BTreeMap<Model, (usize, [Metrics; 3])> = BTreeMap::new();
    for p in &truth.planted {
        let Some(tenant) = inputs.vocabs.tenants.get(&p.tenant_id) else {
            continue;
        };
        let Some(o) = opportunities.get(&(tenant, p.opportunity_id.as_str())) else {
            continue; // closed since, or never ingested
        };
        let relevant: HashSet<&str> = p.parties.iter().map(String::as_str).collect();
        let mut engine: Vec<(&str, f64)> = ranked
            .get(&(p.tenant_id.as_str(), p.opportunity_id.as_str()))
            .cloned()
            .unwrap_or_default();
        engine.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let mut seen = HashSet::new();
        let engine: Vec<&str> = engine
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| seen.insert(*c))
            .collect();
        let random = random_baseline(inputs, o, k);
        let jaccard = jaccard_baseline(inputs, o, &pools, k);
        let entry = sums.entry(o.model).or_default();
        entry.0 += 1;
        for (slot, list) in [engine, random, jaccard].iter().enumerate() {
            let m = metrics(list, &relevant, k);
            entry.1[slot].precision += m.precision;
            entry.1[slot].recall += m.recall;
            entry.1[slot].ndcg += m.ndcg;
        }
    }
    sums.into_iter()
        .map(|(model, (n, [e, r, j]))| {
            let mean = |m: Metrics| Metrics {
                precision: m.precision / n as f64,
                recall: m.recall / n as f64,
                ndcg: m.ndcg / n as f64,
            };
            ModelReport {
                model: model.name().to_owned(),
                opportunities: n,
                engine: mean(e),
                random: mean(r),
                jaccard: mean(j),
            }
        })
        .collect()
}

/// Evaluates the published `gold.matches` of the tables registered in `ctx`.
pub async fn published(
    ctx: &datafusion::prelude::SessionContext,
    truth: &Truth,
    k: usize,
) -> Result<Vec<ModelReport>> {
    let inputs = crate::load::inputs(ctx).await?;
    let matches: Vec<MatchRow> =
        crate::load::rows(ctx, "SELECT * FROM gold.matches", "gold.matches").await?;
    Ok(evaluate(&inputs, &matches, truth, k))
}

/// A 64-bit mix (SplitMix64), for reproducible pseudo-random choices without a generator.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `k` parties of the opportunity's tenant other than the poster, drawn at random (seeded by
/// the opportunity id, so reruns agree).
fn random_baseline<'a>(inputs: &'a Inputs, o: &Opportunity, k: usize) -> Vec<&'a str> {
    let mut scored: Vec<(u64, &str)> = inputs
        .parties
        .iter()
        .filter(|p| p.tenant == o.tenant && p.id != o.poster)
        .map(|p| (mix(hash(&o.id) ^ hash(&p.id)), p.id.as_str()))
        .collect();
    let k = k.min(scored.len());
    if k > 0 {
        scored.select_nth_unstable(k - 1);
    }
    scored.truncate(k);
    scored.sort_unstable();
    scored.into_iter().map(|(_, id)| id).collect()
}

fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let inter = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// Parties ranked by Jaccard similarity of their skills to the opportunity's required skills
/// (offered to needed resources for resource pooling); no constraint, no other signal.
fn jaccard_baseline<'a>(
    inputs: &'a Inputs,
    o: &Opportunity,
    pools: &HashMap<usize, (Vec<u32>, Vec<u32>)>,
    k: usize,
) -> Vec<&'a str> {
    let mut required: Vec<u32> = o
        .roles
        .iter()
        .flat_map(|r| r.skills.iter().map(|s| s.id))
        .collect();
    required.sort_unstable();
    required.dedup();
    let empty = Vec::new();
    let mut scored: Vec<(f64, u64, &str)> = inputs
        .parties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.tenant == o.tenant && p.id != o.poster)
        .map(|(i, p)| {
            let sim = if o.model == Model::ResourcePooling {
                jaccard(&o.needed, pools.get(&i).map_or(&empty, |x| &x.0))
            } else {
                let skills: Vec<u32> = p.skills.iter().map(|s| s.id).collect();
                jaccard(&required, &skills)
            };
            (sim, mix(hash(&o.id) ^ hash(&p.id)), p.id.as_str())
        })
        .filter(|(sim, _, _)| *sim > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(k);
    scored.into_iter().map(|(_, _, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let truth: HashSet<&str> = ["a", "b"].into();
        // Hits at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) ≈ 1.6309.
        let m = metrics(&["a", "x", "b", "y"], &truth, 10);
        assert!((m.precision - 0.2).abs() < 1e-12);
        assert!((m.recall - 1.0).abs() < 1e-12);
        assert!((m.ndcg - 1.5 / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-12);
        assert_eq!(metrics(&[], &truth, 10), Metrics::default());
    }
}
