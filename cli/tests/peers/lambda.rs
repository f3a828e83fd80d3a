//! The Lambda function as Lambda runs it: the `bootstrap` binary started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a Lambda Runtime API served here (the HTTP protocol of
//! `provided.al2023`: `invocation/next`, then `response` or `error`), invoked with Kinesis
//! event-source-mapping batches of generated events, writing to a lake on moto's S3. The lake
//! must equal `ingest file` of the same events; a retried batch changes nothing; a batch that
//! cannot be read is an invocation error, and the function goes on to the next one.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::aws::{self, Peer};
use crate::landed::{self, landed};

const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/eventlake-test";

/// What the function answered to one invocation.
#[derive(Debug)]
enum Answer {
    Response(Value),
    Error(Value),
}

/// The Runtime API's state: invocations waiting to be taken, and whoever waits for each answer.
struct Runtime {
    pending: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    answers: std::sync::Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: std::sync::Mutex<Option<String>>,
}

/// `GET /2018-06-01/runtime/invocation/next`: the next event, once there is one.
async fn next(State(rt): State<Arc<Runtime>>) -> (HeaderMap, Bytes) {
    let (id, event) = rt
        .pending
        .lock()
        .await
        .recv()
        .await
        .expect("the test holds the sender while the function runs");
    let deadline = std::time::SystemTime::now() + Duration::from_secs(300);
    let ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:eventlake-test-ingest".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    set("content-type", "application/json".into());
    (headers, event)
}

