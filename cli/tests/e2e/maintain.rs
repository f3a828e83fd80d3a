//! `eventlake maintain` on real lakes: thousands of small files compacted with every count
//! unchanged, vacuum checked on storage (only unreferenced files older than the retention
//! go), and maintenance beside a committing collector and a serving process that reloads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, ensure};
use eventlake_lake::{Lake, TableName};

use crate::support::{Running, eventlake, free_port, rows, run_ok, workload};

/// Data files of the table's current version, relative to the table root.
async fn live(lake: &Path, table: &TableName) -> Result<BTreeSet<String>> {
    let delta = Lake::new(lake.to_str().context("UTF-8 path")?)?
        .open(table)
        .await?;
    Ok(delta
        .snapshot()?
        .log_data()
        .iter()
        .map(|f| f.path().to_string())
        .collect())
}

/// Every file on disk below the table, the log excluded, relative to the table root.
fn stored(lake: &Path, table: &TableName) -> Result<BTreeSet<String>> {
    let root = lake.join(&table.layer).join(&table.name);
    let mut found = BTreeSet::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.ends_with("_delta_log") {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(&root)?.to_string_lossy().into_owned();
                found.insert(relative);
            }
        }
    }
    Ok(found)
}

/// Row counts (and distinct event ids) of both bronze tables.
async fn counts(lake: &Path) -> Result<Vec<Vec<String>>> {
    rows(
        lake,
        "SELECT (SELECT count(*) FROM bronze.events) AS events, \
                (SELECT count(DISTINCT event_id) FROM bronze.events) AS ids, \
                (SELECT count(*) FROM bronze.events_rejected) AS rejected",
    )
    .await
}

fn config(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn maintain(lake: &Path, config: &Path, extra: &[&str]) -> Result<serde_json::Value> {
    let out = run_ok(
        eventlake(lake)
            .arg("--config")
            .arg(config)
            .args(["maintain", "--format", "json"])
            .args(extra),
    )?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_small_files_are_compacted_and_vacuum_deletes_only_old_unreferenced_ones()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let input = dir.path().join("events.ndjson");
    let lines = workload(&input, 6_000, 11, 0.02)?;
    // Many small commits: the workload dealt into 20 files, each spanning all 120 days, so
    // each file's commit writes a small file into most day partitions.
    let mut parts = vec![Vec::new(); 20];
    for (i, line) in lines.iter().enumerate() {
        parts[i % 20].extend_from_slice(&line.bytes);
        parts[i % 20].push(b'\n');
    }
    for (i, text) in parts.into_iter().enumerate() {
        let path = dir.path().join(format!("part-{i}.ndjson"));
        std::fs::write(&path, text)?;
        run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&path))?;
    }
    let events = TableName::events();
    let before = live(&lake, &events).await?;
    ensure!(before.len() >= 2_000, "only {} files", before.len());
    let counted = counts(&lake).await?;

    // Two untracked files (a crashed writer's uploads): one two days old, one just written.
    let sample = before.iter().next().context("a live file")?;
    let partition = Path::new(sample).parent().context("a partition folder")?;
    let table_root = lake.join("bronze").join("events");
    let old = partition.join("orphan-old.parquet");
    let new = partition.join("orphan-new.parquet");
    for orphan in [&old, &new] {
        std::fs::copy(table_root.join(sample), table_root.join(orphan))?;
    }
    std::fs::File::options()
        .write(true)
        .open(table_root.join(&old))?
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 24 * 3600))?;

    // A dry run changes nothing.
    let hour = config(
        dir.path(),
        "hour.toml",
        "[maintain]\nfile_retention = \"1h\"\nlongest_read = \"1h\"\n",
    )?;
    let dry = maintain(&lake, &hour, &["--table", "bronze.events", "--dry-run"])?;
    ensure!(dry[0]["files_to_compact"].as_u64() >= Some(2_000), "{dry}");
    ensure!(
        live(&lake, &events).await? == before,
        "a dry run changed the table"
    );

    // One hour of retention: the compaction's removed files are kept (a reader may still
    // be on the version before it), the old orphan goes, the new one stays.
    let report = maintain(&lake, &hour, &[])?;
    let after = live(&lake, &events).await?;
    ensure!(
        after.len() * 10 <= before.len(),
        "{} files became {}",
        before.len(),
        after.len()
    );
    ensure!(counts(&lake).await? == counted, "counts changed");
    let on_disk = stored(&lake, &events)?;
    let old = old.to_string_lossy().into_owned();
    let new = new.to_string_lossy().into_owned();
    ensure!(!on_disk.contains(&old), "the old orphan is still there");
    ensure!(on_disk.contains(&new), "the new orphan was deleted");
    let kept: BTreeSet<_> = before.union(&after).cloned().collect();
    let expected: BTreeSet<_> = kept.iter().cloned().chain([new.clone()]).collect();
    ensure!(
        on_disk == expected,
        "storage holds other files than the versions need"
    );
    let row = report
        .as_array()
        .and_then(|r| r.iter().find(|t| t["table"] == "bronze.events"))
        .context("a bronze.events row")?;
    ensure!(row["files_vacuumed"] == 1, "{row}");

    // A retention of one second, two seconds later: only the live files are left.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = config(
        dir.path(),
        "second.toml",
        "[maintain]\nfile_retention = \"1s\"\nlongest_read = \"1s\"\n",
    )?;
    maintain(&lake, &second, &["--only", "vacuum"])?;
    ensure!(stored(&lake, &events)? == after, "storage ≠ the live files");
    ensure!(counts(&lake).await? == counted, "counts changed");

    // A retention shorter than a reader holds a version is refused before anything runs.
    let unsafe_config = config(
        dir.path(),
        "unsafe.toml",
        "[maintain]\nfile_retention = \"1h\"\nlongest_read = \"1d\"\n",
    )?;
    let refused = eventlake(&lake)
        .arg("--config")
        .arg(&unsafe_config)
        .args(["maintain", "--table", "bronze.events"])
        .output()?;
    ensure!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(stderr.contains("unsafe retention"), "{stderr}");
    Ok(())
}

