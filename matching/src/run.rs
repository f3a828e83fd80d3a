//! One engine run per gold output: load the inputs from the session, compute, and hand back
//! the rows as record batches of the output's schema.
//!
//! Invariant: teams and mentorship are derived from `gold.matches` (their job reads it), so a
//! team member or mentor was always proposed as a match first, with the same constraints.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;

use crate::barter;
use crate::config::Config;
use crate::engine::{self, Inputs};
use crate::error::Result;
use crate::load;
use crate::mentorship::{self, Instance};
use crate::model::Model;
use crate::output::*;
use crate::team::{self, Candidate};

/// The gold tables the engine computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `gold.matches`: the top candidates per open opportunity and role.
    Matches,
    /// `gold.team_suggestions`: up to 3 teams per project and competition opportunity, from
    /// the published matches.
    Teams,
    /// `gold.barter_cycles`: 2- and 3-cycles among open resource-pooling opportunities.
    BarterCycles,
    /// `gold.mentorship_pairs`: the stable mentor assignment, from the published matches.
    MentorshipPairs,
}

impl Output {
    /// Every output, in declaration order.
    pub const ALL: [Output; 4] = [
        Output::Matches,
        Output::Teams,
        Output::BarterCycles,
        Output::MentorshipPairs,
    ];

    /// The name used in job definitions (`[matching] output = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            Output::Matches => "matches",
            Output::Teams => "team_suggestions",
            Output::BarterCycles => "barter_cycles",
            Output::MentorshipPairs => "mentorship_pairs",
        }
    }

    /// The output whose [`name`](Output::name) is exactly `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Output> {
        Output::ALL.into_iter().find(|o| o.name() == text)
    }

    /// The Arrow schema of the output's gold table.
    pub fn schema(self) -> SchemaRef {
        match self {
            Output::Matches => matches_schema(),
            Output::Teams => teams_schema(),
            Output::BarterCycles => cycles_schema(),
            Output::MentorshipPairs => mentorship_schema(),
        }
    }
}

/// Computes `output` from the tables registered in `ctx`.
pub async fn compute(
    ctx: &SessionContext,
    output: Output,
    config: &Config,
    run_id: &str,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let inputs = load::inputs(ctx).await?;
    let schema = output.schema();
    let batches = match output {
        Output::Matches => {
            let (matches, stats) = engine::run(&inputs, config);
            tracing::info!(
                candidates = stats.candidates,
                scored = stats.scored,
                matches = stats.matches,
                "matched"
            );
            to_batches(&schema, match_rows(&inputs, &matches, run_id))?
        }
        Output::Teams => {
            let matches = published(ctx, "model IN ('project', 'competition')").await?;
            to_batches(&schema, teams(&inputs, &matches, run_id))?
        }
        Output::MentorshipPairs => {
            let matches =
                published(ctx, "model = 'strategic' AND sub_model = 'mentorship'").await?;
            to_batches(&schema, mentorship_rows(&inputs, &matches, run_id))?
        }
        Output::BarterCycles => to_batches(&schema, cycle_rows(&inputs, run_id))?,
    };
    Ok((schema, batches))
}

/// The rows of `gold.matches` for engine matches, made one at a time as they are serialised.
pub fn match_rows<'a>(
    inputs: &'a Inputs,
    matches: &'a [engine::Match],
    run_id: &'a str,
) -> impl Iterator<Item = MatchRow> + 'a {
    matches.iter().map(|m| {
        let o = &inputs.opportunities[m.opportunity];
        MatchRow {
            tenant_id: inputs.vocabs.tenants.name(o.tenant).to_owned(),
            opportunity_id: o.id.clone(),
            candidate_id: inputs.parties[m.candidate].id.clone(),
            model: o.model.name().to_owned(),
            sub_model: o.sub_model.clone(),
            role: m.role.clone(),
            score: m.score,
            fit: m.fit,
            interest: m.interest,
            rank: i64::from(m.rank),
            reasons: m
                .reasons
                .iter()
                .map(|r| ReasonRow {
                    factor: r.factor.to_owned(),
                    score: r.score,
                    weight: r.weight,
                    text: r.text.clone(),
                })
                .collect(),
            run_id: run_id.to_owned(),
        }
    })
}

