//! The stable mentorship assignment agrees with the Python `matching` package (Gale–Shapley
//! with capacities) on random instances.

use anyhow::{Result, ensure};
use eventlake_matching::mentorship::{self, Instance};

use crate::support::{python, run_ok};

const SOLVE: &str = r#"
import json, sys
from matching.games import HospitalResident
out = []
with open(sys.argv[1]) as f:
    instances = json.load(f)
for inst in instances:
    # The package wants every player to rank someone; players who rank nobody stay single.
    residents = {f"r{i}": [f"h{m}" for m in prefs] for i, prefs in enumerate(inst["mentees"]) if prefs}
    hospitals = {f"h{m}": [f"r{e}" for e in prefs] for m, prefs in enumerate(inst["mentors"]) if prefs}
    capacity = {h: inst["capacity"][int(h[1:])] for h in hospitals}
    game = HospitalResident.create_from_dictionaries(residents, hospitals, capacity)
    solved = game.solve(optimal="resident")
    got = [None] * len(inst["mentees"])
    for h, rs in solved.items():
        for r in rs:
            got[int(r.name[1:])] = int(h.name[1:])
    out.append(got)
print(json.dumps(out))
"#;

/// A random instance: every mentee ranks a random subset of mentors, each mentor ranks
/// exactly the mentees that rank it, in its own random order.
fn instance(seed: u64, mentees: usize, mentors: usize) -> Instance {
    let mut x = seed;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    let mut lists: Vec<Vec<usize>> = Vec::new();
    for _ in 0..mentees {
        let mut l: Vec<usize> = (0..mentors).filter(|_| next() % 3 != 0).collect();
        for i in (1..l.len()).rev() {
            l.swap(i, next() % (i + 1));
        }
        lists.push(l);
    }
    let mut by_mentor: Vec<Vec<usize>> = (0..mentors)
        .map(|m| (0..mentees).filter(|e| lists[*e].contains(&m)).collect())
        .collect();
    for l in &mut by_mentor {
        for i in (1..l.len()).rev() {
            l.swap(i, next() % (i + 1));
        }
    }
    Instance {
        mentees: lists,
        mentors: by_mentor,
        capacity: (0..mentors).map(|_| 1 + next() % 3).collect(),
    }
}

#[test]
fn mentorship_equals_the_python_matching_package() -> Result<()> {
    let python = python(&["matching"]);
    let instances: Vec<Instance> = (0..8)
        .map(|s| instance(s * 7919 + 1, 10 + (s as usize) * 6, 3 + (s as usize) % 5))
        .collect();
    let json: Vec<serde_json::Value> = instances
        .iter()
        .map(|i| serde_json::json!({"mentees": i.mentees, "mentors": i.mentors, "capacity": i.capacity}))
        .collect();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("instances.json");
    std::fs::write(&file, serde_json::to_string(&json)?)?;
    let out = run_ok(
        std::process::Command::new(python)
            .args(["-c", SOLVE])
            .arg(&file),
    )?;
    let theirs: Vec<Vec<Option<usize>>> = serde_json::from_slice(&out.stdout)?;
    for (i, (instance, theirs)) in instances.iter().zip(&theirs).enumerate() {
        let ours = mentorship::assign(instance);
        ensure!(
            &ours == theirs,
            "instance {i}: ours {ours:?}, matching {theirs:?}"
        );
        ensure!(
            ours.iter().any(Option::is_some),
            "instance {i} assigned nobody"
        );
    }
    Ok(())
}