/// Posts until every event is stored; how many were answered `accepted`.
async fn post(client: &reqwest::Client, url: &str, ids: &[String]) -> Result<usize> {
    let statuses = crate::support::post_until_stored(client, url, None, ids).await?;
    Ok(statuses.iter().filter(|s| *s == "accepted").count())
}

#[tokio::test(flavor = "multi_thread")]
async fn maintenance_beside_a_collector_and_a_reloading_server_loses_and_doubles_nothing()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let input = dir.path().join("events.ndjson");
    workload(&input, 3_000, 5, 0.0)?;
    run_ok(eventlake(&lake).args(["ingest", "file"]).arg(&input))?;
    run_ok(eventlake(&lake).args(["jobs", "run", "--as-of", "2026-06-30"]))?;
    let already = counts(&lake).await?[0][0].parse::<usize>()?;

    let collector = format!("127.0.0.1:{}", free_port()?);
    let _collector = Running(
        eventlake(&lake)
            .args([
                "ingest",
                "http",
                "--listen",
                &collector,
                "--flush-age-ms",
                "20",
            ])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let server = format!("127.0.0.1:{}", free_port()?);
    let _server = Running(
        eventlake(&lake)
            .args([
                "serve",
                "--listen",
                &server,
                "--no-collect",
                "--reload-ms",
                "100",
            ])
            .args(["--jwt-secret", "maintain-secret-0123456789"])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let client = reqwest::Client::new();
    let ready = format!("http://{server}/v1/ready");
    let events_url = format!("http://{collector}/v1/events");
    for _ in 0..600 {
        let up = client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
            && client.post(&events_url).body("").send().await.is_ok();
        if up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Writers: 40 batches of new ids, each sent twice (a client retry).
    let writer = {
        let (client, url) = (client.clone(), events_url.clone());
        tokio::spawn(async move {
            let mut accepted = 0;
            for round in 0..40 {
                let ids: Vec<String> = (0..25).map(|i| format!("m-{round}-{i}")).collect();
                accepted += post(&client, &url, &ids).await?;
                accepted += post(&client, &url, &ids).await?;
            }
            Ok::<_, anyhow::Error>(accepted)
        })
    };
    // The server must answer ready on every poll while its tables are compacted and vacuumed.
    let watcher = {
        let (client, ready) = (client.clone(), ready.clone());
        tokio::spawn(async move {
            let mut polls = 0;
            while polls < 10_000 {
                let status = client.get(&ready).send().await?.status();
                ensure!(status == 200, "ready answered {status} during maintenance");
                polls += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<_, anyhow::Error>(())
        })
    };
    let fast = config(
        dir.path(),
        "fast.toml",
        "[maintain]\nfile_retention = \"3s\"\nlongest_read = \"3s\"\n",
    )?;
    let mut passes = 0;
    // Compactions of bronze.events that committed while the collector was committing to it:
    // delta-rs once failed these (delta-io/delta-rs#2700); they must land.
    let mut compacted_beside_ingest = 0;
    while !writer.is_finished() || passes < 3 {
        let (at, with) = (lake.clone(), fast.clone());
        let report = tokio::task::spawn_blocking(move || maintain(&at, &with, &[])).await??;
        let bronze = report
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["table"] == "bronze.events"))
            .with_context(|| format!("no bronze.events row: {report}"))?;
        if !writer.is_finished() {
            compacted_beside_ingest += bronze["files_compacted"].as_u64().unwrap_or(0);
        }
        counts(&lake).await?;
        passes += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ensure!(
        compacted_beside_ingest > 0,
        "no compaction landed while the collector committed ({passes} passes)"
    );
    let accepted = writer.await??;
    ensure!(
        !watcher.is_finished(),
        "the readiness watcher stopped: {:?}",
        watcher.await
    );
    watcher.abort();

    ensure!(accepted == 1_000, "{accepted} of 1000 ids accepted");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let doubled = rows(
        &lake,
        "SELECT event_id FROM bronze.events GROUP BY event_id HAVING count(*) > 1",
    )
    .await?;
    ensure!(doubled.is_empty(), "doubled: {doubled:?}");
    let total = counts(&lake).await?[0][0].parse::<usize>()?;
    ensure!(
        total == already + 1_000,
        "{total} events, expected {}",
        already + 1_000
    );
    // No commit was left half-written in any table's log.
    for layer in ["bronze", "silver", "gold", "ops"] {
        let Ok(tables) = std::fs::read_dir(lake.join(layer)) else {
            continue;
        };
        for table in tables {
            let log = table?.path().join("_delta_log");
            if !log.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&log)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                ensure!(!name.contains("tmp"), "{} holds {name}", log.display());
            }
        }
    }
    Ok(())
}
