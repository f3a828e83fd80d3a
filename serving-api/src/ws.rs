//! `GET /v1/ws`: topic subscriptions pushed from each snapshot swap, only to the subscribers
//! whose data changed.
//!
//! Each connection is its own task holding only its subscriptions and the hash of what it
//! last sent per topic; it learns of swaps from a `watch` channel, which keeps just the
//! latest snapshot. So a slow client never makes others wait (no shared queue) and never
//! grows memory (at most one message in flight): swaps it could not keep up with collapse
//! into one, and it is told it `lagged` before it gets the current data of every changed
//! topic. A client that cannot take one message within the send timeout, or is silent for
//! three heartbeats, is disconnected.
//!
//! Invariant: a subscriber receives a topic's data at subscription and then exactly when
//! the data differs from what it last received; never data of another tenant.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Claims, bearer};
use crate::caller::{Params, Public};
use crate::envelope;
use crate::error::ApiError;
use crate::limit::Lease;
use crate::observe::Tenant;
use crate::snapshot::Snapshot;
use crate::topic::Topic;

/// Connection parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// The bearer token, for clients (browsers) that cannot set an `Authorization` header.
    pub access_token: Option<String>,
}

/// A client's message.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe { topics: Vec<String> },
    Unsubscribe { topics: Vec<String> },
    Ping,
}

/// Checks the token, takes a connection from the tenant's budget and upgrades.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    public: Public,
    Params(query): Params<WsQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token = match query.access_token.as_deref() {
        Some(t) => Ok(t),
        None => bearer(&headers),
    };
    let claims = match token {
        Ok(t) => state.auth.verify_token(t).await,
        Err(e) => Err(e),
    };
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return envelope::fail(&public.meta, e),
    };
    let tenant = Tenant(claims.tenant_id.clone());
    let answer = match (ws, state.budgets.connect(&claims.tenant_id)) {
        (Err(_), _) => envelope::fail(
            &public.meta,
            ApiError::coded(
                StatusCode::UPGRADE_REQUIRED,
                "UPGRADE_REQUIRED",
                "this route speaks WebSocket: send an upgrade request".into(),
            ),
        ),
        (_, Err(e)) => envelope::fail(&public.meta, e),
        (Ok(ws), Ok(lease)) => ws
            .max_message_size(state.config.ws.max_message_bytes)
            .on_upgrade(move |socket| async move {
                Connection::new(state, claims, lease).run(socket).await;
            }),
    };
    let mut answer = answer;
    answer.extensions_mut().insert(tenant);
    answer
}

/// Why a connection ended.
enum End {
    Closed,
    Slow,
}

struct Connection {
    state: Arc<AppState>,
    claims: Arc<Claims>,
    lease: Lease,
    /// Topic → hash of the data last sent.
    topics: HashMap<Topic, u64>,
}

fn frame(kind: &str, topic: &Topic, snapshot: &Snapshot, data: &str) -> String {
    format!(
        "{{\"type\":\"{kind}\",\"topic\":{},\"snapshot_version\":{},\"data\":{data}}}",
        serde_json::Value::String(topic.name()),
        serde_json::Value::String(snapshot.version().to_owned()),
    )
}

fn error_frame(e: &ApiError) -> String {
    serde_json::json!({"type": "error", "code": e.code, "message": e.message}).to_string()
}