/// `POST /2018-06-01/runtime/invocation/{id}/response` or `…/error`: the function's answer.
async fn answer(
    State(rt): State<Arc<Runtime>>,
    UrlPath((id, kind)): UrlPath<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = match kind.as_str() {
        "response" => Answer::Response(value),
        "error" => Answer::Error(value),
        _ => return StatusCode::NOT_FOUND,
    };
    match rt.answers.lock().unwrap().remove(&id) {
        Some(waiter) => {
            let _ = waiter.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: Bytes) -> StatusCode {
    *rt.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

/// The function process, killed when dropped, and the Runtime API it polls.
struct Function {
    child: Child,
    runtime: Arc<Runtime>,
    invoke: mpsc::UnboundedSender<(String, Bytes)>,
    log: std::path::PathBuf,
    invocations: u64,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    /// Serves the Runtime API and starts `bootstrap` against it, writing to `lake`.
    async fn start(lake: &str, moto: &Peer, dir: &Path) -> Result<Self> {
        let (invoke, pending) = mpsc::unbounded_channel();
        let runtime = Arc::new(Runtime {
            pending: Mutex::new(pending),
            answers: Default::default(),
            init_error: Default::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(runtime.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let log = dir.join("bootstrap.log");
        let mut cmd = Command::new(bootstrap());
        aws::env(&mut cmd, moto, None);
        let child = cmd
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "eventlake-test-ingest")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/eventlake-test-ingest",
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("EVENTLAKE_LAKE", lake)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", bootstrap().display()))?;
        Ok(Self {
            child,
            runtime,
            invoke,
            log,
            invocations: 0,
        })
    }

    /// One invocation: the event in, the function's answer out.
    async fn invoke(&mut self, event: &Value) -> Result<Answer> {
        self.invocations += 1;
        let id = format!("request-{}", self.invocations);
        let (tx, rx) = oneshot::channel();
        self.runtime.answers.lock().unwrap().insert(id.clone(), tx);
        self.invoke
            .send((id, Bytes::from(serde_json::to_vec(event)?)))?;
        // Until it answers, exits, or two minutes pass.
        let (mut rx, deadline) = (rx, std::time::Instant::now() + Duration::from_secs(120));
        loop {
            match tokio::time::timeout(Duration::from_secs(1), &mut rx).await {
                Ok(Ok(answer)) => return Ok(answer),
                Err(_)
                    if self.child.try_wait()?.is_none() && std::time::Instant::now() < deadline => {
                }
                _ => bail!(
                    "no answer from bootstrap (init error: {:?}; exited: {:?}); its log:\n{}",
                    self.runtime.init_error.lock().unwrap(),
                    self.child.try_wait()?,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ),
            }
        }
    }
}

/// The function binary: Cargo's, or `EVENTLAKE_TEST_BOOTSTRAP` (say, the one in the zip that
/// `infra/build-lambda.sh` built).
fn bootstrap() -> std::path::PathBuf {
    std::env::var_os("EVENTLAKE_TEST_BOOTSTRAP")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_bootstrap").into())
}

/// A mapping's batch: consecutive records of one shard, as Lambda delivers them.
fn batch(shard: usize, first_seq: usize, lines: &[&[u8]]) -> Value {
    let records: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let seq = format!("4959{:052}", first_seq + i);
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("key-{}", first_seq + i),
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(line),
                    "approximateArrivalTimestamp": 1_790_000_000.0 + (first_seq + i) as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-{shard:012}:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/eventlake-test-ingest",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_serves_the_lambda_runtime_api_exactly_once() -> Result<()> {
    let moto = aws::moto().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("events.ndjson");
    let generated = crate::support::workload(&file, 2_000, 41, 0.02)?;
    let expected = landed::reference(&moto, dir.path(), &file)?;
    ensure!(
        expected.events.len() > 1500 && !expected.rejected.is_empty(),
        "a workload with good and bad records: {:?}",
        expected.rejected
    );

    let lake = "s3://lake/lambda";
    let mut function = Function::start(lake, &moto, dir.path()).await?;
    let lines: Vec<&[u8]> = generated.iter().map(|l| l.bytes.as_slice()).collect();
    // Two shards, each line on one of them in file order; batches of 250 per shard.
    let mut shards: [Vec<&[u8]>; 2] = [Vec::new(), Vec::new()];
    for (i, line) in lines.iter().enumerate() {
        shards[i % 2].push(line);
    }
    let mut batches = Vec::new();
    for (shard, records) in shards.iter().enumerate() {
        for (n, chunk) in records.chunks(250).enumerate() {
            batches.push(batch(shard, n * 250, chunk));
        }
    }
    for (n, event) in batches.iter().enumerate() {
        match function.invoke(event).await? {
            Answer::Response(r) => {
                ensure!(r == json!({ "batchItemFailures": [] }), "batch {n}: {r}")
            }
            Answer::Error(e) => bail!("batch {n} failed: {e}"),
        }
    }
    landed(lake, &moto)?.same_as(
        &expected,
        "the lake differs from `ingest file` of the same events",
    )?;

    // The mapping retries a batch that already landed: nothing changes.
    match function.invoke(&batches[1]).await? {
        Answer::Response(r) => ensure!(r == json!({ "batchItemFailures": [] }), "{r}"),
        Answer::Error(e) => bail!("the retried batch failed: {e}"),
    }
    landed(lake, &moto)?.same_as(&expected, "a retried batch changed the lake")?;

    // A batch that cannot be read is an invocation error (Lambda retries it whole); the
    // function takes the next invocation.
    let mut unreadable = batch(0, 10_000, &lines[..1]);
    unreadable["Records"][0]["eventID"] = json!("no-shard");
    match function.invoke(&unreadable).await? {
        Answer::Error(e) => ensure!(
            e.to_string().contains("shard in eventID"),
            "the error says what is wrong: {e}"
        ),
        Answer::Response(r) => bail!("an unreadable batch was answered {r}"),
    }
    match function.invoke(&batches[0]).await? {
        Answer::Response(r) => ensure!(r == json!({ "batchItemFailures": [] }), "{r}"),
        Answer::Error(e) => bail!("the function did not recover: {e}"),
    }
    landed(lake, &moto)?.same_as(&expected, "after the unreadable batch")
}
