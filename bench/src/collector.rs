//! `eventlake-bench collector`: the HTTP collector as one process beside two processes on one
//! lake, in one run, so the cost of exact de-duplication across writers reads as a ratio.
//! Clients post the generated events in batches; with two processes each batch goes to one of
//! them (a load balancer's round robin), and in the contended round to both at once (every event
//! offered twice). Each round checks that `bronze.events` holds every event exactly once.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use bytes::Bytes;
use eventlake_lake::{Lake, query};

use crate::args::CollectorBenchArgs;

/// A collector process, killed when dropped.
struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(args: &CollectorBenchArgs) -> Result<()> {
    let (dir, input) = crate::input(&args.bench)?;
    let text = Bytes::from(std::fs::read(&input)?);
    let lines: Vec<Bytes> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| text.slice_ref(l))
        .collect();
    let batches: Arc<Vec<Bytes>> = Arc::new(
        lines
            .chunks(args.batch.max(1))
            .map(|chunk| {
                let mut body = Vec::new();
                for line in chunk {
                    body.extend_from_slice(line);
                    body.push(b'\n');
                }
                Bytes::from(body)
            })
            .collect(),
    );
    println!(
        "input: {} ({} events, {} batches of {}, {} clients)",
        input.display(),
        lines.len(),
        batches.len(),
        args.batch,
        args.clients
    );
    let mut baseline = None;
    for (label, processes, both) in [
        ("one process", 1, false),
        ("two processes, each batch to one", 2, false),
        ("two processes, each batch to both", 2, true),
    ] {
        let lake_dir = dir.join(format!("collector-lake-{processes}-{both}"));
        let _ = std::fs::remove_dir_all(&lake_dir);
        let lake = Lake::new(lake_dir.to_str().context("lake path is not UTF-8")?)?;
        let client = reqwest::Client::new();
        let mut running = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..processes {
            let (process, url) = start(&lake_dir)?;
            running.push(process);
            urls.push(url);
        }
        for url in &urls {
            wait_until_up(&client, url).await?;
        }
        let started = Instant::now();
        let mut clients = Vec::new();
        for c in 0..args.clients.max(1) {
            let (client, urls, batches) = (client.clone(), urls.clone(), batches.clone());
            let step = args.clients.max(1);
            clients.push(tokio::spawn(async move {
                for i in (c..batches.len()).step_by(step) {
                    let targets: Vec<&String> = if both {
                        urls.iter().collect()
                    } else {
                        vec![&urls[i % urls.len()]]
                    };
                    let sends = targets
                        .into_iter()
                        .map(|url| post(&client, url, &batches[i]));
                    for sent in futures::future::join_all(sends).await {
                        sent?;
                    }
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for client in clients {
            client.await??;
        }
        let elapsed = started.elapsed();
        drop(running);
        let ctx = query::session(&lake).await?;
        let counts = ctx
            .sql("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM bronze.events")
            .await?
            .collect()
            .await?;
        let text = arrow::util::pretty::pretty_format_batches(&counts)?.to_string();
        let expected = format!("| {} | {} |", lines.len(), lines.len());
        ensure!(
            text.contains(&expected),
            "{label}: bronze.events is not every event once:\n{text}"
        );
        let rate = lines.len() as f64 / elapsed.as_secs_f64();
        let ratio = baseline.map_or(String::new(), |b: f64| {
            format!(" ({:.2}× one process)", rate / b)
        });
        baseline.get_or_insert(rate);
        println!(
            "{label}: {} events stored once in {:.2} s = {rate:.0} events/s{ratio}",
            lines.len(),
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn start(lake: &std::path::Path) -> Result<(Collector, String)> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let child = crate::product()?
        .arg("--lake")
        .arg(lake)
        .args(["ingest", "http", "--listen", &addr.to_string()])
        .env("RUST_LOG", "error,deltalake_core::kernel::transaction=off")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting eventlake ingest http")?;
    Ok((Collector(child), format!("http://{addr}/v1/events")))
}

async fn wait_until_up(client: &reqwest::Client, url: &str) -> Result<()> {
    for _ in 0..600 {
        if client.post(url).body("[]").send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} never came up")
}

/// Posts one batch until every record is stored (`retry` records are sent again).
async fn post(client: &reqwest::Client, url: &str, body: &Bytes) -> Result<()> {
    let mut body = body.clone();
    for _ in 0..50 {
        let answer: serde_json::Value = client
            .post(url)
            .body(body.clone())
            .send()
            .await?
            .json()
            .await?;
        let results = answer["data"]["results"]
            .as_array()
            .with_context(|| format!("no results: {answer}"))?;
        let lines: Vec<&[u8]> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut again = Vec::new();
        for (result, line) in results.iter().zip(lines) {
            match result["status"].as_str() {
                Some("accepted" | "duplicate") => {}
                Some("retry") => {
                    again.extend_from_slice(line);
                    again.push(b'\n');
                }
                other => bail!("unexpected status {other:?}: {result}"),
            }
        }
        if again.is_empty() {
            return Ok(());
        }
        body = Bytes::from(again);
    }
    bail!("records were never stored")
}
