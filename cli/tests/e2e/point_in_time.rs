//! Point-in-time correctness of the jobs that take `--as-of`: a run as of a past day sees only
//! the events up to that day (no later registration, update, withdrawal of consent, gift or
//! interaction), and a run as of the day of the latest event sees them all.

use std::path::Path;

use crate::support::{eventlake, rows, run_ok};
use anyhow::Result;
use serde_json::{Value, json};

fn event(id: &str, event_type: &str, subject: &str, day: &str, payload: Value) -> String {
    json!({
        "event_id": id, "event_type": event_type, "source": "supporter", "tenant_id": "pit",
        "subject_id": subject, "occurred_at": format!("{day}T12:00:00Z"), "schema_version": 1,
        "payload": payload,
    })
    .to_string()
}

fn consent(email: bool, marketing: bool) -> Value {
    json!({"email": email, "sms": false, "post": false, "phone": false, "marketing": marketing})
}

fn registered(id: &str, supporter: &str, day: &str) -> String {
    event(
        id,
        "supporter.registered",
        supporter,
        day,
        json!({
            "supporter_id": supporter, "interests": ["health"], "preferred_channel": "email",
            "consent": consent(true, true), "country": "GB",
        }),
    )
}

/// Supporter `a` registers on day 1 (2026-03-01) with email and marketing consent and
/// withdraws both on day 5 (a partial update: consent only); `a` gives and searches on day 6;
/// `b` registers on day 7.
fn write_history(path: &Path) -> Result<()> {
    let lines = [
        registered("pit-1", "a", "2026-03-01"),
        event(
            "pit-2",
            "supporter.updated",
            "a",
            "2026-03-05",
            json!({"supporter_id": "a", "consent": consent(false, false)}),
        ),
        event(
            "pit-3",
            "donation.made",
            "a",
            "2026-03-06",
            json!({
                "donation_id": "d-1", "amount_minor": 500, "currency": "GBP",
                "campaign_id": "spring", "cause": "health", "channel": "online",
                "recurring": false, "gift_aid": false,
            }),
        ),
        event(
            "pit-4",
            "interaction.logged",
            "a",
            "2026-03-06",
            json!({"interaction_id": "i-1", "kind": "search", "query": "wills"}),
        ),
        registered("pit-5", "b", "2026-03-07"),
    ];
    std::fs::write(path, lines.join("\n") + "\n")?;
    Ok(())
}

const CONTEXT: &str = "SELECT supporter_id, consent_email, consent_marketing, next_best_action, \
                       interests, gifts_lifetime, interactions_90d, recent_searches \
                       FROM gold.user_context ORDER BY supporter_id";
const RETENTION: &str = "SELECT grain, period_start, donors FROM gold.metrics_donor_retention \
                         ORDER BY grain";

#[tokio::test(flavor = "multi_thread")]
async fn a_run_as_of_a_past_day_sees_only_what_was_known_then() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let events = dir.path().join("events.ndjson");
    write_history(&events)?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&events))?;
    let run_as_of = |day: &str| {
        run_ok(eventlake(&lake).args([
            "jobs",
            "run",
            "-s",
            "+gold_user_context",
            "-s",
            "+gold_metrics_donor_retention",
            "--as-of",
            day,
        ]))
    };

    // Day 3: `a` as registered (consent given, so a marketing action), no gift or search yet;
    // `b` is not a supporter yet.
    run_as_of("2026-03-03")?;
    assert_eq!(
        rows(&lake, CONTEXT).await?,
        [[
            "a",
            "true",
            "true",
            "invite_first_gift",
            "[health]",
            "0",
            "0",
            ""
        ]]
    );
    assert_eq!(rows(&lake, RETENTION).await?, Vec::<Vec<String>>::new());

    // Day 8, the day of the latest event (what a run as of today sees): `a`'s withdrawal
    // (the interests the update did not carry are kept), gift and search; `b`.
    run_as_of("2026-03-08")?;
    assert_eq!(
        rows(&lake, CONTEXT).await?,
        [
            [
                "a",
                "false",
                "false",
                "service_only",
                "[health]",
                "1",
                "1",
                "[wills]"
            ],
            [
                "b",
                "true",
                "true",
                "invite_first_gift",
                "[health]",
                "0",
                "0",
                ""
            ],
        ]
    );
    assert_eq!(
        rows(&lake, RETENTION).await?,
        [
            ["month", "2026-03-01", "1"],
            ["quarter", "2026-01-01", "1"],
            ["year", "2026-01-01", "1"],
        ]
    );

    // Back to day 3 after the later events were seen: the same context as the first time.
    run_as_of("2026-03-03")?;
    assert_eq!(
        rows(&lake, CONTEXT).await?,
        [[
            "a",
            "true",
            "true",
            "invite_first_gift",
            "[health]",
            "0",
            "0",
            ""
        ]]
    );
    Ok(())
}
