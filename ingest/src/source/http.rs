//! The HTTP collector: `POST /v1/events` with NDJSON or a JSON array. The answer is sent only
//! once the records' commit is durable, with one result per record.
//!
//! HTTP cannot replay, so its records carry no checkpoint: exactly-once rests on `event_id`
//! de-duplication. A client that gets no answer (or `retry` results) sends the same events
//! again; those already committed come back as `duplicate`, which means "stored".
//!
//! Invariant: a record reported `accepted` or `duplicate` is in `bronze.events`; one reported
//! `rejected` is in `bronze.events_rejected`; one reported `retry` is in neither. A request cut
//! at the deadline (408) may or may not have been stored: sent again, its stored records come
//! back as `duplicate`.
//!
//! The collector has no auth, so [`limits`] bounds what one client can hold: open
//! connections, and the time a request (its body included) may take.

pub mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use eventlake_lake::reason::Reason;
use eventlake_lake::{Contracts, IngestConfig, Lake};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::ingestor::{Ingestor, Outcome};
use crate::record::{Decoded, Record, decode};

/// Source id of the collector.
pub const SOURCE_ID: &str = "http";

/// Per-record result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordResult {
    /// The record's place in the body (0-based line or array index, blank lines skipped).
    pub index: usize,
    /// `accepted`, `duplicate`, `rejected` or `retry`.
    pub status: &'static str,
    /// The record's `event_id`, when one could be read (never for `retry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The reject reason code, for `rejected` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Why the record was rejected, or for `retry` that it must be sent again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

struct Submission {
    records: Vec<Decoded>,
    reply: oneshot::Sender<Answer>,
}

/// What the writer task tells a request: results, and whether everything is durable.
struct Answer {
    results: Vec<RecordResult>,
    durable: bool,
}

/// Handle the routes use to reach the writer task.
#[derive(Clone)]
pub struct Collector {
    tx: mpsc::Sender<Submission>,
    contracts: &'static Contracts,
    max_record_bytes: usize,
    requests: Arc<AtomicU64>,
}

/// Settings of the collector.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A request not answered within this, the upload of its body included, gets 408 and its
    /// connection is closed; so is a connection whose next request headers take longer.
    pub request_timeout: Duration,
    /// Connections open at once (at least one); more wait unaccepted until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            // Well below the usual soft limit of 1024 open files, which the lake's files share.
            max_connections: 256,
        }
    }
}

impl Collector {
    /// Starts the writer task on `lake`; it runs until every handle is dropped, then flushes.
    pub async fn start(
        lake: &Lake,
        config: IngestConfig,
    ) -> Result<(Self, tokio::task::JoinHandle<Result<()>>)> {
        let ingestor = Ingestor::open(lake, SOURCE_ID, config.clone()).await?;
        let (tx, rx) = mpsc::channel(1024);
        let task = tokio::spawn(write_loop(ingestor, rx));
        Ok((
            Self {
                tx,
                contracts: Contracts::builtin(),
                max_record_bytes: config.max_record_bytes,
                requests: Arc::new(AtomicU64::new(0)),
            },
            task,
        ))
    }

    /// The collector's routes (`POST /v1/events`), each request cut at
    /// `config.request_timeout`.
    pub fn router(self, config: &HttpConfig) -> Router {
        let deadline = (self.clone(), config.request_timeout);
        Router::new()
            .route("/v1/events", post(post_events))
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .layer(axum::middleware::from_fn_with_state(deadline, in_time))
            .with_state(self)
    }

    /// A fresh id for a request's answer and its records' positions.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("req-{}-{n}", std::process::id())
    }
}

/// Answers 408 `TIMEOUT` when the request, reading its body included, takes longer than
/// the limit.
async fn in_time(
    State((collector, limit)): State<(Collector, Duration)>,
    req: Request,
    next: Next,
) -> Response {
    limits::within(limit, next.run(req), || {
        let message = format!("the request took longer than {} ms", limit.as_millis());
        reply::<Summary>(
            StatusCode::REQUEST_TIMEOUT,
            collector.request_id(),
            None,
            vec![ErrorBody {
                code: "TIMEOUT",
                message,
            }],
        )
    })
    .await
}

