//! Crash safety: the file ingest killed with SIGKILL at random moments and restarted until it
//! finishes, 20 times over, always ends with exactly the tables of an uninterrupted run.

use std::path::Path;
use std::time::Duration;

use crate::support::{eventlake, rows, run_ok};
use rand::{Rng, SeedableRng};

/// Everything that identifies the final content of both bronze tables.
async fn content(lake: &Path) -> anyhow::Result<(Vec<Vec<String>>, Vec<Vec<String>>)> {
    let events = rows(lake, "SELECT event_id, source_position, event_type, payload FROM bronze.events ORDER BY source_position").await?;
    let rejected = rows(
        lake,
        "SELECT source_position, reason, raw FROM bronze.events_rejected ORDER BY source_position",
    )
    .await?;
    Ok((events, rejected))
}

fn ingest(lake: &Path, file: &Path) -> std::process::Command {
    let mut cmd = eventlake(lake);
    // Small flushes: many commits, so kills land before, between and inside them.
    cmd.args(["ingest", "file", "--flush-records", "400"])
        .arg(file);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_never_loses_or_doubles() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("e.ndjson");
    let lines = crate::support::workload(&file, 30_000, 11, 0.05)?;

    // Kill moments are drawn over the first two thirds of an uninterrupted run, whatever this
    // machine's speed, so they land before, between and inside commits. The run is timed
    // twice and the faster taken: a run slowed by other work on the machine would draw kill
    // moments after most runs have finished.
    let mut run_millis = u64::MAX;
    let mut reference = None;
    for attempt in 0..2 {
        let lake = dir.path().join(format!("reference-{attempt}"));
        let started = std::time::Instant::now();
        run_ok(&mut ingest(&lake, &file))?;
        run_millis = run_millis.min(started.elapsed().as_millis() as u64);
        let content = content(&lake).await?;
        assert_eq!(content.0.len() + content.1.len(), lines.len());
        if let Some(first) = &reference {
            assert!(*first == content, "two uninterrupted runs differ");
        }
        reference = Some(content);
    }
    let reference = reference.expect("two runs");
    let kill_window = (run_millis * 2 / 3).max(50);

    let seed: u64 = std::env::var("EVENTLAKE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut total_kills = 0;
    for round in 0..20 {
        let lake = dir.path().join(format!("round-{round}"));
        let mut kills = 0;
        loop {
            let mut child = ingest(&lake, &file).spawn()?;
            let wait = Duration::from_millis(rng.random_range(10..kill_window));
            let deadline = std::time::Instant::now() + wait;
            let finished = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if std::time::Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            match finished {
                Some(status) => {
                    assert!(
                        status.success(),
                        "round {round}: ingest failed after {kills} kills"
                    );
                    break;
                }
                None => {
                    child.kill()?; // SIGKILL on Unix
                    child.wait()?;
                    kills += 1;
                    assert!(kills < 200, "round {round}: never finished");
                }
            }
        }
        total_kills += kills;
        let got = content(&lake).await?;
        assert_eq!(
            got.0.len(),
            reference.0.len(),
            "round {round} ({kills} kills, seed {seed}): events differ in count"
        );
        assert_eq!(
            got.1.len(),
            reference.1.len(),
            "round {round} ({kills} kills, seed {seed}): rejects differ in count"
        );
        assert!(
            got == reference,
            "round {round} ({kills} kills, seed {seed}): tables differ from the uninterrupted run"
        );
    }
    println!(
        "{total_kills} SIGKILLs over 20 rounds (seed {seed}, uninterrupted run {run_millis} ms)"
    );
    assert!(
        total_kills >= 20,
        "only {total_kills} kills in 20 rounds: the test did not exercise crashes"
    );
    Ok(())
}
