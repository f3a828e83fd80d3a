//! The lake in S3 (moto, started here): ingest lands every event exactly once, a rerun writes
//! nothing, two writers committing to the same tables at once both land whole, and the job
//! graph runs — every command exactly as with a local path.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use eventlake_tests::{binary, python, run_ok};

/// moto's S3, single-threaded (the threaded server loses requests), killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVER: &str = "import sys\n\
from werkzeug.serving import run_simple\n\
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n\
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)\n";

async fn moto() -> Result<Moto> {
    let python = python(&["moto", "werkzeug"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(python)
        .args(["-c", SERVER, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto")?;
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client
            .get(format!("{}/moto-api/data.json", moto.endpoint))
            .send()
            .await
            && r.status().is_success()
        {
            let made = client.put(format!("{}/lake", moto.endpoint)).send().await?;
            ensure!(
                made.status().is_success(),
                "creating the bucket: {}",
                made.status()
            );
            return Ok(moto);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("moto never answered")
}

/// `eventlake --lake URI …` with the AWS environment pointing at moto.
fn eventlake(moto: &Moto, uri: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--lake")
        .arg(uri)
        .env("RUST_LOG", "error")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn count(moto: &Moto, uri: &str, table: &str) -> Result<u64> {
    let out = run_ok(eventlake(moto, uri).args([
        "sql",
        "--format",
        "csv",
        &format!("SELECT count(*) FROM {table}"),
    ]))?;
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .with_context(|| format!("no count in {text:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_lake_works_like_a_local_one() -> Result<()> {
    let moto = moto().await?;
    let dir = tempfile::tempdir()?;
    let uri = "s3://lake/prefix";
    let (first, second) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    let a = eventlake_tests::workload(&first, 3_000, 5, 0.02)?;
    let b = eventlake_tests::workload(&second, 3_000, 6, 0.02)?;
    // Two writers at once, committing to the same bronze tables.
    let spawn = |file: &std::path::Path| -> Result<Child> {
        Ok(eventlake(&moto, uri)
            .args(["ingest", "file"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?)
    };
    let (one, two) = (spawn(&first)?, spawn(&second)?);
    for child in [one, two] {
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stored = count(&moto, uri, "bronze.events")? + count(&moto, uri, "bronze.events_rejected")?;
    ensure!(
        stored as usize == a.len() + b.len(),
        "{stored} rows for {} lines",
        a.len() + b.len()
    );
    // A rerun finds both checkpoints and writes nothing.
    run_ok(eventlake(&moto, uri).args(["ingest", "file"]).arg(&first))?;
    let again = count(&moto, uri, "bronze.events")? + count(&moto, uri, "bronze.events_rejected")?;
    ensure!(
        again == stored,
        "the rerun changed the lake: {stored} → {again}"
    );
    run_ok(eventlake(&moto, uri).args(["jobs", "run", "--as-of", "2026-11-01"]))?;
    ensure!(count(&moto, uri, "gold.metrics_active_users")? > 0);
    ensure!(
        count(&moto, uri, "silver.sessions")? > 0 || count(&moto, uri, "silver.donations")? > 0
    );
    Ok(())
}