/// Published matches filtered by `filter`, in rank order per opportunity and role.
async fn published(ctx: &SessionContext, filter: &str) -> Result<Vec<MatchRow>> {
    let sql = format!(
        "SELECT * FROM gold.matches WHERE {filter} ORDER BY tenant_id, opportunity_id, role, rank"
    );
    load::rows(ctx, &sql, "gold.matches").await
}

fn group(matches: &[MatchRow]) -> Vec<&[MatchRow]> {
    matches
        .chunk_by(|a, b| a.tenant_id == b.tenant_id && a.opportunity_id == b.opportunity_id)
        .collect()
}

fn teams(inputs: &Inputs, matches: &[MatchRow], run_id: &str) -> Vec<TeamRow> {
    let opportunities = inputs.open_opportunities();
    let mut rows = Vec::new();
    for list in group(matches) {
        let first = &list[0];
        let Some(o) = opportunities.get(&(first.tenant_id.as_str(), first.opportunity_id.as_str()))
        else {
            continue;
        };
        let candidates: Vec<Candidate> = list
            .iter()
            .filter(|m| {
                !inputs
                    .feedback
                    .declined(o.tenant, &m.opportunity_id, &m.candidate_id)
            })
            .filter_map(|m| {
                let role = o.roles.iter().position(|r| r.name == m.role)?;
                let party = inputs.party(o.tenant, &m.candidate_id)?;
                Some(Candidate {
                    party: m.candidate_id.clone(),
                    role,
                    score: m.score,
                    skills: party.skills.clone(),
                })
            })
            .collect();
        for (i, t) in team::suggest(&o.roles, &candidates, 3)
            .into_iter()
            .enumerate()
        {
            rows.push(TeamRow {
                tenant_id: first.tenant_id.clone(),
                opportunity_id: first.opportunity_id.clone(),
                model: first.model.clone(),
                team_rank: i as i64 + 1,
                score: t.score,
                coverage: t.coverage,
                complete: t.complete,
                members: t
                    .members
                    .into_iter()
                    .map(|m| MemberRow {
                        party_id: m.party,
                        role: m.role,
                        score: m.score,
                    })
                    .collect(),
                run_id: run_id.to_owned(),
            });
        }
    }
    rows
}

/// A mentorship instance built from published matches, with the rows behind its indices.
pub struct Mentorship<'a> {
    /// Preferences and capacities; mentee `e` is `mentees[e]`, mentors are numbered in the
    /// order they are first met.
    pub instance: Instance,
    /// Per mentee: its opportunity's first match row.
    pub mentees: Vec<&'a MatchRow>,
    /// The match row of each acceptable (mentee, mentor) pair.
    pub pairs: HashMap<(usize, usize), &'a MatchRow>,
}

/// Preferences from published mentorship matches: mentees rank mentors by fit, mentors rank
/// mentees by their own interest; both lists hold exactly the published pairs (a pair listed
/// for several roles counts once, with its best-scoring row), whatever order the rows come
/// in. A mentor's capacity is its party capacity.
pub fn mentorship_instance<'a>(inputs: &Inputs, matches: &'a [MatchRow]) -> Mentorship<'a> {
    let mut mentees: Vec<&MatchRow> = Vec::new();
    let mut mentee_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut mentor_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut capacity = Vec::new();
    let mut pairs = HashMap::new();
    let open = inputs.open_opportunities();
    // Matches come from the last `gold_matches` run: skip what has closed or been declined since.
    let current = |m: &MatchRow| {
        open.contains_key(&(m.tenant_id.as_str(), m.opportunity_id.as_str()))
            && !inputs.vocabs.tenants.get(&m.tenant_id).is_some_and(|t| {
                inputs
                    .feedback
                    .declined(t, &m.opportunity_id, &m.candidate_id)
            })
    };
    for m in matches.iter().filter(|m| current(m)) {
        let e = *mentee_of
            .entry((&m.tenant_id, &m.opportunity_id))
            .or_insert_with(|| {
                mentees.push(m);
                mentees.len() - 1
            });
        let r = *mentor_of
            .entry((&m.tenant_id, &m.candidate_id))
            .or_insert_with(|| {
                let party = inputs
                    .vocabs
                    .tenants
                    .get(&m.tenant_id)
                    .and_then(|t| inputs.party(t, &m.candidate_id));
                capacity.push(party.map_or(1, |p| p.capacity as usize));
                capacity.len() - 1
            });
        // A mentee's several roles may list the same mentor: keep its best row.
        let best = pairs.entry((e, r)).or_insert(m);
        if (m.score, &m.role) > (best.score, &best.role) {
            *best = m;
        }
    }
    let mut instance = Instance {
        mentees: vec![Vec::new(); mentees.len()],
        mentors: vec![Vec::new(); capacity.len()],
        capacity,
    };
    let mut edges: Vec<(&(usize, usize), &&MatchRow)> = pairs.iter().collect();
    // Ties broken by the other side's id, so preferences are strict and reproducible.
    edges.sort_by(|a, b| {
        b.1.fit
            .total_cmp(&a.1.fit)
            .then(a.1.candidate_id.cmp(&b.1.candidate_id))
    });
    for ((e, r), _) in &edges {
        instance.mentees[*e].push(*r);
    }
    let interest = |m: &MatchRow| m.interest.unwrap_or(m.fit);
    edges.sort_by(|a, b| {
        interest(b.1)
            .total_cmp(&interest(a.1))
            .then(a.1.opportunity_id.cmp(&b.1.opportunity_id))
    });
    for ((e, r), _) in &edges {
        instance.mentors[*r].push(*e);
    }
    Mentorship {
        instance,
        mentees,
        pairs,
    }
}

