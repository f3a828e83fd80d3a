//! The polling reader against recorded Kinesis responses (what the service answers when it
//! throttles and when an iterator expires, which no local emulator does), served over HTTP to
//! the real SDK client: the reader backs off, gets a fresh iterator just after the last record it
//! read, keeps to five calls per second, and stops at the shard's end with its children.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{Credentials, Region};
use axum::http::{HeaderMap, StatusCode};
use eventlake_ingest::source::kinesis::shard::{Message, poll};
use eventlake_ingest::source::kinesis::{Aws, Start};
use serde_json::{Value, json};

const SEQ: [&str; 3] = [
    "49590338271490256608559692538361571095921575989136588801",
    "49590338271490256608559692538361571095921575989136588802",
    "49590338271490256608559692538361571095921575989136588803",
];

/// A record whose data is one of `a`, `b`, `c` (base64 on the wire).
fn record(seq: &str, data: &str) -> Value {
    let base64 = match data {
        "a" => "YQ==",
        "b" => "Yg==",
        _ => "Yw==",
    };
    json!({
        "SequenceNumber": seq,
        "ApproximateArrivalTimestamp": 1.764e9,
        "Data": base64,
        "PartitionKey": "u1"
    })
}

fn error(kind: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": message}))
}

/// The recorded exchange: (operation, status, body), in order.
fn script() -> VecDeque<(&'static str, u16, Value)> {
    let throttled = error(
        "ProvisionedThroughputExceededException",
        "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012.",
    );
    let expired = error(
        "ExpiredIteratorException",
        "Iterator expired. The iterator was created at time Tue Nov 25 10:00:00 UTC 2026 while right now it is Tue Nov 25 10:05:01 UTC 2026 which is further in the future than the tolerated delay of 300000 milliseconds.",
    );
    VecDeque::from([
        ("GetShardIterator", 200, json!({"ShardIterator": "it-1"})),
        ("GetRecords", throttled.0, throttled.1.clone()),
        ("GetRecords", throttled.0, throttled.1),
        (
            "GetRecords",
            200,
            json!({"Records": [record(SEQ[0], "a"), record(SEQ[1], "b")], "NextShardIterator": "it-2", "MillisBehindLatest": 4000}),
        ),
        ("GetRecords", expired.0, expired.1),
        ("GetShardIterator", 200, json!({"ShardIterator": "it-3"})),
        (
            "GetRecords",
            200,
            json!({"Records": [record(SEQ[2], "c")], "MillisBehindLatest": 0, "ChildShards": [
                {"ShardId": "shardId-000000000002", "ParentShards": ["shardId-000000000000"],
                 "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "170141183460469231731687303715884105727"}}
            ]}),
        ),
    ])
}

#[derive(Default)]
struct Peer {
    script: Mutex<VecDeque<(&'static str, u16, Value)>>,
    seen: Mutex<Vec<(String, Value, Instant)>>,
}

async fn serve(peer: Arc<Peer>) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let peer = peer.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let op = target.rsplit('.').next().unwrap_or_default().to_owned();
                let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                peer.seen.lock().unwrap().push((op.clone(), request, Instant::now()));
                let next = peer.script.lock().unwrap().pop_front();
                let (status, body) = match next {
                    Some((expected, status, body)) if expected == op => (status, body),
                    other => (500, json!({"__type": "InternalFailure", "message": format!("unexpected {op}, script had {other:?}")})),
                };
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/x-amz-json-1.1")],
                    body.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn throttling_and_an_expired_iterator_neither_lose_nor_repeat_records() {
    let peer = Arc::new(Peer {
        script: Mutex::new(script()),
        ..Peer::default()
    });
    let endpoint = serve(peer.clone()).await;
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        // The reader's own backoff is under test, not the SDK's retries.
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    let aws = Arc::new(Aws {
        client: aws_sdk_kinesis::Client::from_conf(config),
        stream: "s".into(),
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(poll(
        aws,
        Arc::from("shardId-000000000000"),
        1,
        Start::TrimHorizon,
        1 << 20,
        tx,
    ));
    let mut data = Vec::new();
    let mut children = None;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
    {
        match m {
            Message::Records { records, .. } => data.extend(
                records
                    .iter()
                    .map(|r| (r.record.position.clone(), r.record.bytes.clone())),
            ),
            Message::Ended { children: c, .. } => children = Some(c),
            Message::Failed { error, .. } => panic!("the reader gave up: {error}"),
        }
    }
    reader.await.unwrap();
    assert_eq!(
        data,
        [(SEQ[0], "a"), (SEQ[1], "b"), (SEQ[2], "c")]
            .map(|(s, d)| (s.to_owned(), bytes::Bytes::from(d)))
    );
    assert_eq!(children, Some(vec!["shardId-000000000002".to_owned()]));
    assert!(
        peer.script.lock().unwrap().is_empty(),
        "the exchange stopped early"
    );

    let seen = peer.seen.lock().unwrap();
    // The first iterator starts at the requested position; after the expiry the fresh one
    // starts just after the last record read.
    assert_eq!(seen[0].1["ShardIteratorType"], "TRIM_HORIZON");
    assert_eq!(seen[5].1["ShardIteratorType"], "AFTER_SEQUENCE_NUMBER");
    assert_eq!(seen[5].1["StartingSequenceNumber"], SEQ[1]);
    // Throttled calls are retried with the same iterator.
    assert_eq!(seen[1].1["ShardIterator"], "it-1");
    assert_eq!(seen[3].1["ShardIterator"], "it-1");
    // Never more than five GetRecords a second: consecutive calls are at least 200 ms apart
    // (a lower bound set by the reader's own sleeps, so it cannot be broken by a slow machine).
    let calls: Vec<Instant> = seen
        .iter()
        .filter(|s| s.0 == "GetRecords")
        .map(|s| s.2)
        .collect();
    for pair in calls.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(195),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}