impl Connection {
    fn new(state: Arc<AppState>, claims: Arc<Claims>, lease: Lease) -> Self {
        Self {
            state,
            claims,
            lease,
            topics: HashMap::new(),
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let state = Arc::clone(&self.state);
        let stats = &state.stats;
        stats.ws_connections.fetch_add(1, Ordering::Relaxed);
        let (mut sink, mut stream) = socket.split();
        let mut watch = self.state.watch();
        let mut generation = watch.borrow_and_update().generation;
        let heartbeat_every = self.state.config.ws.heartbeat;
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        heartbeat.tick().await;
        let mut heard = Instant::now();
        let mut closing = self.state.closing();
        let end = loop {
            let out: Vec<Message> = tokio::select! {
                incoming = stream.next() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break End::Closed,
                    Some(Ok(Message::Text(text))) => {
                        heard = Instant::now();
                        let snapshot = Arc::clone(&watch.borrow());
                        self.answer(text.as_str(), &snapshot)
                    }
                    Some(Ok(Message::Binary(_))) => {
                        heard = Instant::now();
                        let e = ApiError::validation("send JSON text frames, not binary".into());
                        vec![Message::Text(error_frame(&e).into())]
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        heard = Instant::now();
                        Vec::new()
                    }
                },
                changed = watch.changed() => {
                    if changed.is_err() {
                        break End::Closed;
                    }
                    let snapshot = Arc::clone(&watch.borrow_and_update());
                    let missed = snapshot.generation.saturating_sub(generation + 1);
                    generation = snapshot.generation;
                    self.changes(&snapshot, missed)
                }
                _ = closing.changed() => break End::Closed,
                _ = heartbeat.tick() => {
                    if heard.elapsed() > 3 * heartbeat_every {
                        break End::Closed;
                    }
                    vec![Message::Ping(Default::default())]
                }
            };
            match self.send(&mut sink, out).await {
                Ok(()) => {}
                Err(end) => break end,
            }
        };
        if matches!(end, End::Slow) {
            stats.ws_slow_disconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(tenant = %self.claims.tenant_id, "WebSocket client too slow; disconnected");
        }
        let _ = tokio::time::timeout(self.state.config.ws.send_timeout, sink.close()).await;
        stats.ws_connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sends `messages` in order, each within the send timeout.
    async fn send(
        &self,
        sink: &mut futures::stream::SplitSink<WebSocket, Message>,
        messages: Vec<Message>,
    ) -> Result<(), End> {
        let stats = &self.state.stats;
        for message in messages {
            let bytes = match &message {
                Message::Text(t) => t.len() as u64,
                _ => 0,
            };
            stats.ws_pending_bytes.fetch_add(bytes, Ordering::Relaxed);
            let sent =
                tokio::time::timeout(self.state.config.ws.send_timeout, sink.send(message)).await;
            stats.ws_pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
            match sent {
                Ok(Ok(())) => {
                    stats.ws_messages_sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(_)) => return Err(End::Closed),
                Err(_) => return Err(End::Slow),
            }
        }
        Ok(())
    }

    /// The answers to one client message.
    fn answer(&mut self, text: &str, snapshot: &Snapshot) -> Vec<Message> {
        let reply = |s: String| vec![Message::Text(s.into())];
        let message: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                let e = ApiError::validation(format!(
                    "bad message ({e}); send {{\"op\": \"subscribe\"|\"unsubscribe\", \"topics\": [...]}} or {{\"op\": \"ping\"}}"
                ));
                return reply(error_frame(&e));
            }
        };
        match message {
            ClientMessage::Ping => reply("{\"type\":\"pong\"}".into()),
            ClientMessage::Subscribe { topics } => match self.subscribe(&topics) {
                Err(e) => reply(error_frame(&e)),
                Ok(asked) => asked
                    .into_iter()
                    .map(|topic| {
                        let (data, hash) = topic.data(snapshot, &self.claims.tenant_id);
                        let text = frame("subscribed", &topic, snapshot, &data);
                        self.topics.insert(topic, hash);
                        Message::Text(text.into())
                    })
                    .collect(),
            },
            ClientMessage::Unsubscribe { topics } => {
                let mut gone = Vec::new();
                for text in &topics {
                    if let Ok(topic) = Topic::parse(text)
                        && self.topics.remove(&topic).is_some()
                    {
                        gone.push(topic.name());
                    }
                }
                self.lease.unsubscribe(gone.len());
                reply(serde_json::json!({"type": "unsubscribed", "topics": gone}).to_string())
            }
        }
    }

    /// Validates `texts` and takes budget for the new topics among them, all or none;
    /// returns every topic asked for (each once), to be answered with its current data.
    fn subscribe(&mut self, texts: &[String]) -> Result<Vec<Topic>, ApiError> {
        let mut asked: Vec<Topic> = Vec::new();
        for text in texts {
            let topic = Topic::parse(text).map_err(ApiError::validation)?;
            if let Some(role) = topic.role()
                && !self.claims.has_role(role)
            {
                return Err(ApiError::forbidden(&format!(
                    "topic {text} needs the {role} role"
                )));
            }
            if !asked.contains(&topic) {
                asked.push(topic);
            }
        }
        let new = asked
            .iter()
            .filter(|t| !self.topics.contains_key(t))
            .count();
        self.lease.subscribe(new)?;
        Ok(asked)
    }

    /// The messages a new snapshot calls for: a lag notice when swaps were missed, then the
    /// topics whose data changed.
    fn changes(&mut self, snapshot: &Snapshot, missed: u64) -> Vec<Message> {
        let mut out = Vec::new();
        if missed > 0 {
            self.state.stats.ws_lagged.fetch_add(1, Ordering::Relaxed);
            let text = serde_json::json!({
                "type": "lagged",
                "missed_snapshots": missed,
                "snapshot_version": snapshot.version(),
            });
            out.push(Message::Text(text.to_string().into()));
        }
        for (topic, last) in &mut self.topics {
            let (data, hash) = topic.data(snapshot, &self.claims.tenant_id);
            if hash != *last {
                *last = hash;
                out.push(Message::Text(
                    frame("update", topic, snapshot, &data).into(),
                ));
            }
        }
        out
    }
}
