//! The job runner end to end: the whole graph on a generated lake, a failing data test, readers
//! during a rewrite, the scheduler, and gold sums that stay exact where a BIGINT sum would wrap.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{eventlake, rows, run_ok, scalar};
use anyhow::Result;
use eventlake_jobs::{Body, Project};

fn ingest_generated(dir: &Path, lake: &Path, events: u64) -> Result<()> {
    let file = dir.join("events.ndjson");
    crate::support::workload(&file, events, 7, 0.02)?;
    run_ok(eventlake(lake).args(["ingest", "file"]).arg(&file))?;
    Ok(())
}

/// (job, status, tests JSON) of every record of one invocation, latest invocation first.
async fn last_invocation(lake: &Path) -> Result<Vec<Vec<String>>> {
    rows(
        lake,
        "SELECT job, status, tests, rows_written FROM ops.job_runs WHERE run_id = \
         (SELECT run_id FROM ops.job_runs ORDER BY finished_at DESC LIMIT 1) ORDER BY job",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_graph_succeeds_is_recorded_and_reruns_write_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    ingest_generated(dir.path(), &lake, 200_000)?;
    let project = Project::builtin()?;
    let jobs = project.jobs().len();

    let out = run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(&format!("{jobs} of {jobs} job(s) succeeded")),
        "{summary}"
    );

    let records = last_invocation(&lake).await?;
    assert_eq!(records.len(), jobs);
    let mut tests_run = 0;
    for record in &records {
        assert_eq!(record[1], "success", "{record:?}");
        let tests: Vec<serde_json::Value> = serde_json::from_str(&record[2])?;
        assert!(
            tests
                .iter()
                .all(|t| t["passed"] == true || t["severity"] == "warn"),
            "{record:?}"
        );
        tests_run += tests.len();
    }
    assert!(tests_run >= 60, "only {tests_run} data tests ran");

    // Nothing is dropped on the way to silver: every bronze event is typed into one table.
    let silver: Vec<String> = project
        .jobs()
        .iter()
        .filter(|j| matches!(j.body, Body::Silver { .. }))
        .map(|j| format!("(SELECT count(*) FROM {})", j.output))
        .collect();
    let typed = scalar(&lake, &format!("SELECT {}", silver.join(" + "))).await?;
    assert_eq!(
        typed,
        scalar(&lake, "SELECT count(*) FROM bronze.events").await?
    );

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lake.join("ops/run_results.json"))?)?;
    assert_eq!(results["success"], true);
    assert_eq!(results["results"].as_array().map(Vec::len), Some(jobs));

    // Unchanged inputs: every job is up to date and no output gains a row or a version.
    let counts = |lake: &Path| {
        let project = &project;
        let lake = lake.to_owned();
        async move {
            let mut out = Vec::new();
            for job in project.jobs() {
                out.push(scalar(&lake, &format!("SELECT count(*) FROM {}", job.output)).await?);
            }
            anyhow::Ok(out)
        }
    };
    let before = counts(&lake).await?;
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    let again = last_invocation(&lake).await?;
    assert!(
        again.iter().all(|r| r[1] == "up_to_date" && r[3] == "0"),
        "{again:?}"
    );
    assert_eq!(counts(&lake).await?, before);
    Ok(())
}

fn write_job(dir: &Path, name: &str, toml: &str, sql: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{name}.toml")), toml)?;
    std::fs::write(dir.join(format!("{name}.sql")), sql)?;
    Ok(())
}

const KEYS: &str = "output = \"silver.keys\"\nreads = []\n[materialization]\nstrategy = \"table\"\n\
                    [[tests]]\nunique = [\"id\"]\n";
