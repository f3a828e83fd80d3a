//! Several collector processes on one lake, as serving replicas behind a load balancer run
//! them: two `ingest http`, two `serve`, and one of each, all started at once on an empty lake.
//! An event already committed by one process is a duplicate at the other; ids sent to both
//! processes at once, and again, are in `bronze.events` exactly once, with exactly one
//! `accepted` answer each and every other answer `duplicate` (stored).

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Running, eventlake, free_port, rows, scalar};
use anyhow::{Context as _, Result, bail, ensure};
use eventlake_serving_api::auth::{Claims, sign};

const SECRET: &str = "replicas-secret-0123456789";
const TENANT: &str = "t1";

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `eventlake ingest http`
    Collector,
    /// `eventlake serve` (its collector at the same route, behind a token)
    Serve,
}

fn token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = Claims {
        sub: "replicas".into(),
        tenant_id: TENANT.into(),
        roles: vec!["analyst".into()],
        exp: now + 3600,
    };
    sign(SECRET.as_bytes(), &claims)
}

fn start(lake: &std::path::Path, kind: Kind) -> Result<(Running, String)> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let mut cmd = eventlake(lake);
    match kind {
        Kind::Collector => cmd.args(["ingest", "http", "--listen", &addr, "--flush-age-ms", "50"]),
        Kind::Serve => cmd
            .args(["serve", "--listen", &addr, "--jwt-secret", SECRET])
            .args(["--rate-limit", "0", "--reload-ms", "60000"]),
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {kind:?}"))?;
    Ok((Running(child), format!("http://{addr}/v1/events")))
}

async fn wait_until_up(client: &reqwest::Client, url: &str) -> Result<()> {
    for _ in 0..600 {
        let probe = client
            .post(url)
            .bearer_auth(token())
            .body("[]")
            .send()
            .await;
        if probe.is_ok_and(|r| r.status() != 502) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} never came up")
}

/// Posts with a tenant token until every event is stored; each id's final status.
async fn post(client: &reqwest::Client, url: &str, ids: &[String]) -> Result<Vec<String>> {
    crate::support::post_until_stored(client, url, Some(&token()), ids).await
}

async fn two_writers(first: Kind, second: Kind) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let (_a, a) = start(&lake, first)?;
    let (_b, b) = start(&lake, second)?;
    let client = reqwest::Client::new();
    wait_until_up(&client, &a).await?;
    wait_until_up(&client, &b).await?;

    // B holds day 3's ids before A commits X; then X at B is a duplicate, not a second copy.
    let one = |id: &str| vec![id.to_owned()];
    ensure!(post(&client, &b, &one("y")).await? == ["accepted"]);
    ensure!(post(&client, &a, &one("x")).await? == ["accepted"]);
    let again = post(&client, &b, &one("x")).await?;
    ensure!(
        again == ["duplicate"],
        "{first:?}+{second:?}: x at B: {again:?}"
    );

    // Every id to both processes at once, twice, in batches.
    let ids: Vec<String> = (0..400).map(|i| format!("id-{i}")).collect();
    let mut sends = Vec::new();
    for round in 0..2 {
        for batch in ids.chunks(20) {
            for url in [&a, &b] {
                let (client, url, batch) = (client.clone(), url.clone(), batch.to_vec());
                sends.push(tokio::spawn(async move {
                    let statuses = post(&client, &url, &batch).await?;
                    Ok::<_, anyhow::Error>((round, batch, statuses))
                }));
            }
        }
    }
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for send in sends {
        let (_, batch, statuses) = send.await??;
        for (id, status) in batch.into_iter().zip(statuses) {
            *accepted.entry(id).or_default() += usize::from(status == "accepted");
        }
    }
    let wrong: Vec<_> = accepted.iter().filter(|(_, n)| **n != 1).collect();
    ensure!(
        wrong.is_empty(),
        "{first:?}+{second:?}: accepted ≠ once: {wrong:?}"
    );

    // Stored: each id once (the processes flush within 50 ms; the answers came after).
    let doubled = rows(
        &lake,
        "SELECT event_id, count(*) FROM bronze.events GROUP BY event_id HAVING count(*) > 1",
    )
    .await?;
    ensure!(
        doubled.is_empty(),
        "{first:?}+{second:?}: doubled: {doubled:?}"
    );
    let total = scalar(&lake, "SELECT count(*) FROM bronze.events").await?;
    ensure!(total == 402, "{first:?}+{second:?}: {total} events");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_collectors_store_every_event_once() -> Result<()> {
    two_writers(Kind::Collector, Kind::Collector).await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_serving_replicas_store_every_event_once() -> Result<()> {
    two_writers(Kind::Serve, Kind::Serve).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_and_a_collector_store_every_event_once() -> Result<()> {
    two_writers(Kind::Serve, Kind::Collector).await
}