fn mentorship_rows(inputs: &Inputs, matches: &[MatchRow], run_id: &str) -> Vec<MentorshipRow> {
    let m = mentorship_instance(inputs, matches);
    let assigned = mentorship::assign(&m.instance);
    let open = inputs.open_opportunities();
    let mut rows = Vec::new();
    for (e, mentor) in assigned.iter().enumerate() {
        let Some(r) = *mentor else { continue };
        let pair = m.pairs[&(e, r)];
        let choice =
            |list: &[usize], x: usize| list.iter().position(|&y| y == x).unwrap_or(0) as i64 + 1;
        rows.push(MentorshipRow {
            tenant_id: pair.tenant_id.clone(),
            opportunity_id: pair.opportunity_id.clone(),
            // Only open opportunities' pairs enter the instance, so the poster is known.
            mentee_id: open
                .get(&(pair.tenant_id.as_str(), pair.opportunity_id.as_str()))
                .map(|o| o.poster.clone())
                .unwrap_or_default(),
            mentor_id: pair.candidate_id.clone(),
            score: pair.score,
            mentee_choice: choice(&m.instance.mentees[e], r),
            mentor_choice: choice(&m.instance.mentors[r], e),
            run_id: run_id.to_owned(),
        });
    }
    rows
}

fn cycle_rows(inputs: &Inputs, run_id: &str) -> Vec<CycleRow> {
    let pooling: Vec<&crate::profile::Opportunity> = inputs
        .opportunities
        .iter()
        .filter(|o| o.model == Model::ResourcePooling)
        .collect();
    let posters: Vec<_> = pooling
        .iter()
        .map(|o| inputs.party(o.tenant, &o.poster))
        .collect();
    let cycles = barter::cycles(&pooling, &posters, &inputs.feedback);
    let mut rank_in_tenant: HashMap<u32, i64> = HashMap::new();
    cycles
        .iter()
        .map(|c| {
            let tenant = pooling[c.steps[0].giver].tenant;
            let rank = rank_in_tenant.entry(tenant).or_default();
            *rank += 1;
            let steps: Vec<StepRow> = c
                .steps
                .iter()
                .map(|s| StepRow {
                    giver_id: pooling[s.giver].poster.clone(),
                    giver_opportunity_id: pooling[s.giver].id.clone(),
                    receiver_id: pooling[s.receiver].poster.clone(),
                    receiver_opportunity_id: pooling[s.receiver].id.clone(),
                    resources: s
                        .resources
                        .iter()
                        .map(|r| inputs.vocabs.resources.name(*r).to_owned())
                        .collect(),
                    distance_km: s.km,
                })
                .collect();
            CycleRow {
                tenant_id: inputs.vocabs.tenants.name(tenant).to_owned(),
                cycle_id: steps
                    .iter()
                    .map(|s| s.giver_opportunity_id.as_str())
                    .collect::<Vec<_>>()
                    .join(">"),
                rank: *rank,
                length: steps.len() as i64,
                score: c.score,
                balance: c.balance,
                distance_km: c.km,
                party_ids: steps.iter().map(|s| s.giver_id.clone()).collect(),
                steps,
                run_id: run_id.to_owned(),
            }
        })
        .collect()
}
