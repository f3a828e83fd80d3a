//! Unit tests of the stream as a whole: determinism, counts, bad lines, ordering, references.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::*;

fn config(events: u64) -> WorkloadConfig {
    WorkloadConfig {
        events,
        ..WorkloadConfig::default()
    }
}

fn lines(config: WorkloadConfig) -> Vec<Line> {
    Workload::new(config).collect()
}

const ENVELOPE: [&str; 8] = [
    "event_id",
    "event_type",
    "source",
    "tenant_id",
    "subject_id",
    "occurred_at",
    "schema_version",
    "payload",
];

#[test]
fn same_config_gives_identical_bytes() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let sa = write_ndjson(config(20_000), &mut a).unwrap();
    let sb = write_ndjson(config(20_000), &mut b).unwrap();
    assert_eq!(sa, sb);
    assert!(a == b, "two runs with the same config differ");
    let mut c = Vec::new();
    write_ndjson(
        WorkloadConfig {
            seed: 8,
            ..config(20_000)
        },
        &mut c,
    )
    .unwrap();
    assert!(a != c, "a different seed gives the same output");
}

#[test]
fn yields_exactly_the_requested_number_of_lines() {
    for n in [0, 1, 2, 7, 1000, 12_345] {
        assert_eq!(Workload::new(config(n)).count() as u64, n);
        let mut out = Vec::new();
        let summary = write_ndjson(config(n), &mut out).unwrap();
        assert_eq!(summary.total(), n);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count() as u64, n);
    }
}

#[test]
fn bad_ratio_is_respected_and_spread_over_kinds() {
    let events = 60_000;
    let lines = lines(WorkloadConfig {
        bad_ratio: 0.05,
        ..config(events)
    });
    let bad: Vec<BadKind> = lines.iter().filter_map(|l| l.bad).collect();
    let expected = events as f64 * 0.05;
    assert!(
        (bad.len() as f64 - expected).abs() < expected * 0.1,
        "{} bad lines, expected about {expected}",
        bad.len()
    );
    for kind in BadKind::ALL {
        let n = bad.iter().filter(|&&k| k == kind).count() as f64;
        assert!(
            (n - expected / 6.0).abs() < expected / 6.0 * 0.2,
            "{kind:?}: {n}"
        );
    }
    // Spread over the stream: every tenth of it has bad lines.
    for chunk in lines.chunks(lines.len() / 10) {
        let n = chunk.iter().filter(|l| l.bad.is_some()).count() as f64;
        assert!(
            n > chunk.len() as f64 * 0.03,
            "a tenth of the stream has {n} bad lines"
        );
    }
    let none = self::lines(WorkloadConfig {
        bad_ratio: 0.0,
        ..config(5_000)
    });
    assert!(none.iter().all(|l| l.bad.is_none()));
}

#[test]
fn good_lines_are_envelopes_with_unique_ids() {
    let mut ids = HashSet::new();
    for line in lines(config(30_000)) {
        assert!(!line.bytes.contains(&b'\n'));
        if line.bad.is_some() {
            continue;
        }
        let v: Value = serde_json::from_slice(&line.bytes).expect("good line parses");
        for key in ENVELOPE {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        assert_eq!(v.as_object().unwrap().len(), ENVELOPE.len());
        assert!(v["payload"].is_object());
        assert_eq!(v["schema_version"], 1);
        let at = v["occurred_at"].as_str().unwrap();
        assert_eq!(at.len(), "2026-07-01T12:34:56.123456Z".len(), "{at}");
        chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert!(ids.insert(v["event_id"].as_str().unwrap().to_owned()));
    }
}

#[test]
fn bad_lines_look_like_their_kind() {
    let lines = lines(WorkloadConfig {
        bad_ratio: 0.1,
        ..config(20_000)
    });
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let parsed = serde_json::from_slice::<Value>(&line.bytes);
        match line.bad {
            None => {
                let v = parsed.unwrap();
                seen_ids.insert(v["event_id"].as_str().unwrap().to_owned(), i);
            }
            Some(BadKind::MalformedJson) => assert!(parsed.is_err()),
            Some(BadKind::DuplicateEventId) => {
                let v = parsed.unwrap();
                let id = v["event_id"].as_str().unwrap();
                let first = seen_ids[id];
                assert_eq!(lines[first].bytes, line.bytes);
                assert!(
                    i - first <= 2 * RETRY_WINDOW,
                    "retry {} lines later",
                    i - first
                );
            }
            Some(BadKind::UnknownEventType) => {
                let v = parsed.unwrap();
                let ty = v["event_type"].as_str().unwrap();
                assert!(faults::tests_support::is_unknown(ty), "{ty}");
            }
            Some(_) => {
                parsed.unwrap();
            }
        }
    }
}