const SUMMARY: &str = "output = \"gold.summary\"\nreads = [\"silver.keys\"]\n\
                       [materialization]\nstrategy = \"table\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn failing_data_test_keeps_the_output_and_skips_descendants() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    let summary = "SELECT count(*) AS n FROM silver.keys";
    write_job(
        &good,
        "keys",
        KEYS,
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)",
    )?;
    write_job(&good, "summary", SUMMARY, summary)?;
    // The same job, changed to plant a duplicate key.
    write_job(
        &bad,
        "keys",
        KEYS,
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (2, 'b again')) AS t(id, name)",
    )?;
    write_job(&bad, "summary", SUMMARY, summary)?;

    run_ok(
        eventlake(&lake)
            .arg("jobs")
            .arg("run")
            .arg("--jobs-dir")
            .arg(&good),
    )?;
    let version = |t: &str| {
        format!("SELECT output_version FROM ops.job_runs WHERE job = '{t}' AND status = 'success'")
    };
    let keys_version = rows(&lake, &version("keys")).await?;

    let out = eventlake(&lake)
        .args(["jobs", "run", "--jobs-dir"])
        .arg(&bad)
        .output()?;
    assert!(
        !out.status.success(),
        "a failing data test must fail the command"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("unique(id) failed on 1 row(s)"), "{stdout}");
    assert!(
        stdout.contains("id=2") && stdout.contains("copies=2"),
        "{stdout}"
    );

    assert_eq!(
        rows(&lake, "SELECT id, name FROM silver.keys ORDER BY id").await?,
        [["1", "a"], ["2", "b"]]
    );
    assert_eq!(scalar(&lake, "SELECT n FROM gold.summary").await?, 2);
    assert_eq!(
        rows(&lake, &version("keys")).await?,
        keys_version,
        "no new version"
    );
    let last = last_invocation(&lake).await?;
    assert_eq!(last[0][..2], ["keys", "test_failed"]);
    assert_eq!(last[1][..2], ["summary", "skipped"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_never_see_a_partial_user_context() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    ingest_generated(dir.path(), &lake, 20_000)?;
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    let expected = scalar(&lake, "SELECT count(*) FROM gold.user_context").await?;
    assert!(expected > 100);

    let writer_lake = lake.clone();
    let writer = std::thread::spawn(move || -> Result<()> {
        for _ in 0..4 {
            run_ok(eventlake(&writer_lake).args([
                "jobs",
                "run",
                "--select",
                "gold_user_context",
                "--full-refresh",
                "--as-of",
                "2026-11-01",
            ]))?;
        }
        Ok(())
    });
    let mut reads = 0;
    while !writer.is_finished() {
        let seen = scalar(&lake, "SELECT count(*) FROM gold.user_context").await?;
        assert_eq!(seen, expected, "a reader saw a partial table");
        let distinct = scalar(
            &lake,
            "SELECT count(DISTINCT run_id) FROM gold.user_context",
        )
        .await?;
        assert_eq!(distinct, 1, "a reader saw rows of two runs");
        reads += 1;
    }
    writer.join().expect("writer thread")?;
    assert!(reads > 0);
    // Every rewrite is its own version, and the previous ones stay in the log.
    let versions = rows(
        &lake,
        "SELECT count(*) FROM ops.job_runs WHERE job = 'gold_user_context' AND status = 'success'",
    )
    .await?;
    assert_eq!(versions, [["5"]]);
    // The first run's version is still readable, whole (Delta time travel).
    let first = rows(
        &lake,
        "SELECT output_version FROM ops.job_runs WHERE job = 'gold_user_context' AND status = 'success' \
         ORDER BY finished_at LIMIT 1",
    )
    .await?;
    let version: u64 = first[0][0].parse()?;
    let table = eventlake_lake::Lake::new(lake.to_str().expect("UTF-8"))?
        .table_url(&eventlake_lake::TableName::new("gold", "user_context").expect("valid"));
    let old = eventlake_lake::deltalake::open_table_with_version(table, version).await?;
    let session = datafusion::prelude::SessionContext::new();
    session.register_table("old", old.table_provider().await?)?;
    let old_rows = session
        .sql("SELECT count(*) FROM old")
        .await?
        .collect()
        .await?;
    let old_rows = old_rows[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("count")
        .value(0);
    assert_eq!(old_rows, expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduler_runs_due_jobs_without_overlap_and_survives_failures() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let jobs = dir.path().join("jobs");
    let every_second = "schedule = \"* * * * * *\"\n[materialization]\nstrategy = \"table\"\n";
    write_job(
        &jobs,
        "tick",
        &format!("output = \"gold.tick\"\nreads = []\n{every_second}"),
        "SELECT {{ run_id }} AS run_id",
    )?;
    write_job(
        &jobs,
        "broken",
        &format!("output = \"gold.broken\"\nreads = []\n{every_second}"),
        "SELECT * FROM silver.does_not_exist",
    )?;
    let mut child = eventlake(&lake)
        .args(["jobs", "schedule", "--jobs-dir"])
        .arg(&jobs)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let count = |status: &'static str, job: &'static str| {
        let lake = lake.clone();
        async move {
            let sql = format!(
                "SELECT count(*) FROM ops.job_runs WHERE job = '{job}' AND status = '{status}'"
            );
            scalar(&lake, &sql).await.unwrap_or(0)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while count("failed", "broken").await < 3 || count("up_to_date", "tick").await < 2 {
        assert!(
            Instant::now() < deadline,
            "scheduler did not run the jobs in time"
        );
        assert!(child.try_wait()?.is_none(), "scheduler exited early");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    run_ok(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]))?;
    let status = child.wait()?;
    assert!(
        status.success(),
        "scheduler should stop cleanly on Ctrl-C: {status}"
    );

    for job in ["tick", "broken"] {
        let overlaps = scalar(
            &lake,
            &format!(
                "SELECT count(*) FROM (SELECT started_at, lag(finished_at) OVER (ORDER BY started_at) AS previous \
                 FROM ops.job_runs WHERE job = '{job}') WHERE started_at < previous"
            ),
        )
        .await?;
        assert_eq!(overlaps, 0, "{job} overlapped itself");
    }
    assert_eq!(
        count("success", "tick").await,
        1,
        "later ticks are up to date"
    );
    Ok(())
}

fn session_events(path: &Path, days: &[&str]) -> Result<()> {
    let lines: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            serde_json::json!({
                "event_id": format!("{}-{day}-{i}", path.display()),
                "event_type": "session.started", "source": "saas", "tenant_id": "t",
                "subject_id": "u", "occurred_at": format!("{day}T12:00:00Z"), "schema_version": 1,
                "payload": {"session_id": format!("s{i}"), "user_id": "u"},
            })
            .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_does_not_swallow_pending_changes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let jobs = dir.path().join("jobs");
    write_job(
        &jobs,
        "daily",
        "output = \"gold.daily\"\nreads = [\"bronze.events\"]\n[materialization]\n\
         strategy = \"replace_partitions\"\npartition_by = \"day\"\n",
        "SELECT event_date AS day, count(*) AS events FROM bronze.events \
         WHERE event_date BETWEEN {{ from }} AND {{ to }} GROUP BY event_date",
    )?;
    let run = |extra: &[&str]| {
        let mut cmd = eventlake(&lake);
        cmd.args(["jobs", "run", "--jobs-dir"])
            .arg(&jobs)
            .args(extra);
        run_ok(&mut cmd)
    };
    let first = dir.path().join("first.ndjson");
    session_events(&first, &["2026-03-01", "2026-03-02"])?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&first))?;
    run(&[])?;
    let second = dir.path().join("second.ndjson");
    session_events(&second, &["2026-03-01", "2026-03-05"])?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&second))?;

    // Backfilling 03-01 must not mark the 03-05 change as processed.
    run(&["--from", "2026-03-01", "--to", "2026-03-01"])?;
    assert_eq!(
        rows(&lake, "SELECT day, events FROM gold.daily ORDER BY day").await?,
        [["2026-03-01", "2"], ["2026-03-02", "1"]]
    );
    run(&[])?;
    assert_eq!(
        rows(&lake, "SELECT day, events FROM gold.daily ORDER BY day").await?,
        [
            ["2026-03-01", "2"],
            ["2026-03-02", "1"],
            ["2026-03-05", "1"]
        ]
    );
    let out = eventlake(&lake)
        .args([
            "jobs",
            "run",
            "--from",
            "2026-03-05",
            "--to",
            "2026-03-01",
            "--jobs-dir",
        ])
        .arg(&jobs)
        .output()?;
    assert!(
        !out.status.success(),
        "an empty backfill window is an error"
    );
    Ok(())
}

