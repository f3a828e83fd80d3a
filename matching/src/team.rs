//! Team suggestions: small sets of parties that together fill every required role and cover
//! every required skill, built by greedy weighted set cover over each role's top candidates.
//!
//! Why greedy: exact set cover is NP-hard, and although one opportunity's universe is small,
//! the candidate lists are not (top-k per role); greedy is within ln |U| of the smallest cover,
//! runs in O(k · |U|) per pick and is easy to explain ("added for 2 missing skills"). Each
//! further suggestion excludes the members of the earlier ones, so alternatives are distinct.
//!
//! Invariant: a party fills at most one slot of a team, only for a role it was matched to, and
//! a team is `complete` only if every slot is filled and every required skill covered.

use std::collections::HashSet;

use crate::profile::{Role, Skill, holds};

/// A candidate for one role (from the role's match list).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The party's id.
    pub party: String,
    /// Index of the role, into the `roles` given to [`suggest`].
    pub role: usize,
    /// Its match score for the role, in [0, 1]; breaks ties between equal gains.
    pub score: f64,
    /// The party's skills, sorted by id.
    pub skills: Vec<Skill>,
}

/// A member of a suggested team.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The party's id.
    pub party: String,
    /// The name of the role whose slot it fills.
    pub role: String,
    /// Its match score for that role, in [0, 1].
    pub score: f64,
}

/// A suggested team.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// The members in the order the greedy cover picked them; no party twice.
    pub members: Vec<Member>,
    /// Share of the universe (role slots and required skills) covered.
    pub coverage: f64,
    /// Mean member score times coverage.
    pub score: f64,
    /// Whether every role slot is filled and every required skill covered.
    pub complete: bool,
}

/// Up to `alternatives` distinct teams for `roles`, best first.
pub fn suggest(roles: &[Role], candidates: &[Candidate], alternatives: usize) -> Vec<Team> {
    let universe: usize = roles
        .iter()
        .map(|r| r.count as usize + r.skills.len())
        .sum();
    let mut used: HashSet<&str> = HashSet::new();
    let mut teams = Vec::new();
    for _ in 0..alternatives {
        let Some(team) = greedy(roles, candidates, &mut used, universe) else {
            break;
        };
        teams.push(team);
    }
    teams.sort_by(|a, b| b.score.total_cmp(&a.score));
    teams
}

/// One team; every party it takes joins `used`, so a party fills one slot and later
/// alternatives exclude it.
fn greedy<'a>(
    roles: &[Role],
    candidates: &'a [Candidate],
    used: &mut HashSet<&'a str>,
    universe: usize,
) -> Option<Team> {
    let mut open: Vec<u32> = roles.iter().map(|r| r.count).collect();
    let mut uncovered: Vec<Vec<Skill>> = roles.iter().map(|r| r.skills.clone()).collect();
    let mut members: Vec<&Candidate> = Vec::new();
    let mut covered = 0;
    loop {
        // Gain = elements newly covered (the slot plus missing skills); the score breaks ties.
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| open[c.role] > 0 && !used.contains(c.party.as_str()))
            .map(|(i, c)| {
                let skills = uncovered[c.role]
                    .iter()
                    .filter(|s| holds(&c.skills, s))
                    .count();
                (i, 1 + skills, c.score)
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)).then(b.0.cmp(&a.0)));
        let Some((i, gain, _)) = best else { break };
        let c = &candidates[i];
        open[c.role] -= 1;
        uncovered[c.role].retain(|s| !holds(&c.skills, s));
        covered += gain;
        used.insert(c.party.as_str());
        members.push(c);
    }
    if members.is_empty() {
        return None;
    }
    let coverage = covered as f64 / universe.max(1) as f64;
    let mean = members.iter().map(|c| c.score).sum::<f64>() / members.len() as f64;
    let complete = open.iter().all(|&o| o == 0) && uncovered.iter().all(Vec::is_empty);
    Some(Team {
        members: members
            .iter()
            .map(|c| Member {
                party: c.party.clone(),
                role: roles[c.role].name.clone(),
                score: c.score,
            })
            .collect(),
        coverage,
        score: mean * coverage,
        complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, skills: &[(u32, u8)], count: u32) -> Role {
        Role {
            name: name.into(),
            skills: skills
                .iter()
                .map(|&(id, level)| Skill { id, level })
                .collect(),
            count,
        }
    }

    fn cand(party: &str, role: usize, score: f64, skills: &[(u32, u8)]) -> Candidate {
        Candidate {
            party: party.into(),
            role,
            score,
            skills: skills
                .iter()
                .map(|&(id, level)| Skill { id, level })
                .collect(),
        }
    }

    #[test]
    fn greedy_prefers_coverage_then_score() {
        // Role 0 needs skills 1@3 and 2@3, one person; role 1 needs skill 5@2, one person.
        let roles = [role("eng", &[(1, 3), (2, 3)], 1), role("qs", &[(5, 2)], 1)];
        let cands = [
            cand("high-score-partial", 0, 0.9, &[(1, 4)]),
            cand("full-cover", 0, 0.7, &[(1, 3), (2, 5)]),
            cand("qs", 1, 0.8, &[(5, 2)]),
        ];
        let teams = suggest(&roles, &cands, 2);
        let first: Vec<&str> = teams[0].members.iter().map(|m| m.party.as_str()).collect();
        assert_eq!(first, ["full-cover", "qs"]);
        assert!(teams[0].complete);
        assert!((teams[0].coverage - 1.0).abs() < 1e-9);
        // The alternative cannot reuse members: only the partial engineer is left.
        assert_eq!(teams[1].members.len(), 1);
        assert!(!teams[1].complete);
    }

    #[test]
    fn one_party_fills_one_slot() {
        let roles = [role("a", &[(1, 1)], 1), role("b", &[(1, 1)], 1)];
        let cands = [cand("p", 0, 0.9, &[(1, 2)]), cand("p", 1, 0.9, &[(1, 2)])];
        let teams = suggest(&roles, &cands, 1);
        assert_eq!(teams[0].members.len(), 1);
        assert!(!teams[0].complete);
    }
}
