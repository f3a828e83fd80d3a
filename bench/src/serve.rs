//! `eventlake-bench serve`: `GET /v1/opportunities/{id}/matches` under `wrk`, beside an axum
//! hello-world endpoint served by the same process in the same run, at peak load and at half
//! of the API's peak; and the snapshot's memory per million matches.
//!
//! The lake holds synthetic `gold.matches` (20 candidates per opportunity in two roles, with
//! three reasons each, shaped as the matching job writes them). Every API request carries a
//! bearer token that the server verifies; rate limits are off.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use eventlake_lake::{Lake, TableName};
use eventlake_matching::output::{MatchRow, ReasonRow, matches_schema, to_batches};
use eventlake_serving_api::auth::{Auth, Claims, sign};
use eventlake_serving_api::{AppState, Config, router, snapshot};

use crate::args::ServeBenchArgs;

const SECRET: &[u8] = b"bench-secret-0123456789";
const TENANT: &str = "bench";
/// Candidates per opportunity.
const PER_OPPORTUNITY: u64 = 20;
/// The pause (ms) after each answer in the half-load run.
const PACE_MS: f64 = 2.0;

fn row(opportunity: u64, rank: u64) -> MatchRow {
    let reason = |factor: &str, text: &str| ReasonRow {
        factor: factor.into(),
        score: 0.8,
        weight: 0.3,
        text: text.into(),
    };
    MatchRow {
        tenant_id: TENANT.into(),
        opportunity_id: format!("opp_{opportunity:016x}"),
        candidate_id: format!("pty_{:016x}", opportunity * 7919 + rank),
        model: "project".into(),
        sub_model: "consortium".into(),
        role: if rank.is_multiple_of(2) {
            "BIM coordinator"
        } else {
            "Structural engineer"
        }
        .into(),
        score: 0.9 - rank as f64 / 100.0,
        fit: 0.9 - rank as f64 / 100.0,
        interest: None,
        rank: (rank / 2 + 1) as i64,
        reasons: vec![
            reason("skills", "covers 2 of 2 required skills at the level asked"),
            reason("distance", "12 km away, within the 100 km radius"),
            reason("availability", "available for 100% of the dates"),
        ],
        run_id: "38be9436-5d44-4ef7-a54f-ecdf6a648af8".into(),
    }
}

