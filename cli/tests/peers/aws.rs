//! Local AWS peers for the end-to-end tests, started by the test and killed when dropped:
//! moto (S3, DynamoDB, Glue and Athena, single-threaded: the threaded server loses requests;
//! `moto_server.py` adds Athena's paging and failed queries) and kinesis-mock
//! (`EVENTLAKE_TEST_KINESIS_MOCK`, the `main.js` of the npm package `kinesis-local`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{binary, free_port, python, run_ok};
use anyhow::{Context as _, Result, bail, ensure};
use aws_sdk_glue::config::{Credentials, Region};

/// A child process killed when dropped.
pub struct Peer {
    child: Child,
    pub endpoint: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's server, with Athena's paging and failed queries (see the file).
const MOTO: &str = include_str!("moto_server.py");

/// moto with the bucket `lake` created.
pub async fn moto() -> Result<Peer> {
    let port = free_port()?;
    let child = Command::new(python(&["moto", "werkzeug"]))
        .args(["-c", MOTO, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto")?;
    let moto = Peer {
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

/// kinesis-mock on a free port, resharding and consumer registration made quick.
pub async fn kinesis_mock() -> Result<Peer> {
    let main = std::env::var("EVENTLAKE_TEST_KINESIS_MOCK")
        .unwrap_or_else(|_| "/var/tmp/eventlake-kinesis/node_modules/kinesis-local/main.js".into());
    let main = std::path::PathBuf::from(main);
    ensure!(
        main.exists(),
        "{} not found: `npm install --prefix /var/tmp/eventlake-kinesis kinesis-local` (.ci/run \
         does) or set EVENTLAKE_TEST_KINESIS_MOCK",
        main.display()
    );
    let cert = main.with_file_name("server.json");
    let (port, tls) = (free_port()?, free_port()?);
    let child = Command::new("node")
        .arg(&main)
        .env("KINESIS_MOCK_CERT_PATH", cert)
        .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
        .env("KINESIS_MOCK_TLS_PORT", tls.to_string())
        .env("LOG_LEVEL", "WARN")
        .envs(
            [
                "CREATE_STREAM_DURATION",
                "SPLIT_SHARD_DURATION",
                "MERGE_SHARDS_DURATION",
                "UPDATE_SHARD_COUNT_DURATION",
                "REGISTER_STREAM_CONSUMER_DURATION",
                "DELETE_STREAM_DURATION",
            ]
            .map(|k| (k, "50ms")),
        )
        .env("SHARD_LIMIT", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting kinesis-mock (node)")?;
    let peer = Peer {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(peer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("kinesis-mock never listened")
}

/// An SDK configuration for a peer at `endpoint`, with the test credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        // Every SDK crate re-exports the same credentials and region types.
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The standard AWS environment pointing at the peers.
pub fn env(cmd: &mut Command, moto: &Peer, kinesis: Option<&Peer>) {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(k) = kinesis {
        cmd.env("AWS_ENDPOINT_URL_KINESIS", &k.endpoint);
    }
}

/// `eventlake --lake URI …` with the AWS environment pointing at the peers.
pub fn eventlake(uri: &str, moto: &Peer, kinesis: Option<&Peer>) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--lake").arg(uri).env("RUST_LOG", "error");
    env(&mut cmd, moto, kinesis);
    cmd
}

/// Rows of a query over the lake at `uri`, through `eventlake sql --format csv` (header
/// dropped; no field may hold a comma).
pub fn csv(uri: &str, moto: &Peer, query: &str) -> Result<Vec<Vec<String>>> {
    let out = run_ok(eventlake(uri, moto, None).args(["sql", "--format", "csv", query]))?;
    let text = String::from_utf8(out.stdout)?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect())
}

/// One integer from a query.
pub fn count(uri: &str, moto: &Peer, query: &str) -> Result<u64> {
    let rows = csv(uri, moto, query)?;
    rows.first()
        .and_then(|r| r.first())
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no count from {query:?}: {rows:?}"))
}
