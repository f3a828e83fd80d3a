//! Kinesis → S3 lake against kinesis-mock and moto, both started here: generated events put with
//! `generate --to kinesis://`, consumed by `ingest kinesis` into `s3://lake/…`, compared with the
//! same events ingested from a file. Each test uses its own stream (kinesis-mock has no reset).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::run_ok;
use anyhow::{Context as _, Result, ensure};

use crate::aws::{self, Peer};
use crate::landed::{self, Landed, landed};

/// The peers and a control-plane client for kinesis-mock.
struct Rig {
    moto: Peer,
    kinesis: Peer,
    client: aws_sdk_kinesis::Client,
    dir: tempfile::TempDir,
}

/// SDK configuration for a local peer with the test credentials.
async fn rig() -> Result<Rig> {
    let (moto, kinesis) = (aws::moto().await?, aws::kinesis_mock().await?);
    let config = aws::sdk_config(&kinesis.endpoint).await;
    Ok(Rig {
        client: aws_sdk_kinesis::Client::new(&config),
        moto,
        kinesis,
        dir: tempfile::tempdir()?,
    })
}

impl Rig {
    fn eventlake(&self, uri: &str) -> Command {
        aws::eventlake(uri, &self.moto, Some(&self.kinesis))
    }

    async fn active(&self, stream: &str) -> Result<()> {
        for _ in 0..200 {
            let out = self
                .client
                .describe_stream_summary()
                .stream_name(stream)
                .send()
                .await?;
            let status = out
                .stream_description_summary()
                .map(|s| s.stream_status().clone());
            if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("{stream} never became ACTIVE")
    }

    async fn create(&self, stream: &str, shards: i32) -> Result<()> {
        self.client
            .create_stream()
            .stream_name(stream)
            .shard_count(shards)
            .send()
            .await?;
        self.active(stream).await
    }

    /// Open shards: (id, starting hash key, ending hash key), by starting hash key.
    async fn open_shards(&self, stream: &str) -> Result<Vec<(String, u128, u128)>> {
        let out = self.client.list_shards().stream_name(stream).send().await?;
        let mut open: Vec<(String, u128, u128)> = out
            .shards()
            .iter()
            .filter(|s| {
                s.sequence_number_range()
                    .is_some_and(|r| r.ending_sequence_number().is_none())
            })
            .map(|s| {
                let r = s.hash_key_range().expect("hash key range");
                (
                    s.shard_id().to_owned(),
                    r.starting_hash_key().parse().unwrap(),
                    r.ending_hash_key().parse().unwrap(),
                )
            })
            .collect();
        open.sort_by_key(|s| s.1);
        Ok(open)
    }

    /// `generate` with these options to a file (the reference) and returns its path.
    fn generate(&self, name: &str, events: u64, seed: u64) -> Result<std::path::PathBuf> {
        self.generate_with(name, events, seed, &[])
    }

    fn generate_with(
        &self,
        name: &str,
        events: u64,
        seed: u64,
        extra: &[&str],
    ) -> Result<std::path::PathBuf> {
        let path = self.dir.path().join(format!("{name}.ndjson"));
        run_ok(
            Command::new(crate::support::binary())
                .args(workload(events, seed))
                .args(extra)
                .arg("--out")
                .arg(&path),
        )?;
        Ok(path)
    }

    /// `generate … --to kinesis://STREAM` with the same options.
    fn put(&self, stream: &str, events: u64, seed: u64) -> Result<()> {
        self.put_with(stream, events, seed, &[])
    }

    fn put_with(&self, stream: &str, events: u64, seed: u64, extra: &[&str]) -> Result<()> {
        run_ok(
            self.eventlake("unused")
                .args(workload(events, seed))
                .args(extra)
                .args(["--to", &format!("kinesis://{stream}")]),
        )?;
        Ok(())
    }

    fn consumer(&self, uri: &str, stream: &str, extra: &[&str]) -> Result<Child> {
        let log = std::fs::File::create(self.dir.path().join(format!(
            "consumer-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()
        )))?;
        Ok(self
            .eventlake(uri)
            .args([
                "ingest",
                "kinesis",
                "--stream",
                stream,
                "--flush-records",
                "300",
                "--flush-age-ms",
                "300",
                "--list-ms",
                "500",
            ])
            .args(extra)
            .env("RUST_LOG", "info,buoyant_kernel=off,deltalake=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?)
    }

    /// Consumes until idle and checks the run succeeded.
    fn drain(&self, uri: &str, stream: &str) -> Result<()> {
        let out = self
            .consumer(uri, stream, &["--idle-exit-ms", "4000"])?
            .wait()?;
        ensure!(out.success(), "the consumer failed: {}", self.logs());
        Ok(())
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with("consumer-") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                all.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
        all
    }
}

/// `generate --events N --seed S`.
fn workload(events: u64, seed: u64) -> [String; 5] {
    [
        "generate".into(),
        "--events".into(),
        events.to_string(),
        "--seed".into(),
        seed.to_string(),
    ]
}

/// The same file ingested into a local lake: what exactly once must look like.
fn reference(rig: &Rig, file: &Path) -> Result<Landed> {
    landed::reference(&rig.moto, rig.dir.path(), file)
}

/// Every subject's accepted events are in file order when sorted by landing: commit time, then
/// sequence number (increasing within a shard; parents committed before children).
fn check_order(uri: &str, moto: &Peer, file: &Path) -> Result<()> {
    let text = std::fs::read(file)?;
    let mut line_of: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line)
            && let Some(id) = v.get("event_id").and_then(|v| v.as_str())
        {
            line_of.entry(id.to_owned()).or_insert(i);
        }
    }
    let rows = aws::csv(
        uri,
        moto,
        "SELECT subject_id, event_id, CAST(ingested_at AS BIGINT), source_position FROM bronze.events",
    )?;
    let mut by_subject: HashMap<&str, Vec<(i64, usize, &str, usize)>> = HashMap::new();
    for r in &rows {
        let line = *line_of
            .get(&r[1])
            .with_context(|| format!("{} not in the file", r[1]))?;
        by_subject
            .entry(&r[0])
            .or_default()
            .push((r[2].parse()?, r[3].len(), &r[3], line));
    }
    for (subject, mut events) in by_subject {
        events.sort();
        let lines: Vec<usize> = events.iter().map(|e| e.3).collect();
        ensure!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "subject {subject}: landed out of order (file lines {lines:?})"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn kinesis_to_s3_exactly_once_in_subject_order_through_crashes() -> Result<()> {
    let rig = rig().await?;
    let stream = "four-shards";
    rig.create(stream, 4).await?;
    let file = rig.generate("four", 3000, 21)?;
    rig.put(stream, 3000, 21)?;
    let expected = reference(&rig, &file)?;
    ensure!(expected.events.len() > 2500);

    // One clean run.
    let uri = "s3://lake/kinesis-once";
    rig.drain(uri, stream)?;
    landed(uri, &rig.moto)?.same_as(&expected, "the lake differs from the file ingest")?;
    check_order(uri, &rig.moto, &file)?;

    // Killed with SIGKILL at ten random moments, then run to the end.
    let uri = "s3://lake/kinesis-killed";
    let mut rng_state = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..10 {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        let after = Duration::from_millis(500 + rng_state % 2500);
        let mut child = rig.consumer(uri, stream, &[])?;
        std::thread::sleep(after);
        child.kill()?;
        child.wait()?;
        eprintln!("round {round}: killed after {after:?}");
    }
    let before = aws::count(uri, &rig.moto, "SELECT count(*) FROM bronze.events")?;
    ensure!(
        before > 0,
        "no killed run committed anything: the kills proved nothing"
    );
    eprintln!("{before} events committed by the killed runs");
    rig.drain(uri, stream)?;
    landed(uri, &rig.moto)?.same_as(
        &expected,
        "after ten SIGKILLs the lake differs from the file ingest",
    )?;
    check_order(uri, &rig.moto, &file)?;
    Ok(())
}

/// The replay of a batch the Lambda's mapping gave up on (docs/deploy.md): the stage's own
/// consumer never read the first half of the stream (as if its batches had been skipped); a
/// consumer with its own source id, started before them, lands them, and files what was
/// already in the lake as duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_batch_is_replayed_once_under_its_own_source_id() -> Result<()> {
    let rig = rig().await?;
    let stream = "replayed";
    rig.create(stream, 2).await?;
    let clean = ["--bad-ratio", "0"];
    let skipped = rig.generate_with("skipped", 600, 31, &clean)?;
    let read = rig.generate_with("read", 600, 32, &clean)?;
    let before_skipped = chrono::Utc::now() - chrono::Duration::seconds(1);
    rig.put_with(stream, 600, 31, &clean)?;
    std::thread::sleep(Duration::from_secs(2));
    let after_skipped = chrono::Utc::now();
    std::thread::sleep(Duration::from_secs(1));
    rig.put_with(stream, 600, 32, &clean)?;

    let both = rig.dir.path().join("both.ndjson");
    std::fs::write(
        &both,
        [std::fs::read(&skipped)?, std::fs::read(&read)?].concat(),
    )?;
    let expected = reference(&rig, &both)?;
    let read_only = reference(&rig, &read)?;
    let read_events = read_only.events.len();
    ensure!(
        expected.rejected.is_empty() && read_events > 500,
        "a clean workload: {expected:?}"
    );

    let uri = "s3://lake/kinesis-replayed";
    let from = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
    let stage = rig
        .consumer(
            uri,
            stream,
            &[
                "--start",
                "at-timestamp",
                "--timestamp",
                &from(after_skipped),
                "--idle-exit-ms",
                "4000",
            ],
        )?
        .wait()?;
    ensure!(
        stage.success(),
        "the stage's consumer failed: {}",
        rig.logs()
    );
    landed(uri, &rig.moto)?.same_as(
        &read_only,
        "the stage's consumer must land exactly the events after the skipped ones",
    )?;

    let replay = rig
        .consumer(
            uri,
            stream,
            &[
                "--source-id",
                "replay:test",
                "--start",
                "at-timestamp",
                "--timestamp",
                &from(before_skipped),
                "--idle-exit-ms",
                "4000",
            ],
        )?
        .wait()?;
    ensure!(replay.success(), "the replay failed: {}", rig.logs());
    landed(uri, &rig.moto)?.same_as(
        &Landed {
            events: expected.events,
            rejected: vec![vec!["duplicate_event_id".into(), read_events.to_string()]],
        },
        "after the replay",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_split_and_a_merge_during_consumption_lose_and_double_nothing() -> Result<()> {
    let rig = rig().await?;
    let stream = "resharded";
    rig.create(stream, 2).await?;
    let uri = "s3://lake/kinesis-resharded";
    let mut consumer = rig.consumer(uri, stream, &["--idle-exit-ms", "6000"])?;
    let mut files = Vec::new();
    for (i, seed) in [31u64, 32, 33].into_iter().enumerate() {
        files.push(rig.generate(&format!("part{i}"), 800, seed)?);
        rig.put(stream, 800, seed)?;
        let open = rig.open_shards(stream).await?;
        if i == 0 {
            let (id, lo, hi) = &open[0];
            let middle = lo + (hi - lo) / 2;
            rig.client
                .split_shard()
                .stream_name(stream)
                .shard_to_split(id)
                .new_starting_hash_key(middle.to_string())
                .send()
                .await?;
        } else if i == 1 {
            rig.client
                .merge_shards()
                .stream_name(stream)
                .shard_to_merge(&open[0].0)
                .adjacent_shard_to_merge(&open[1].0)
                .send()
                .await?;
        }
        rig.active(stream).await?;
    }
    let status = consumer.wait()?;
    ensure!(status.success(), "the consumer failed: {}", rig.logs());
    // The three parts, in put order, are the reference.
    let all = rig.dir.path().join("all.ndjson");
    let mut text = Vec::new();
    for f in &files {
        text.extend(std::fs::read(f)?);
    }
    std::fs::write(&all, text)?;
    let expected = reference(&rig, &all)?;
    landed(uri, &rig.moto)?
        .same_as(&expected, "the resharded lake differs from the file ingest")?;
    check_order(uri, &rig.moto, &all)?;
    // Every parent's last record landed before any record of its children.
    let shards = rig.client.list_shards().stream_name(stream).send().await?;
    let landed_at: HashMap<String, (i64, i64)> = aws::csv(
        uri,
        &rig.moto,
        "SELECT source_key, CAST(min(ingested_at) AS BIGINT), CAST(max(ingested_at) AS BIGINT) FROM bronze.events GROUP BY source_key",
    )?
    .into_iter()
    .map(|r| (r[0].clone(), (r[1].parse().unwrap(), r[2].parse().unwrap())))
    .collect();
    let mut pairs = 0;
    for s in shards.shards() {
        for parent in s
            .parent_shard_id()
            .into_iter()
            .chain(s.adjacent_parent_shard_id())
        {
            if let (Some(p), Some(c)) = (landed_at.get(parent), landed_at.get(s.shard_id())) {
                ensure!(
                    p.1 <= c.0,
                    "{} landed before its parent {parent} ended",
                    s.shard_id()
                );
                pairs += 1;
            }
        }
    }
    ensure!(pairs >= 3, "only {pairs} parent/child pairs held records");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_consumers_share_a_stream_and_one_takes_over_from_the_other() -> Result<()> {
    let rig = rig().await?;
    let stream = "shared";
    rig.create(stream, 4).await?;
    let uri = "s3://lake/kinesis-shared";
    let file = rig.generate("shared", 2000, 41)?;
    rig.put(stream, 2000, 41)?;
    let leases = ["--lease-table", "eventlake-leases", "--lease-ms", "3000"];
    let mut a = rig.consumer(uri, stream, &[&leases[..], &["--worker", "a"]].concat())?;
    // `b`'s idle clock runs from its last record: it must outlast the balancing, the kill and
    // the expiry of a's leases, which take longer on a loaded machine.
    let b_args = [&leases[..], &["--worker", "b", "--idle-exit-ms", "30000"]].concat();
    let mut b = rig.consumer(uri, stream, &b_args)?;
    // Both own shards (balanced two and two), then `a` dies.
    let owners = lease_owners(&rig, Duration::from_secs(60), |o| {
        o.values().filter(|w| *w == "a").count() == 2
            && o.values().filter(|w| *w == "b").count() == 2
    })
    .await?;
    eprintln!("leases before the kill: {owners:?}");
    a.kill()?;
    a.wait()?;
    // `b` takes over every shard once a's leases expire.
    let owners = lease_owners(&rig, Duration::from_secs(60), |o| {
        o.len() == 4 && o.values().all(|w| w == "b")
    })
    .await?;
    eprintln!("leases after the kill: {owners:?}");
    let status = b.wait()?;
    ensure!(status.success(), "consumer b failed: {}", rig.logs());
    let expected = reference(&rig, &file)?;
    landed(uri, &rig.moto)?.same_as(&expected, "the shared lake differs from the file ingest")?;
    Ok(())
}

/// Polls the lease table until `done` holds for shard → owner; returns that map.
async fn lease_owners(
    rig: &Rig,
    within: Duration,
    done: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<HashMap<String, String>> {
    let config = aws::sdk_config(&rig.moto.endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let started = Instant::now();
    let mut owners = HashMap::new();
    while started.elapsed() < within {
        if let Ok(out) = ddb
            .scan()
            .table_name("eventlake-leases")
            .consistent_read(true)
            .send()
            .await
        {
            owners = out
                .items()
                .iter()
                .filter_map(|i| {
                    let key = i.get("lease_key")?.as_s().ok()?.clone();
                    let owner = i.get("owner")?.as_s().ok()?.clone();
                    (!owner.is_empty()).then_some((key, owner))
                })
                .collect();
            if done(&owners) {
                return Ok(owners);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!(
        "leases never reached the expected owners: {owners:?}\n{}",
        rig.logs()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn enhanced_fan_out_lands_the_same_events() -> Result<()> {
    let rig = rig().await?;
    let stream = "fanout";
    rig.create(stream, 2).await?;
    let file = rig.generate("fanout", 1000, 51)?;
    rig.put(stream, 1000, 51)?;
    let uri = "s3://lake/kinesis-fanout";
    let out = rig
        .consumer(
            uri,
            stream,
            &["--efo", "eventlake-test", "--idle-exit-ms", "5000"],
        )?
        .wait()?;
    ensure!(out.success(), "the EFO consumer failed: {}", rig.logs());
    landed(uri, &rig.moto)?.same_as(
        &reference(&rig, &file)?,
        "the EFO lake differs from the file ingest",
    )?;
    check_order(uri, &rig.moto, &file)?;
    Ok(())
}
