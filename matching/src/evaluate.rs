//! Quality against planted ground truth: P@k, R@k and NDCG@k per collaboration model for the
//! published matches, beside two baselines computed the same way over the same opportunities —
//! random candidates, and candidates ranked by skill-overlap Jaccard alone (resource overlap
//! for resource pooling).
//!
//! Invariant: an opportunity is evaluated for all three rankings or for none (it must be open
//! and have planted parties), so the three columns always average over the same set.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::Inputs;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::output::MatchRow;
use crate::profile::Opportunity;

/// The generator's ground truth: for some opportunities, the parties that are right for them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Truth {
    /// One entry per opportunity the generator planted parties for.
    pub planted: Vec<Planted>,
}

/// The parties the generator built one opportunity around: its relevant set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planted {
    /// The opportunity's tenant.
    pub tenant_id: String,
    /// The opportunity, within its tenant.
    pub opportunity_id: String,
    /// The opportunity's collaboration model ([`Model::name`]), as generated.
    pub model: String,
    /// Party ids relevant to the opportunity (binary relevance).
    pub parties: Vec<String>,
}

impl Truth {
    /// Reads a truth file (JSON, as `eventlake generate --truth` writes it).
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
    /// P@k: relevant parties in the top `k`, over `k` (a short list is not padded).
    pub precision: f64,
    /// R@k: relevant parties in the top `k`, over all relevant parties.
    pub recall: f64,
    /// NDCG@k: DCG of the top `k` over the ideal DCG, log2 discount; in [0, 1].
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
    /// The collaboration model's name ([`Model::name`]).
    pub model: String,
    /// Planted opportunities evaluated (those still open); every mean is over these.
    pub opportunities: usize,
    /// The published matches, candidates ranked by their best score over the roles.
    pub engine: Metrics,
    /// Baseline: `k` of the tenant's parties drawn at random.
    pub random: Metrics,
    /// Baseline: parties by skill-set (pooling: resource) Jaccard alone.
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

/// What the baselines need of each party, computed once: tenant, id hash, and the sorted ids
/// of its skills (or, for resource pooling, of the resources it offers).
struct Baselines<'a> {
    inputs: &'a Inputs,
    hashes: Vec<u64>,
    skills: Vec<Vec<u32>>,
    offers: Vec<Vec<u32>>,
}

impl<'a> Baselines<'a> {
    fn new(inputs: &'a Inputs) -> Self {
        let pools = inputs.pools();
        Baselines {
            inputs,
            hashes: inputs.parties.iter().map(|p| hash(&p.id)).collect(),
            skills: inputs
                .parties
                .iter()
                .map(|p| p.skills.iter().map(|s| s.id).collect())
                .collect(),
            offers: (0..inputs.parties.len())
                .map(|i| pools.get(&i).map(|x| x.0.clone()).unwrap_or_default())
                .collect(),
        }
    }

    /// The parties of the opportunity's tenant other than its poster, with a score each;
    /// the best `k` by score, ties broken by a hash seeded with the opportunity id.
    fn top(&self, o: &Opportunity, k: usize, score: impl Fn(usize) -> f64) -> Vec<&'a str> {
        let seed = hash(&o.id);
        let poster = self.inputs.party_index.get(&(o.tenant, o.poster.clone()));
        let mut scored: Vec<(f64, u64, usize)> = self
            .inputs
            .parties
            .iter()
            .enumerate()
            .filter(|(i, p)| p.tenant == o.tenant && Some(i) != poster)
            .map(|(i, _)| (score(i), mix(seed ^ self.hashes[i]), i))
            .filter(|(s, _, _)| *s > 0.0)
            .collect();
        let order =
            |a: &(f64, u64, usize), b: &(f64, u64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        scored
            .into_iter()
            .map(|(_, _, i)| self.inputs.parties[i].id.as_str())
            .collect()
    }

    /// `k` parties drawn at random (every party scores the same; the seeded hash decides).
    fn random(&self, o: &Opportunity, k: usize) -> Vec<&'a str> {
        self.top(o, k, |_| 1.0)
    }

    /// Parties by Jaccard similarity of their skills to the opportunity's required skills
    /// (offered to needed resources for resource pooling); no constraint, no other signal.
    fn jaccard(&self, o: &Opportunity, k: usize) -> Vec<&'a str> {
        if o.model == Model::ResourcePooling {
            return self.top(o, k, |i| jaccard(&o.needed, &self.offers[i]));
        }
        let mut required: Vec<u32> = o
            .roles
            .iter()
            .flat_map(|r| r.skills.iter().map(|s| s.id))
            .collect();
        required.sort_unstable();
        required.dedup();
        self.top(o, k, |i| jaccard(&required, &self.skills[i]))
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
    let opportunities = inputs.open_opportunities();
    let baselines = Baselines::new(inputs);
    let scored: Vec<(Model, [Metrics; 3])> = truth
        .planted
        .par_iter()
        .filter_map(|p| {
            // Closed since, or never ingested: not evaluated.
            let o = opportunities.get(&(p.tenant_id.as_str(), p.opportunity_id.as_str()))?;
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
            let lists = [engine, baselines.random(o, k), baselines.jaccard(o, k)];
            Some((o.model, lists.map(|l| metrics(&l, &relevant, k))))
        })
        .collect();
    let mut sums: BTreeMap<Model, (usize, [Metrics; 3])> = BTreeMap::new();
    for (model, metrics) in scored {
        let entry = sums.entry(model).or_default();
        entry.0 += 1;
        for (sum, m) in entry.1.iter_mut().zip(metrics) {
            sum.precision += m.precision;
            sum.recall += m.recall;
            sum.ndcg += m.ndcg;
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

fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let inter = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
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