/// The contract's maximum `bytes_out` of one API response: 5 GiB.
const MAX_BYTES_OUT: i64 = 5 * 1024 * 1024 * 1024;

fn api_request(id: &str, minute: u32, bytes_out: i64) -> String {
    serde_json::json!({
        "event_id": id, "event_type": "api.request", "source": "saas", "tenant_id": "t",
        "subject_id": "k1", "occurred_at": format!("2026-03-08T10:{minute:02}:00Z"),
        "schema_version": 1,
        "payload": {
            "request_id": id, "route": "/v1/exports/{id}", "method": "GET", "status": 200,
            "latency_ms": 12.5, "tier": "pro", "api_key_id": "k1", "bytes_out": bytes_out,
        },
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn api_bytes_out_at_the_contract_maximum_sums_exactly() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let file = dir.path().join("requests.ndjson");
    let lines = [
        api_request("r1", 5, MAX_BYTES_OUT),
        api_request("r2", 35, MAX_BYTES_OUT),
        api_request("r3", 40, MAX_BYTES_OUT + 1),
        api_request("r4", 45, i64::MAX),
    ];
    std::fs::write(&file, lines.join("\n") + "\n")?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&file))?;
    assert_eq!(
        rows(
            &lake,
            "SELECT event_id, reason FROM bronze.events_rejected ORDER BY event_id"
        )
        .await?,
        [["r3", "out_of_range"], ["r4", "out_of_range"]]
    );
    run_ok(eventlake(&lake).args(["jobs", "run", "--select", "+gold_metrics_api"]))?;
    assert_eq!(
        rows(&lake, "SELECT requests, bytes_out FROM gold.metrics_api").await?,
        [["2", "10737418240"]]
    );
    Ok(())
}

