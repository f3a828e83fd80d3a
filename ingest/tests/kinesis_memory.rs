//! The Kinesis consumer over an in-process stream that was split and merged: every record lands
//! exactly once, parents before children, and a second run finds everything committed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eventlake_ingest::source::kinesis::memory::Memory;
use eventlake_ingest::source::kinesis::{KinesisInput, Metrics, Shard, Start, consume};
use eventlake_lake::{IngestConfig, Lake};

fn event(i: usize, subject: usize) -> Bytes {
    Bytes::from(format!(
        "{{\"event_id\":\"e{i}\",\"event_type\":\"user.joined\",\"source\":\"chat\",\"tenant_id\":\"t\",\
         \"subject_id\":\"u{subject}\",\"occurred_at\":\"2026-03-01T10:00:00Z\",\"schema_version\":1,\
         \"payload\":{{\"room_id\":\"r\",\"user_id\":\"u{subject}\"}}}}"
    ))
}

fn shard(id: &str, parents: &[&str], closed: bool) -> Shard {
    Shard {
        id: id.into(),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        closed,
    }
}

/// s0 split into s2 and s3, which merged into s4; s1 closed into s5 (empty). Every shard holds 300
/// records; record `i` of a lineage is subject `i % 7`, so a subject's events cross the split.
fn stream() -> Memory {
    let mut m = Memory::default();
    let mut next = 0;
    let mut lines = |n: usize| {
        let v: Vec<Bytes> = (next..next + n).map(|i| event(i, i % 7)).collect();
        next += n;
        v
    };
    m.add(shard("s0", &[], true), lines(300));
    m.add(shard("s1", &[], true), lines(300));
    m.add(shard("s2", &["s0"], true), lines(300));
    m.add(shard("s3", &["s0"], true), lines(300));
    m.add(shard("s4", &["s2", "s3"], false), lines(300));
    m.add(shard("s5", &["s1"], false), Vec::<Bytes>::new());
    m
}

fn input() -> KinesisInput {
    KinesisInput {
        stream: "memory".into(),
        source_id: None,
        start: Start::TrimHorizon,
        leases: None,
        idle_exit: Some(Duration::from_millis(1500)),
        list_every: Duration::from_millis(200),
    }
}

async fn rows(lake: &Lake, sql: &str) -> Vec<arrow::array::RecordBatch> {
    let ctx = eventlake_lake::query::session(lake).await.unwrap();
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

async fn count(lake: &Lake, sql: &str) -> i64 {
    let b = rows(lake, sql).await;
    b[0].column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resharded_stream_lands_exactly_once_parents_first() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(dir.path().to_str().unwrap()).unwrap();
    let kinesis = Arc::new(stream());
    let config = IngestConfig {
        flush_records: 128,
        flush_age_ms: 300,
        ..IngestConfig::default()
    };
    let metrics = Arc::new(Metrics::default());
    let report = consume(
        &lake,
        kinesis.clone(),
        None,
        input(),
        config.clone(),
        metrics.clone(),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(report.accepted, 1500);
    assert_eq!(
        count(&lake, "SELECT count(*) FROM bronze.events").await,
        1500
    );
    assert_eq!(
        count(&lake, "SELECT count(DISTINCT event_id) FROM bronze.events").await,
        1500
    );
    // Every child's first record landed after its parents' last one.
    for (parent, child) in [("s0", "s2"), ("s0", "s3"), ("s2", "s4"), ("s3", "s4")] {
        let later = count(
            &lake,
            &format!(
                "SELECT CAST(count(*) AS BIGINT) FROM (SELECT max(ingested_at) AS p FROM bronze.events WHERE source_key = '{parent}') a, \
                 (SELECT min(ingested_at) AS c FROM bronze.events WHERE source_key = '{child}') b WHERE a.p <= b.c"
            ),
        )
        .await;
        assert_eq!(later, 1, "{child} was read before {parent} ended");
    }
    assert!(
        metrics
            .render()
            .contains("eventlake_kinesis_events_committed_total 1500")
    );

    // A second run resumes after every committed record: nothing is read twice.
    let again = consume(
        &lake,
        kinesis,
        None,
        input(),
        config,
        Arc::new(Metrics::default()),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(again.offered, 0, "{again:?}");
    assert_eq!(
        count(&lake, "SELECT count(*) FROM bronze.events").await,
        1500
    );
}
