//! The serving API (work in progress, issue 5): REST under `/v1` from an in-memory snapshot
//! of the gold tables, with bearer JWT auth and strict tenant isolation.
//!
//! Invariant: every data route is scoped to the token's tenant; an id of another tenant
//! answers exactly as a missing id (404 `NOT_FOUND`), so no existence leaks.

pub mod auth;
pub mod error;
pub mod refresh;
pub mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Auth, Claims};
use crate::error::ApiError;
use crate::snapshot::{Item, Snapshot};

/// What the handlers share: the current snapshot (swapped whole) and the token verifier.
pub struct AppState {
    pub snapshot: RwLock<Arc<Snapshot>>,
    pub auth: Auth,
}

impl AppState {
    pub fn new(snapshot: Snapshot, auth: Auth) -> Arc<Self> {
        Arc::new(Self {
            snapshot: RwLock::new(Arc::new(snapshot)),
            auth,
        })
    }

    /// The snapshot a request reads, start to end.
    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the snapshot atomically.
    pub fn swap(&self, snapshot: Snapshot) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}

/// The `/v1` routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/opportunities/{id}/matches", get(opportunity_matches))
        .route("/v1/parties/{id}/matches", get(party_matches))
        .route("/v1/users/{id}/context", get(user_context))
        .with_state(state)
}

fn meta(snapshot: &Snapshot) -> String {
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "request_id": uuid::Uuid::new_v4().to_string(),
        "snapshot_version": snapshot.version(),
    })
    .to_string()
}

/// `{"success": true, "data": <json>, "meta": …, "errors": []}` around pre-serialised data.
fn ok(snapshot: &Snapshot, data: &str) -> Response {
    let body = format!(
        "{{\"success\":true,\"data\":{data},\"meta\":{},\"errors\":[]}}",
        meta(snapshot)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn fail(snapshot: &Snapshot, e: ApiError) -> Response {
    let errors = serde_json::json!([{ "code": e.code, "message": e.message }]);
    let body = format!(
        "{{\"success\":false,\"data\":null,\"meta\":{},\"errors\":{errors}}}",
        meta(snapshot)
    );
    (e.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Runs `f` for an authenticated caller, answering errors in the envelope.
fn authed(
    state: &AppState,
    headers: &HeaderMap,
    f: impl FnOnce(&Snapshot, &Claims) -> Result<String, ApiError>,
) -> Response {
    let snapshot = state.current();
    match state.auth.verify(headers).and_then(|c| f(&snapshot, &c)) {
        Ok(data) => ok(&snapshot, &data),
        Err(e) => fail(&snapshot, e),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let snapshot = state.current();
    let data = serde_json::json!({
        "status": "ok",
        "snapshot_version": snapshot.version(),
        "loaded_at": snapshot.loaded_at.map(|t| t.to_rfc3339()),
    });
    ok(&snapshot, &data.to_string())
}

fn array<'a>(items: impl Iterator<Item = &'a Item>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item.json);
    }
    out.push(']');
    out
}

async fn opportunity_matches(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    authed(&state, &headers, |snapshot, claims| {
        let k = match query.get("k") {
            None => 20,
            Some(k) => k
                .parse::<i64>()
                .ok()
                .filter(|k| (1..=1000).contains(k))
                .ok_or_else(|| ApiError::validation(format!("k must be 1..=1000, got {k}")))?,
        };
        let role = query.get("role");
        let items = snapshot
            .by_opportunity
            .get(&(claims.tenant_id.clone(), id.clone()))
            .ok_or_else(|| ApiError::not_found("opportunity", &id))?;
        Ok(array(items.iter().filter(|i| {
            i.rank <= k && role.is_none_or(|r| &i.role == r)
        })))
    })
}

async fn party_matches(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    authed(&state, &headers, |snapshot, claims| {
        let items = snapshot
            .by_party
            .get(&(claims.tenant_id.clone(), id.clone()))
            .ok_or_else(|| ApiError::not_found("party", &id))?;
        Ok(array(items.iter()))
    })
}

async fn user_context(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    authed(&state, &headers, |snapshot, claims| {
        let context = snapshot
            .contexts
            .get(&(claims.tenant_id.clone(), id.clone()))
            .ok_or_else(|| ApiError::not_found("user", &id))?;
        match query.get("format").map(String::as_str) {
            None | Some("json") => Ok(context.json.to_string()),
            Some("prompt") => Ok(serde_json::to_string(&context.prompt).unwrap_or_default()),
            Some(other) => Err(ApiError::validation(format!(
                "format must be json or prompt, got {other}"
            ))),
        }
    })
}
