//! File ingest of a generated workload: every line lands once, in the right table, for the
//! right reason; a second ingest of the same file changes nothing.

use std::collections::HashMap;

use crate::support::{eventlake, rows, run_ok, scalar};

#[tokio::test(flavor = "multi_thread")]
async fn generated_workload_lands_exactly_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("e.ndjson");
    let lake = dir.path().join("lake");
    run_ok(
        eventlake(&lake)
            .args([
                "generate",
                "--events",
                "200000",
                "--seed",
                "7",
                "--bad-ratio",
                "0.02",
                "--out",
            ])
            .arg(&file),
    )?;
    let text = std::fs::read(&file)?;
    let lines = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as i64;
    assert_eq!(lines, 200_000);

    // The generator is reproducible: the same config in-process gives the same bytes, and
    // tells which lines are bad and why.
    let expected = crate::support::workload(&dir.path().join("again.ndjson"), 200_000, 7, 0.02)?;
    assert_eq!(
        std::fs::read(dir.path().join("again.ndjson"))?,
        text,
        "generator is not reproducible"
    );

    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    let events = scalar(&lake, "SELECT count(*) FROM bronze.events").await?;
    let rejected = scalar(&lake, "SELECT count(*) FROM bronze.events_rejected").await?;
    assert_eq!(
        events + rejected,
        lines,
        "events {events} + rejected {rejected} != lines"
    );
    let distinct = scalar(&lake, "SELECT count(DISTINCT event_id) FROM bronze.events").await?;
    assert_eq!(distinct, events, "event_id is not unique in bronze.events");

    // Each line that the generator spoiled is rejected with the reason of its fault, at its
    // byte offset; every good line is accepted.
    let rejects: HashMap<String, String> = rows(
        &lake,
        "SELECT source_position, reason FROM bronze.events_rejected",
    )
    .await?
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone()))
    .collect();
    let mut offset = 0usize;
    let mut kinds_seen = std::collections::BTreeSet::new();
    for line in &expected {
        let got = rejects.get(&offset.to_string());
        match &line.bad {
            Some(kind) => {
                assert_eq!(
                    got.map(String::as_str),
                    Some(kind.reason_code()),
                    "line at byte {offset}: {}",
                    String::from_utf8_lossy(&line.bytes)
                );
                kinds_seen.insert(kind.reason_code());
            }
            None => assert!(
                got.is_none(),
                "good line at byte {offset} rejected as {got:?}: {}",
                String::from_utf8_lossy(&line.bytes)
            ),
        }
        offset += line.bytes.len() + 1;
    }
    assert_eq!(
        kinds_seen.len(),
        6,
        "not every kind of bad record was planted: {kinds_seen:?}"
    );

    // Ingesting the same file again changes nothing: no new rows, no new commits.
    let versions = |lake: std::path::PathBuf| async move {
        let count = |dir: &str| {
            std::fs::read_dir(lake.join(dir).join("_delta_log"))
                .map(|d| d.count())
                .unwrap_or(0)
        };
        (count("bronze/events"), count("bronze/events_rejected"))
    };
    let before = versions(lake.clone()).await;
    let second = run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("offered 0 records"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    assert_eq!(
        versions(lake.clone()).await,
        before,
        "a second ingest wrote commits"
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM bronze.events").await?,
        events
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM bronze.events_rejected").await?,
        rejected
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_command_lists_tables_and_writes_csv() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("e.ndjson");
    let lake = dir.path().join("lake");
    crate::support::workload(&file, 2_000, 3, 0.05)?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    let tables = run_ok(eventlake(&lake).args(["sql", "SHOW TABLES", "--format", "csv"]))?;
    assert_eq!(
        String::from_utf8(tables.stdout)?,
        "table_name\nbronze.events\nbronze.events_rejected\n"
    );
    let json = run_ok(eventlake(&lake).args([
        "sql",
        "SELECT count(*) AS n FROM bronze.events",
        "--format",
        "json",
    ]))?;
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    assert!(parsed[0]["n"].as_i64().unwrap() > 1_000, "{parsed}");
    let bad = eventlake(&lake)
        .args(["sql", "SELECT nope FROM bronze.events"])
        .output()?;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("nope"),
        "error does not name the column"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_source_still_flushes_on_age() -> anyhow::Result<()> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let source = dir.path().join("e.ndjson");
    let lines = crate::support::workload(&source, 10, 5, 0.0)?;
    let mut child = eventlake(&lake)
        .args([
            "ingest",
            "file",
            "-",
            "--source-id",
            "quiet",
            "--flush-age-ms",
            "300",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    for line in &lines {
        stdin.write_all(&line.bytes)?;
        stdin.write_all(b"\n")?;
    }
    stdin.flush()?;
    // The writer is still open: only the age trigger can commit these ten events.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut landed = 0;
    while std::time::Instant::now() < deadline {
        landed = scalar(&lake, "SELECT count(*) FROM bronze.events")
            .await
            .unwrap_or(0);
        if landed == 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(stdin);
    child.wait()?;
    assert_eq!(landed, 10, "the age trigger did not flush a quiet source");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_grows_resumes_and_a_replaced_file_starts_over() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let file = dir.path().join("e.ndjson");
    let lines = crate::support::workload(&dir.path().join("all.ndjson"), 3_000, 13, 0.0)?;
    let write = |range: std::ops::Range<usize>| {
        let mut text = Vec::new();
        for line in &lines[range] {
            text.extend_from_slice(&line.bytes);
            text.push(b'\n');
        }
        text
    };
    std::fs::write(&file, write(0..1_000))?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    // Appended lines: the same source, resumed at its offset.
    std::fs::write(&file, write(0..2_000))?;
    let grown = run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    assert!(
        String::from_utf8_lossy(&grown.stdout).contains("offered 1000 records: 1000 accepted"),
        "{}",
        String::from_utf8_lossy(&grown.stdout)
    );
    // A different file at the same path, longer than the old checkpoint: read from its start.
    std::fs::write(&file, write(1_000..3_000))?;
    let replaced = run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    let out = String::from_utf8_lossy(&replaced.stdout);
    assert!(
        out.contains("offered 2000 records: 1000 accepted, 1000 rejected"),
        "{out}"
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM bronze.events").await?,
        3_000
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM bronze.events_rejected WHERE reason = 'duplicate_event_id'"
        )
        .await?,
        1_000
    );
    Ok(())
}

/// Peak resident memory `ingest file` may reach on any input with the default configuration
/// (docs/exactly-once.md, "Bounded memory on any input").
const MEMORY_BOUND: u64 = 512 * 1024 * 1024;

/// A 3 GB line (a sparse file, so nothing is stored) between two events: `ingest file` skips it
/// in bounded memory, finishes with one `too_large` reject and both events, and a second run
/// reads nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_3_gb_line_is_one_too_large_reject_in_bounded_memory() -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom, Write};

    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let path = dir.path().join("huge.ndjson");
    let event = |i: u32| {
        format!(
            "{{\"event_id\":\"e{i}\",\"event_type\":\"user.joined\",\"source\":\"chat\",\
             \"tenant_id\":\"t\",\"subject_id\":\"u{i}\",\"occurred_at\":\"2026-03-01T10:00:00Z\",\
             \"schema_version\":1,\"payload\":{{\"room_id\":\"r\",\"user_id\":\"u{i}\"}}}}\n"
        )
    };
    let mut file = std::fs::File::create(&path)?;
    file.write_all(event(1).as_bytes())?;
    let start = file.stream_position()?;
    file.set_len(start + 3_000_000_000)?;
    file.seek(SeekFrom::End(0))?;
    file.write_all(b"\n")?;
    file.write_all(event(2).as_bytes())?;
    drop(file);

    let mut child = eventlake(&lake)
        .args(["ingest", "file"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id();
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kib * 1024);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "ingest file failed: {status}");
    assert!(
        peak < MEMORY_BOUND,
        "peak resident memory {} MiB is over the bound of {} MiB",
        peak >> 20,
        MEMORY_BOUND >> 20
    );
    println!("peak resident memory: {} MiB", peak >> 20);

    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM bronze.events").await?,
        2
    );
    let rejects = rows(
        &lake,
        "SELECT reason, octet_length(CAST(raw AS VARCHAR)), message FROM bronze.events_rejected",
    )
    .await?;
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0][0], "too_large");
    assert_eq!(rejects[0][1], "65536");
    assert!(
        rejects[0][2].contains("record has 3000000000 bytes"),
        "{rejects:?}"
    );

    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&path))?;
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM bronze.events_rejected").await?,
        1
    );
    Ok(())
}

