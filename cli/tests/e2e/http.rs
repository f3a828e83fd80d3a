//! The HTTP collector under 100 concurrent clients, some of which retry batches: every
//! acknowledged event is in `bronze.events` exactly once; bad bodies get 400 and 413.

use std::collections::HashMap;
use std::sync::Arc;

use crate::support::{rows, scalar};
use eventlake_ingest::source::http::{self, HttpConfig};
use eventlake_lake::{IngestConfig, Lake};
use rand::{Rng, SeedableRng};

const CLIENTS: usize = 100;

async fn start(
    lake: &std::path::Path,
    max_body_bytes: usize,
) -> anyhow::Result<(
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<eventlake_ingest::Result<()>>,
)> {
    let lake = Lake::new(lake.to_str().unwrap())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/events", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = IngestConfig {
        flush_records: 3_000,
        flush_age_ms: 100,
        ..IngestConfig::default()
    };
    let server = tokio::spawn(async move {
        http::serve(
            &lake,
            listener,
            config,
            HttpConfig {
                max_body_bytes,
                ..HttpConfig::default()
            },
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    Ok((url, stop, server))
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_every_acknowledged_event_exactly_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let lake = dir.path().join("lake");
    let lines = crate::support::workload(&dir.path().join("e.ndjson"), 20_000, 21, 0.05)?;
    let (url, stop, server) = start(&lake, 1 << 20).await?;
    let client = reqwest::Client::new();
    let lines = Arc::new(lines);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url, lines) = (client.clone(), url.clone(), lines.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            let mine: Vec<&eventlake_workload::Line> =
                lines.iter().skip(c).step_by(CLIENTS).collect();
            let mut acknowledged: Vec<String> = Vec::new();
            let mut accepted = 0usize;
            for batch in mine.chunks(rng.random_range(5..60)) {
                let all_json = batch
                    .iter()
                    .all(|l| serde_json::from_slice::<serde_json::Value>(&l.bytes).is_ok());
                let body = if all_json && rng.random_bool(0.3) {
                    let items: Vec<&str> = batch
                        .iter()
                        .map(|l| std::str::from_utf8(&l.bytes).unwrap())
                        .collect();
                    format!("[{}]", items.join(","))
                } else {
                    batch
                        .iter()
                        .map(|l| String::from_utf8_lossy(&l.bytes).into_owned() + "\n")
                        .collect()
                };
                // Some clients "lose" the answer and send the same batch again.
                let sends = if rng.random_bool(0.15) { 2 } else { 1 };
                for _ in 0..sends {
                    let response = client.post(&url).body(body.clone()).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let answer: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(answer["success"], true, "{answer}");
                    let results = answer["data"]["results"].as_array().unwrap();
                    assert_eq!(results.len(), batch.len());
                    for r in results {
                        match r["status"].as_str().unwrap() {
                            "accepted" => {
                                accepted += 1;
                                acknowledged.push(r["event_id"].as_str().unwrap().to_owned());
                            }
                            "duplicate" => {
                                acknowledged.push(r["event_id"].as_str().unwrap().to_owned())
                            }
                            "rejected" => assert!(r["reason"].is_string(), "{r}"),
                            other => panic!("unexpected status {other}: {r}"),
                        }
                    }
                }
            }
            (acknowledged, accepted)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut accepted = 0;
    for task in tasks {
        let (ids, n) = task.await?;
        acknowledged.extend(ids);
        accepted += n;
    }
    let _ = stop.send(());
    server.await??;

    let counts: HashMap<String, i64> = rows(
        &lake,
        "SELECT event_id, count(*) FROM bronze.events GROUP BY event_id",
    )
    .await?
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap()))
    .collect();
    for id in &acknowledged {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "acknowledged event {id} is not in the lake exactly once"
        );
    }
    let total = scalar(&lake, "SELECT count(*) FROM bronze.events").await?;
    assert_eq!(
        total as usize, accepted,
        "every row in bronze.events was acknowledged as accepted once"
    );
    assert!(accepted > 15_000, "too few accepted: {accepted}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_clear_errors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, stop, server) = start(&dir.path().join("lake"), 4096).await?;
    let client = reqwest::Client::new();
    let not_json = client
        .post(&url)
        .body("hello, this is not JSON")
        .send()
        .await?;
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await?;
    assert_eq!(body["errors"][0]["code"], "VALIDATION_ERROR", "{body}");
    let broken_array = client.post(&url).body("[{\"a\": 1},").send().await?;
    assert_eq!(broken_array.status(), 400);
    let too_big = client.post(&url).body(vec![b' '; 10_000]).send().await?;
    assert_eq!(too_big.status(), 413);
    // An empty array is answered at once (nothing to wait for).
    let empty = client.post(&url).body("[]").send().await?;
    assert_eq!(empty.status(), 200);
    let body: serde_json::Value = empty.json().await?;
    assert_eq!(body["data"]["results"], serde_json::json!([]), "{body}");
    // A bad record inside a good body is quarantined, not a request error.
    let mixed = client.post(&url).body("{\"event_id\": 1}\n").send().await?;
    assert_eq!(mixed.status(), 200);
    let body: serde_json::Value = mixed.json().await?;
    assert_eq!(
        body["data"]["results"][0]["reason"], "missing_field",
        "{body}"
    );
    let _ = stop.send(());
    server.await??;
    Ok(())
}