/// Serves the collector on `listener` until `shutdown` resolves, then flushes what is
/// buffered and answers every waiting request before returning. Connections and request
/// times are bounded by `http` (see [`limits`]).
pub async fn serve(
    lake: &Lake,
    listener: tokio::net::TcpListener,
    ingest: IngestConfig,
    http: HttpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (collector, task) = Collector::start(lake, ingest).await?;
    let addr = listener.local_addr().ok();
    tracing::info!(
        addr = ?addr,
        max_connections = http.max_connections,
        request_timeout_ms = http.request_timeout.as_millis() as u64,
        "collecting events over HTTP"
    );
    let app = collector.router(&http);
    // Returns once every connection is closed; dropping `app`, the last collector handle,
    // lets the writer flush and stop.
    limits::serve_connections(
        listener,
        app,
        http.request_timeout,
        http.max_connections,
        shutdown,
    )
    .await;
    task.await.map_err(|_| Error::Stopped)?
}

/// A classified record awaiting the flush that makes it durable.
struct Waiting {
    outcome: Outcome,
    event_id: Option<String>,
    message: Option<String>,
}

type Requests = Vec<(Vec<Waiting>, oneshot::Sender<Answer>)>;

async fn write_loop(mut ingestor: Ingestor, mut rx: mpsc::Receiver<Submission>) -> Result<()> {
    let mut waiting: Requests = Vec::new();
    loop {
        let next = match ingestor.deadline() {
            Some(deadline) => tokio::select! {
                next = rx.recv() => next,
                () = tokio::time::sleep_until(deadline.into()) => {
                    answer(&mut ingestor, &mut waiting).await;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(submission) = next else { break };
        let details: Vec<(Option<String>, Option<String>)> = submission
            .records
            .iter()
            .map(|d| match &d.outcome {
                Ok(e) => (Some(e.event_id.clone()), None),
                Err((v, hints)) => (hints.event_id.clone(), Some(v.message.clone())),
            })
            .collect();
        let count = details.len();
        match ingestor.offer(submission.records).await {
            Ok(outcomes) => {
                let detail = outcomes
                    .into_iter()
                    .zip(details)
                    .map(|(outcome, (event_id, message))| Waiting {
                        outcome,
                        event_id,
                        message,
                    })
                    .collect();
                waiting.push((detail, submission.reply));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot classify records");
                let results = (0..count).map(retry).collect();
                let _ = submission.reply.send(Answer {
                    results,
                    durable: false,
                });
            }
        }
        if ingestor.full() {
            answer(&mut ingestor, &mut waiting).await;
        }
    }
    answer(&mut ingestor, &mut waiting).await;
    Ok(())
}

fn retry(index: usize) -> RecordResult {
    RecordResult {
        index,
        status: "retry",
        event_id: None,
        reason: None,
        message: Some("not stored: the commit failed; send this record again".into()),
    }
}

/// Flushes and answers every waiting request.
async fn answer(ingestor: &mut Ingestor, waiting: &mut Requests) {
    let flushed = ingestor.flush().await;
    let (events_ok, rejected_ok) = match &flushed {
        Ok(_) => (true, true),
        Err(e) => (false, e.rejected_durable),
    };
    // Accepted records another writer committed first were filed as duplicates: stored, even
    // when the flush failed afterwards.
    let late: std::collections::HashSet<usize> = match &flushed {
        Ok(f) => f.late.iter().copied().collect(),
        Err(e) => e.late.iter().copied().collect(),
    };
    let mut accepted = 0;
    for (detail, reply) in waiting.drain(..) {
        let mut durable = true;
        let results = detail
            .into_iter()
            .enumerate()
            .map(|(index, w)| {
                let Waiting {
                    mut outcome,
                    event_id,
                    message,
                } = w;
                let mut filed = false;
                if outcome == Outcome::Accepted {
                    filed = late.contains(&accepted);
                    if filed {
                        outcome = Outcome::Rejected(Reason::DuplicateEventId);
                    }
                    accepted += 1;
                }
                // A duplicate may repeat an event of this very window: it is only "stored"
                // once the events commit landed.
                let ok = match outcome {
                    _ if filed => true,
                    Outcome::Rejected(Reason::DuplicateEventId) => events_ok && rejected_ok,
                    Outcome::Rejected(_) => rejected_ok,
                    _ => events_ok,
                };
                if !ok {
                    durable = false;
                    return retry(index);
                }
                let (status, reason) = match outcome {
                    Outcome::Accepted => ("accepted", None),
                    Outcome::Rejected(Reason::DuplicateEventId) | Outcome::AlreadyCommitted => {
                        ("duplicate", None)
                    }
                    Outcome::Rejected(r) => ("rejected", Some(r.code())),
                };
                RecordResult {
                    index,
                    status,
                    event_id,
                    reason,
                    message,
                }
            })
            .collect();
        let _ = reply.send(Answer { results, durable });
    }
}

/// Splits a body into records: a JSON array (body starting with `[`) or NDJSON lines.
/// `None` when the body is not JSON at all.
fn split_body(body: &Bytes) -> Option<Vec<Bytes>> {
    let trimmed = body.trim_ascii_start();
    if trimmed.first() == Some(&b'[') {
        let items: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
        return Some(
            items
                .into_iter()
                .map(|raw| body.slice_ref(raw.get().as_bytes()))
                .collect(),
        );
    }
    let lines: Vec<Bytes> = body
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .map(|l| body.slice_ref(l))
        .collect();
    let any_json = lines
        .iter()
        .any(|l| serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok());
    any_json.then_some(lines)
}

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    success: bool,
    data: Option<T>,
    meta: Meta,
    errors: Vec<ErrorBody>,
}

#[derive(Serialize)]
struct Meta {
    timestamp: String,
    request_id: String,
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

/// Counts and per-record results of one submission.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Records newly stored in `bronze.events`.
    pub accepted: usize,
    /// Records answered `duplicate`: their `event_id` is stored (by an earlier send or
    /// another record), which counts as stored.
    pub duplicates: usize,
    /// Records stored in `bronze.events_rejected`.
    pub rejected: usize,
    /// Records not stored because a commit failed; the client sends them again.
    pub retry: usize,
    /// One result per record, in body order.
    pub results: Vec<RecordResult>,
}

/// What a submission came to: the HTTP status, the summary when records were classified,
/// and the error when not everything was stored. Each server wraps it in its own envelope.
#[derive(Debug)]
pub struct Submitted {
    /// The HTTP status to answer with: 200 when every record is stored.
    pub status: StatusCode,
    /// Counts and per-record results; `None` when the body was refused before classifying.
    pub summary: Option<Summary>,
    /// Error code (`VALIDATION_ERROR`, `FORBIDDEN`, `UNAVAILABLE`) and message; `None` on 200.
    pub error: Option<(&'static str, String)>,
}

impl Summary {
    fn of(results: Vec<RecordResult>) -> Self {
        let count = |s: &str| results.iter().filter(|r| r.status == s).count();
        Self {
            accepted: count("accepted"),
            duplicates: count("duplicate"),
            rejected: count("rejected"),
            retry: count("retry"),
            results,
        }
    }
}

fn reply<T: Serialize>(
    status: StatusCode,
    request_id: String,
    data: Option<T>,
    errors: Vec<ErrorBody>,
) -> Response {
    let body = Envelope {
        success: status.is_success(),
        data,
        meta: Meta {
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            request_id,
        },
        errors,
    };
    (status, Json(body)).into_response()
}

async fn post_events(State(collector): State<Collector>, body: Bytes) -> Response {
    let request_id = collector.request_id();
    let submitted = collector.submit(body, &request_id, None).await;
    let errors = submitted
        .error
        .map(|(code, message)| vec![ErrorBody { code, message }])
        .unwrap_or_default();
    reply(submitted.status, request_id, submitted.summary, errors)
}

impl Collector {
    /// Classifies the records of `body` and waits until they are durable (or known not to
    /// be). `request_id` names the records' source position. With `tenant`, a body holding
    /// any event of another tenant is refused whole (403 `FORBIDDEN`), before anything is
    /// stored.
    pub async fn submit(&self, body: Bytes, request_id: &str, tenant: Option<&str>) -> Submitted {
        let Some(lines) = split_body(&body) else {
            return Submitted::failed(
                StatusCode::BAD_REQUEST,
                None,
                "VALIDATION_ERROR",
                "the body is not JSON: send NDJSON (one event per line) or a JSON array",
            );
        };
        if lines.is_empty() {
            return Submitted {
                status: StatusCode::OK,
                summary: Some(Summary::of(Vec::new())),
                error: None,
            };
        }
        let records = self.decode(lines, request_id);
        if let Some(tenant) = tenant {
            let foreign = records.iter().position(|d| {
                let of = match &d.outcome {
                    Ok(e) => Some(e.tenant_id.as_str()),
                    Err((_, hints)) => hints.tenant_id.as_deref(),
                };
                of.is_some_and(|t| t != tenant)
            });
            if let Some(index) = foreign {
                return Submitted::failed(
                    StatusCode::FORBIDDEN,
                    None,
                    "FORBIDDEN",
                    &format!("record {index} belongs to another tenant; nothing was stored"),
                );
            }
        }
        self.submit_records(records).await
    }

    fn decode(&self, lines: Vec<Bytes>, request_id: &str) -> Vec<Decoded> {
        let collector = self;
        let key: Arc<str> = Arc::from(request_id);
        lines
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let record = Record {
                    bytes,
                    key: key.clone(),
                    seq: None,
                    position: format!("{request_id}/{i}"),
                };
                decode(record, collector.contracts, collector.max_record_bytes)
            })
            .collect()
    }

    async fn submit_records(&self, records: Vec<Decoded>) -> Submitted {
        let collector = self;
        let (tx, rx) = oneshot::channel();
        let unavailable = || {
            Submitted::failed(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "UNAVAILABLE",
                "the ingest writer is not running; retry later",
            )
        };
        if collector
            .tx
            .send(Submission { records, reply: tx })
            .await
            .is_err()
        {
            return unavailable();
        }
        let Ok(answer) = rx.await else {
            return unavailable();
        };
        let summary = Summary::of(answer.results);
        if answer.durable {
            Submitted {
                status: StatusCode::OK,
                summary: Some(summary),
                error: None,
            }
        } else {
            Submitted::failed(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(summary),
                "UNAVAILABLE",
                "some records were not stored; resend those with status `retry`",
            )
        }
    }
}

impl Submitted {
    fn failed(
        status: StatusCode,
        summary: Option<Summary>,
        code: &'static str,
        message: &str,
    ) -> Self {
        Self {
            status,
            summary,
            error: Some((code, message.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_into_records() {
        let ndjson = Bytes::from_static(b"{\"a\":1}\n\n{\"b\":2}\r\nnot json\n");
        assert_eq!(split_body(&ndjson).unwrap().len(), 3);
        let array = Bytes::from_static(b" [{\"a\":1}, {\"b\":2}]");
        let items = split_body(&array).unwrap();
        assert_eq!(&items[1][..], b"{\"b\":2}");
        assert!(split_body(&Bytes::from_static(b"hello there")).is_none());
        assert!(split_body(&Bytes::from_static(b"[1, 2")).is_none());
    }
}
