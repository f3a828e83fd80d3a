//! Stable mentorship: mentees (the opportunities of the `strategic`/`mentorship` sub-model)
//! are assigned to mentors with capacities by the mentee-proposing deferred-acceptance
//! algorithm of Gale and Shapley in its hospitals/residents form.
//!
//! Invariant: the assignment respects every mentor's capacity and is stable: no mentee and
//! mentor both prefer each other to what they got. It is the mentee-optimal stable assignment,
//! the same one any correct implementation returns (the tests compare with the Python
//! `matching` package).

use std::collections::{HashMap, VecDeque};

/// An instance: preference lists, most preferred first, and mentor capacities. A pair is
/// acceptable only if each side lists the other.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instance {
    /// Per mentee, mentor indices.
    pub mentees: Vec<Vec<usize>>,
    /// Per mentor, mentee indices.
    pub mentors: Vec<Vec<usize>>,
    /// Per mentor, the most mentees it may take (0 = none); as long as `mentors`.
    pub capacity: Vec<usize>,
}

impl Instance {
    /// Per mentor, the position of each mentee it lists (sparse: the lists are short).
    fn ranks(&self) -> Vec<HashMap<usize, usize>> {
        self.mentors
            .iter()
            .map(|prefs| prefs.iter().enumerate().map(|(i, &e)| (e, i)).collect())
            .collect()
    }
}

/// The mentee-optimal stable assignment: mentor per mentee, `None` if unassigned.
pub fn assign(instance: &Instance) -> Vec<Option<usize>> {
    let ranks = instance.ranks();
    let mut next = vec![0usize; instance.mentees.len()];
    let mut held: Vec<Vec<usize>> = vec![Vec::new(); instance.mentors.len()];
    let mut assigned: Vec<Option<usize>> = vec![None; instance.mentees.len()];
    let mut free: VecDeque<usize> = (0..instance.mentees.len()).collect();
    while let Some(e) = free.pop_front() {
        let Some(&m) = instance.mentees[e].get(next[e]) else {
            continue;
        };
        next[e] += 1;
        if !ranks[m].contains_key(&e) || instance.capacity[m] == 0 {
            free.push_back(e);
            continue;
        }
        held[m].push(e);
        assigned[e] = Some(m);
        if held[m].len() > instance.capacity[m] {
            // Reject the mentor's least preferred held mentee.
            let (worst_at, &worst) = held[m]
                .iter()
                .enumerate()
                .max_by_key(|(_, x)| ranks[m][*x])
                .expect("over capacity, so not empty");
            held[m].swap_remove(worst_at);
            assigned[worst] = None;
            free.push_back(worst);
        }
    }
    assigned
}

/// A blocking pair (mentee, mentor) if the assignment is not stable, or one over capacity.
pub fn blocking_pair(instance: &Instance, assigned: &[Option<usize>]) -> Option<(usize, usize)> {
    let ranks = instance.ranks();
    let mut load = vec![0usize; instance.mentors.len()];
    for m in assigned.iter().flatten() {
        load[*m] += 1;
    }
    if let Some(m) = (0..load.len()).find(|&m| load[m] > instance.capacity[m]) {
        return Some((usize::MAX, m));
    }
    for (e, prefs) in instance.mentees.iter().enumerate() {
        for &m in prefs {
            if assigned[e] == Some(m) {
                break; // every later mentor is liked less than the one held
            }
            let Some(&rank) = ranks[m].get(&e) else {
                continue;
            };
            let worst = assigned
                .iter()
                .enumerate()
                .filter(|(_, a)| **a == Some(m))
                .filter_map(|(x, _)| ranks[m].get(&x).copied())
                .max();
            if load[m] < instance.capacity[m] || worst.is_some_and(|w| rank < w) {
                return Some((e, m));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_instance() {
        // Mentees 0,1,2; mentors A=0 (capacity 1), B=1 (capacity 2).
        let instance = Instance {
            mentees: vec![vec![0, 1], vec![0, 1], vec![0]],
            mentors: vec![vec![2, 1, 0], vec![0, 1]],
            capacity: vec![1, 2],
        };
        let got = assign(&instance);
        assert_eq!(got, vec![Some(1), Some(1), Some(0)]);
        assert_eq!(blocking_pair(&instance, &got), None);
        // Swapping two mentees makes it unstable.
        assert!(blocking_pair(&instance, &[Some(0), Some(1), None]).is_some());
    }
}