/// Writes `matches` synthetic matches to `gold.matches`, a million at a time.
async fn build(dir: &Path, matches: u64) -> Result<Lake> {
    let lake = Lake::new(dir.to_str().context("non-UTF-8 directory")?)?;
    let table = TableName::new("gold", "matches").map_err(anyhow::Error::msg)?;
    let schema = matches_schema();
    let delta = lake.open_or_create(&table, &schema, &[], "bench").await?;
    if delta.version().unwrap_or_default() > 0 {
        return Ok(lake);
    }
    let opportunities = matches / PER_OPPORTUNITY;
    let mut delta = delta;
    for start in (0..opportunities).step_by(50_000) {
        let end = (start + 50_000).min(opportunities);
        let rows = (start..end).flat_map(|o| (0..PER_OPPORTUNITY).map(move |r| row(o, r)));
        delta = delta.write(to_batches(&schema, rows)?).await?;
    }
    Ok(lake)
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn millis(text: &str) -> Option<f64> {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| text.split_at(i))?;
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn parse(output: &str) -> Result<Run> {
    let value = |prefix: &str| {
        output
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    };
    let rps = value("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context("no Requests/sec in wrk's output")?;
    let p50 = value("50%").and_then(|v| millis(&v)).context("no p50")?;
    let p99 = value("99%").and_then(|v| millis(&v)).context("no p99")?;
    Ok(Run {
        rps,
        p50_ms: p50,
        p99_ms: p99,
    })
}

/// Runs wrk with `script` against `url`.
fn wrk(url: &str, script: &Path, connections: u32, seconds: u64) -> Result<Run> {
    let output = Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (Debian package `wrk`)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let non_2xx = text.lines().find(|l| l.contains("Non-2xx"));
    if let Some(line) = non_2xx {
        bail!("wrk saw error answers ({line}): the benchmark would measure errors");
    }
    parse(&text)
}

/// A wrk script: requests cycle through `paths`, with `header`, paced by `delay_ms`.
fn script(
    dir: &Path,
    name: &str,
    paths: &[String],
    header: Option<&str>,
    delay_ms: f64,
) -> Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let mut f = std::fs::File::create(&path)?;
    writeln!(f, "local paths = {{")?;
    for p in paths {
        writeln!(f, "  \"{p}\",")?;
    }
    writeln!(f, "}}\nlocal i = 0")?;
    if let Some(h) = header {
        writeln!(f, "wrk.headers[\"Authorization\"] = \"{h}\"")?;
    }
    writeln!(
        f,
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend"
    )?;
    if delay_ms > 0.0 {
        writeln!(f, "delay = function()\n  return {delay_ms:.0}\nend")?;
    }
    Ok(path)
}

pub async fn run(args: &ServeBenchArgs) -> Result<()> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("eventlake-bench-serve-{}", args.matches)),
    };
    std::fs::create_dir_all(&dir)?;
    println!(
        "building gold.matches with {} matches in {}",
        args.matches,
        dir.display()
    );
    let lake = build(&dir.join("lake"), args.matches).await?;
    let before = rss();
    let snapshot = snapshot::load(&lake)
        .await
        .map_err(|e| anyhow::anyhow!("loading the snapshot: {e}"))?;
    let after = rss();
    let millions = args.matches as f64 / 1e6;
    println!(
        "snapshot: {} matches, estimated {:.0} MB, resident growth {:.0} MB → {:.0} MB per million matches (estimate {:.0})",
        args.matches,
        snapshot.bytes as f64 / 1e6,
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) as f64 / 1e6 / millions,
        snapshot.bytes as f64 / 1e6 / millions,
    );
    let config = Config {
        rate_per_second: 0.0,
        ..Config::default()
    };
    let state = AppState::new(snapshot, Auth::hs256(SECRET), config, None);
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (api_addr, hello_addr) = (api.local_addr()?, hello.local_addr()?);
    tokio::spawn(async move { axum::serve(api, router(Arc::clone(&state))).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let opportunities = args.matches / PER_OPPORTUNITY;
    let paths: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "/v1/opportunities/opp_{:016x}/matches?k=10",
                (i * 7_919_u64) % opportunities.max(1)
            )
        })
        .collect();
    let claims = Claims {
        sub: "bench".into(),
        tenant_id: TENANT.into(),
        roles: vec![],
        exp: (chrono::Utc::now().timestamp() + 24 * 3600) as u64,
    };
    let bearer = format!("Bearer {}", sign(SECRET, &claims));
    // The references: hello-world, and a fixed body as long as one API answer.
    let sample = reqwest::Client::new()
        .get(format!("http://{api_addr}{}", paths[0]))
        .header("authorization", &bearer)
        .send()
        .await?
        .text()
        .await?;
    println!("one API answer: {} bytes", sample.len());
    let hello_app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "Hello, World!" }))
        .route(
            "/same",
            axum::routing::get(move || async move { sample.clone() }),
        );
    tokio::spawn(async move { axum::serve(hello, hello_app).await });
    let work = dir.clone();
    let (c, secs) = (args.connections, args.seconds);
    let api_url = format!("http://{api_addr}");
    let hello_url = format!("http://{hello_addr}/");
    let figures = tokio::task::spawn_blocking(move || -> Result<([Run; 4], u32)> {
        let hello_script = script(&work, "hello", &["/".to_owned()], None, 0.0)?;
        let same_script = script(&work, "same", &["/same".to_owned()], None, 0.0)?;
        let api_script = script(&work, "api", &paths, Some(&bearer), 0.0)?;
        let hello = wrk(&hello_url, &hello_script, c, secs)?;
        let same = wrk(&hello_url, &same_script, c, secs)?;
        let api = wrk(&api_url, &api_script, c, secs)?;
        // Half of the API's peak: every connection waits PACE_MS after each answer (wrk's
        // timers count whole milliseconds), so the rate is set by the number of connections;
        // a second run corrects it by what the first achieved.
        let target = api.rps / 2.0;
        let paced = script(&work, "api-half", &paths, Some(&bearer), PACE_MS)?;
        let mut connections = (target * (PACE_MS + api.p50_ms) / 1000.0).ceil();
        let mut half = None;
        for _ in 0..2 {
            let n = connections.clamp(2.0, 2000.0) as u32;
            let run = wrk(&api_url, &paced, n, secs)?;
            connections = f64::from(n) * target / run.rps.max(1.0);
            half = Some((n, run));
        }
        let (n, half) = half.context("no paced run")?;
        Ok(([hello, same, api, half], n))
    })
    .await??;
    let ([hello, same, api, half], half_connections) = figures;
    println!("\n| endpoint | connections | requests/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, conns, r) in [
        ("axum hello-world (same process)", c, hello),
        ("axum, a fixed body of the API answer's size", c, same),
        ("GET /v1/opportunities/{id}/matches?k=10", c, api),
        (
            "the same, paced to half of its peak",
            half_connections,
            half,
        ),
    ] {
        println!(
            "| {name} | {conns} | {:.0} | {:.2} | {:.2} |",
            r.rps, r.p50_ms, r.p99_ms
        );
    }
    println!(
        "\nAPI throughput = {:.0}% of hello-world (target ≥ 70%), {:.0}% of the fixed body of the same size; p99 at {:.0} requests/s ({:.0}% of peak) {:.2} ms (target < 5 ms)",
        100.0 * api.rps / hello.rps,
        100.0 * api.rps / same.rps,
        half.rps,
        100.0 * half.rps / api.rps,
        half.p99_ms
    );
    Ok(())
}