/// The newest commit file of `bronze.events` truncated to nothing: `sql`, `ingest` and the jobs
/// refuse the table, naming the file, instead of reading it with rows missing or committing on
/// top of it.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_commit_file_is_an_error_that_names_it_everywhere() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let first = dir.path().join("first.ndjson");
    let second = dir.path().join("second.ndjson");
    crate::support::workload(&first, 2_000, 3, 0.0)?;
    crate::support::workload(&second, 2_000, 4, 0.0)?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&first))?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&second))?;

    let log = lake.join("bronze/events/_delta_log");
    let newest = std::fs::read_dir(&log)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max()
        .expect("a commit file");
    std::fs::write(&newest, b"")?;
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();

    let third = dir.path().join("third.ndjson");
    crate::support::workload(&third, 100, 5, 0.0)?;
    for args in [
        vec!["sql", "SELECT count(*) FROM bronze.events"],
        vec!["ingest", "file", third.to_str().unwrap()],
        vec!["jobs", "run"],
    ] {
        let output = eventlake(&lake).args(&args).output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{args:?} succeeded over a damaged log"
        );
        assert!(
            stderr.contains(&name) && stderr.contains("is empty"),
            "{args:?}: {stderr}"
        );
    }
    // Nothing was committed on top of the damaged file.
    let after = std::fs::read_dir(&log)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max()
        .unwrap();
    assert_eq!(after, newest);
    Ok(())
}