/// `silver.api_requests` holding what the contract no longer accepts (rows ingested before it
/// capped `bytes_out`): two responses of i64::MAX bytes in one route-hour, whose sum a BIGINT
/// SUM would wrap around to -2.
const HUGE_REQUESTS: &str = "SELECT * FROM (VALUES \
    ('t', '/v1/exports', CAST('2026-03-08T10:05:00Z' AS TIMESTAMP), 200, 12.5, \
     9223372036854775807, DATE '2026-03-08'), \
    ('t', '/v1/exports', CAST('2026-03-08T10:35:00Z' AS TIMESTAMP), 200, 14.5, \
     9223372036854775807, DATE '2026-03-08')) \
    AS t(tenant_id, route, occurred_at, status, latency_ms, bytes_out, event_date)";

#[tokio::test(flavor = "multi_thread")]
async fn api_bytes_out_sums_exactly_past_the_range_of_i64() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let jobs = dir.path().join("jobs");
    write_job(
        &jobs,
        "silver_api_requests",
        "output = \"silver.api_requests\"\nreads = []\n[materialization]\nstrategy = \"table\"\n",
        HUGE_REQUESTS,
    )?;
    // The shipped definition of the metric, unchanged.
    let defs =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../jobs/defs");
    write_job(
        &jobs,
        "gold_metrics_api",
        &std::fs::read_to_string(defs.join("gold_metrics_api.toml"))?,
        &std::fs::read_to_string(defs.join("gold_metrics_api.sql"))?,
    )?;
    run_ok(
        eventlake(&lake)
            .args(["jobs", "run", "--jobs-dir"])
            .arg(&jobs),
    )?;
    assert_eq!(
        rows(
            &lake,
            "SELECT route, requests, bytes_out FROM gold.metrics_api"
        )
        .await?,
        [["/v1/exports", "2", "18446744073709551614"]]
    );
    Ok(())
}