#[test]
fn stream_is_ordered_except_for_a_few_late_events() {
    let lines = lines(WorkloadConfig {
        bad_ratio: 0.0,
        ..config(50_000)
    });
    let mut max = i64::MIN;
    let mut late = 0;
    let config = WorkloadConfig::default();
    let start = config.end.timestamp_micros() - i64::from(config.days) * clock::DAY_US;
    for line in &lines {
        let v: Value = serde_json::from_slice(&line.bytes).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(v["occurred_at"].as_str().unwrap())
            .unwrap()
            .timestamp_micros();
        assert!(at >= start && at < config.end.timestamp_micros());
        if at < max {
            late += 1;
            assert!(max - at <= 4 * HOUR_US, "late by more than four hours");
        }
        max = max.max(at);
    }
    let share = f64::from(late) / lines.len() as f64;
    assert!((0.005..0.02).contains(&share), "late share {share}");
}

#[test]
fn entities_are_registered_before_they_are_referenced() {
    let mut registered: HashSet<String> = HashSet::new();
    let mut checked = 0;
    for line in lines(config(100_000)) {
        if line.bad.is_some() {
            continue;
        }
        let v: Value = serde_json::from_slice(&line.bytes).unwrap();
        let p = &v["payload"];
        let s = |key: &str| p[key].as_str().map(str::to_owned);
        let (registers, references): (Vec<Option<String>>, Vec<Option<String>>) =
            match v["event_type"].as_str().unwrap() {
                "party.registered" => (vec![s("party_id")], vec![]),
                "opportunity.posted" => (vec![s("opportunity_id")], vec![s("poster_id")]),
                "match.viewed" | "match.accepted" | "match.declined" => {
                    (vec![], vec![s("opportunity_id"), s("candidate_id")])
                }
                "application.submitted" => (vec![], vec![s("opportunity_id"), s("applicant_id")]),
                "supporter.registered" => (vec![s("supporter_id")], vec![]),
                "donation.made" | "interaction.logged" => {
                    (vec![], vec![v["subject_id"].as_str().map(str::to_owned)])
                }
                "room.created" => (vec![s("room_id"), s("created_by")], vec![]),
                "user.joined" => (vec![s("user_id")], vec![s("room_id")]),
                "message.created" => (
                    vec![s("message_id")],
                    vec![s("sender_id"), s("room_id"), s("recipient_id")],
                ),
                "message.updated" | "message.deleted" => (vec![], vec![s("message_id")]),
                "session.started" => (vec![s("session_id"), s("user_id")], vec![]),
                "session.ended" => (vec![], vec![s("session_id"), s("user_id")]),
                "upload.received" => (vec![s("upload_id")], vec![]),
                "analysis.requested" => (vec![s("analysis_id")], vec![s("upload_id")]),
                "analysis.completed" | "analysis.failed" => {
                    (vec![], vec![s("analysis_id"), s("upload_id")])
                }
                _ => (vec![], vec![]),
            };
        for id in references.into_iter().flatten() {
            assert!(
                registered.contains(&id),
                "{id} referenced before registration"
            );
            checked += 1;
        }
        registered.extend(registers.into_iter().flatten());
    }
    assert!(checked > 10_000);
}

#[test]
fn activity_is_skewed_and_spread_over_tenants() {
    let mut per_subject: HashMap<String, u64> = HashMap::new();
    let mut tenants = HashSet::new();
    for line in lines(config(50_000)) {
        if line.bad.is_some() {
            continue;
        }
        let v: Value = serde_json::from_slice(&line.bytes).unwrap();
        tenants.insert(v["tenant_id"].as_str().unwrap().to_owned());
        if v["event_type"] == "api.request" {
            *per_subject
                .entry(v["subject_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(tenants.len(), 4);
    let mut counts: Vec<u64> = per_subject.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: u64 = counts.iter().sum();
    let top: u64 = counts.iter().take(counts.len().div_ceil(100)).sum();
    assert!(
        top as f64 > total as f64 * 0.08,
        "top 1% of users make {top} of {total} requests"
    );

    let one_tenant = lines(WorkloadConfig {
        tenants: 1,
        ..config(2_000)
    });
    let names: HashSet<String> = one_tenant
        .iter()
        .filter(|l| l.bad.is_none())
        .map(|l| {
            let v: Value = serde_json::from_slice(&l.bytes).unwrap();
            v["tenant_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn reason_codes_are_distinct_snake_case() {
    let codes: HashSet<&str> = BadKind::ALL.iter().map(|k| k.reason_code()).collect();
    assert_eq!(codes.len(), 6);
    assert!(codes.contains("duplicate_event_id"));
}
