//! The routes: public health, readiness, OpenAPI document, Prometheus metrics and the
//! dashboard page; everything else needs a bearer token and reads only the token's tenant.
//!
//! Invariant: every lookup goes through the caller's tenant; a data route answers 404 the
//! same way for a missing id and for an id of another tenant.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::caller::{Caller, Data, Params, Public};
use crate::envelope;
use crate::error::ApiError;
use crate::metrics::{self, SeriesQuery};
use crate::page::{Page, PageQuery};
use crate::snapshot::{Entry, SEP, Snapshot, array};
use crate::{observe, openapi, ws};

/// Every route, with request ids, access logs, body limits and timeouts.
pub fn router(state: Arc<AppState>) -> Router {
    let config = &state.config;
    Router::new()
        .route("/", get(dashboard))
        .route("/metrics", get(prometheus))
        .route("/v1/health", get(health))
        .route("/v1/ready", get(ready))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/opportunities/{id}/matches", get(opportunity_matches))
        .route("/v1/opportunities/{id}/teams", get(opportunity_teams))
        .route("/v1/parties/{id}/matches", get(party_matches))
        .route("/v1/parties/{id}/barter-cycles", get(party_barter_cycles))
        .route("/v1/mentorship/{party_id}", get(mentorship))
        .route("/v1/users/{id}/context", get(user_context))
        .route("/v1/metrics", get(metric_catalogue))
        .route("/v1/metrics/{name}", get(metric_series))
        .route("/v1/events", axum::routing::post(post_events))
        .route("/v1/ws", get(ws::upgrade))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            observe::middleware,
        ))
        .with_state(state)
}

async fn no_route(public: Public) -> Response {
    envelope::fail(
        &public.meta,
        ApiError::coded(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route".into()),
    )
}

async fn wrong_method(public: Public) -> Response {
    envelope::fail(
        &public.meta,
        ApiError::coded(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "this route does not take that method".into(),
        ),
    )
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    let text = state.stats.prometheus(&state.current());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document(),
    )
        .into_response()
}

/// The snapshot's state, as `/v1/health` reports it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: the process is up and answering (readiness is `/v1/ready`).
    pub status: &'static str,
    /// Gold table versions of the snapshot (`table@version,…`).
    pub snapshot_version: String,
    /// When the snapshot was loaded, RFC 3339; `None` before the first load.
    pub loaded_at: Option<String>,
    /// Seconds since the snapshot was loaded.
    pub age_seconds: f64,
    /// Swaps before this snapshot (0 for the first one loaded).
    pub generation: u64,
    /// Estimated heap bytes of the snapshot's entries and indexes.
    pub memory_bytes: usize,
    /// Rows loaded per gold table (`gold.name`).
    #[schema(value_type = Object)]
    pub rows: std::collections::BTreeMap<String, usize>,
}

#[utoipa::path(get, path = "/v1/health", tag = "system",
    responses((status = 200, description = "The snapshot's version, age and memory", body = openapi::Reply)))]
async fn health(public: Public) -> Response {
    let s = &public.snapshot;
    let data = Health {
        status: "ok",
        snapshot_version: s.version().to_owned(),
        loaded_at: s.loaded_at.map(|t| t.to_rfc3339()),
        age_seconds: s.age_seconds(),
        generation: s.generation,
        memory_bytes: s.bytes,
        rows: s.rows.clone(),
    };
    envelope::ok_value(&public.meta, &data, None)
}

#[utoipa::path(get, path = "/v1/ready", tag = "system",
    responses((status = 200, description = "Serving a snapshot and reaching the lake", body = openapi::Reply),
              (status = 503, description = "The last poll could not read the lake or load its new versions; the previous snapshot is still served", body = openapi::Reply)))]
async fn ready(State(state): State<Arc<AppState>>, public: Public) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        envelope::ok(&public.meta, "{\"ready\":true}", None)
    } else {
        envelope::fail(
            &public.meta,
            ApiError::unavailable(
                "the last poll could not read the lake or load its new versions; \
                 the previous snapshot is still served",
            ),
        )
    }
}

/// A page of `entries` as data.
fn paged<'a>(entries: impl IntoIterator<Item = &'a Entry>, page: &Page) -> Data {
    let (items, next_cursor) = page.of(entries, |e| &e.key);
    Data {
        json: array(items),
        next_cursor,
    }
}

/// Match filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchQuery {
    /// Best `k` per role, 1..=1000 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub k: Option<String>,
    /// Only this role.
    pub role: Option<String>,
}

/// Default page size.
const PAGE: usize = 100;

#[utoipa::path(get, path = "/v1/opportunities/{id}/matches", tag = "matching",
    params(("id" = String, Path, description = "Opportunity id"), MatchQuery, PageQuery),
    responses((status = 200, description = "Ranked candidates per role with their reasons (`gold.matches` rows), by role then rank", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 404, body = openapi::Reply), (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn opportunity_matches(
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<MatchQuery>,
    Params(p): Params<PageQuery>,
) -> Response {
    let result = (|| {
        let k = match crate::page::given(&q.k) {
            None => 20,
            Some(k) => k
                .parse::<u32>()
                .ok()
                .filter(|k| (1..=1000).contains(k))
                .ok_or_else(|| ApiError::validation(format!("k must be 1..=1000, got {k:?}")))?,
        };
        let page = p.parse(PAGE)?;
        let list = caller.list(&caller.snapshot.opportunity_matches, "opportunity", &id)?;
        let wanted = list.iter().filter(|e| {
            let (role, rank) = e.key.split_once(SEP).unwrap_or_default();
            rank.parse::<u32>().is_ok_and(|r| r <= k)
                && crate::page::given(&q.role).is_none_or(|w| w == role)
        });
        Ok(paged(wanted, &page))
    })();
    caller.reply(result)
}

#[utoipa::path(get, path = "/v1/parties/{id}/matches", tag = "matching",
    params(("id" = String, Path, description = "Party id"), PageQuery),
    responses((status = 200, description = "The matches where the party is the candidate, by opportunity then role", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 404, body = openapi::Reply), (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn party_matches(
    caller: Caller,
    Path(id): Path<String>,
    Params(p): Params<PageQuery>,
) -> Response {
    let result = p.parse(PAGE).and_then(|page| {
        let list = caller.list(&caller.snapshot.party_matches, "party", &id)?;
        Ok(paged(list, &page))
    });
    caller.reply(result)
}

#[utoipa::path(get, path = "/v1/opportunities/{id}/teams", tag = "matching",
    params(("id" = String, Path, description = "Opportunity id")),
    responses((status = 200, description = "Suggested teams (`gold.team_suggestions` rows), by model then rank", body = openapi::Reply),
              (status = 401, body = openapi::Reply), (status = 404, body = openapi::Reply),
              (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn opportunity_teams(caller: Caller, Path(id): Path<String>) -> Response {
    let result = caller
        .list(&caller.snapshot.teams, "opportunity", &id)
        .map(|list| Data::whole(array(list)));
    caller.reply(result)
}

#[utoipa::path(get, path = "/v1/parties/{id}/barter-cycles", tag = "matching",
    params(("id" = String, Path, description = "Party id"), PageQuery),
    responses((status = 200, description = "Barter cycles the party takes part in (`gold.barter_cycles` rows), by rank", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 404, body = openapi::Reply), (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn party_barter_cycles(
    caller: Caller,
    Path(id): Path<String>,
    Params(p): Params<PageQuery>,
) -> Response {
    let result = p.parse(PAGE).and_then(|page| {
        let list = caller.list(&caller.snapshot.party_cycles, "party", &id)?;
        Ok(paged(list, &page))
    });
    caller.reply(result)
}

#[utoipa::path(get, path = "/v1/mentorship/{party_id}", tag = "matching",
    params(("party_id" = String, Path, description = "Party id")),
    responses((status = 200, description = "`{as_mentee, as_mentor}`: the stable pairs the party is in (`gold.mentorship_pairs` rows)", body = openapi::Reply),
              (status = 401, body = openapi::Reply), (status = 404, body = openapi::Reply),
              (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn mentorship(caller: Caller, Path(party_id): Path<String>) -> Response {
    let result = caller
        .list(&caller.snapshot.mentorship, "party", &party_id)
        .map(|list| {
            let side = |s: &str| array(list.iter().filter(|e| e.key.split(SEP).next() == Some(s)));
            Data::whole(format!(
                "{{\"as_mentee\":{},\"as_mentor\":{}}}",
                side("mentee"),
                side("mentor")
            ))
        });
    caller.reply(result)
}

/// Context format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextQuery {
    /// `json` (the `gold.user_context` row, default) or `prompt` (its `prompt_context` text).
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/users/{id}/context", tag = "personalisation",
    params(("id" = String, Path, description = "Supporter id"), ContextQuery),
    responses((status = 200, description = "The supporter's personalisation context", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 404, body = openapi::Reply), (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn user_context(
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ContextQuery>,
) -> Response {
    let result = (|| {
        let context = caller
            .snapshot
            .context(&caller.claims.tenant_id, &id)
            .ok_or_else(|| ApiError::not_found("user", &id))?;
        match crate::page::given(&q.format) {
            None | Some("json") => Ok(Data::whole(context.json.to_string())),
            Some("prompt") => Ok(Data::whole(
                serde_json::to_string(&context.prompt).unwrap_or_else(|_| "null".into()),
            )),
            Some(other) => Err(ApiError::validation(format!(
                "format must be json or prompt, got {other:?}"
            ))),
        }
    })();
    caller.reply(result)
}

/// One catalogue entry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CatalogueEntry {
    /// The metric's catalogue fields, inlined in the entry.
    #[serde(flatten)]
    pub metric: &'static metrics::Metric,
    /// The grains a series of it can be asked in.
    pub grains: &'static [&'static str],
    /// Whether the table is in the snapshot.
    pub available: bool,
}

#[utoipa::path(get, path = "/v1/metrics", tag = "metrics",
    responses((status = 200, description = "The metrics catalogue: measures, rollups, dimensions and grains", body = openapi::Reply),
              (status = 401, body = openapi::Reply), (status = 403, description = "The token lacks the analyst role", body = openapi::Reply),
              (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn metric_catalogue(caller: Caller) -> Response {
    let result = caller.require("analyst").and_then(|()| {
        let entries: Vec<CatalogueEntry> = metrics::catalogue()
            .iter()
            .map(|m| CatalogueEntry {
                metric: m,
                grains: m.grains(),
                available: caller
                    .snapshot
                    .versions
                    .contains_key(&format!("gold.{}", m.table)),
            })
            .collect();
        serde_json::to_string(&entries)
            .map(Data::whole)
            .map_err(|e| ApiError::unavailable(&e.to_string()))
    });
    caller.reply(result)
}

#[utoipa::path(get, path = "/v1/metrics/{name}", tag = "metrics",
    params(("name" = String, Path, description = "Metric name from the catalogue"), SeriesQuery, PageQuery),
    responses((status = 200, description = "Time series, one per label set, paged by series", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 403, body = openapi::Reply), (status = 404, body = openapi::Reply),
              (status = 429, body = openapi::Reply)),
    security(("bearer" = [])))]
async fn metric_series(
    caller: Caller,
    Path(name): Path<String>,
    Params(q): Params<SeriesQuery>,
    Params(p): Params<PageQuery>,
) -> Response {
    let result = (|| {
        caller.require("analyst")?;
        let page = p.parse(PAGE)?;
        let metric = metrics::find(&name).ok_or_else(|| ApiError::not_found("metric", &name))?;
        let rows = caller.snapshot.metrics.get(&(
            caller.claims.tenant_id.as_str().into(),
            metric.name.as_str(),
        ));
        let mut set = metrics::series(metric, rows, &q)?;
        let keyed: Vec<(String, metrics::Series)> = set
            .series
            .drain(..)
            .map(|s| (serde_json::to_string(&s.labels).unwrap_or_default(), s))
            .collect();
        let (items, next_cursor) = page.of(&keyed, |(k, _)| k);
        let series: Vec<&metrics::Series> = items.into_iter().map(|(_, s)| s).collect();
        let json = serde_json::json!({
            "metric": set.metric, "grain": set.grain, "from": set.from, "to": set.to,
            "dimension": set.dimension, "measures": set.measures, "series": series,
        });
        Ok(Data {
            json: json.to_string(),
            next_cursor,
        })
    })();
    caller.reply(result)
}

#[utoipa::path(post, path = "/v1/events", tag = "ingest",
    request_body(content = Vec<Object>, description = "A JSON array of events (or NDJSON, one event per line), all of the token's tenant", content_type = "application/json"),
    responses((status = 200, description = "Every record stored (`accepted` or `duplicate`) or quarantined (`rejected`)", body = openapi::Reply),
              (status = 400, body = openapi::Reply), (status = 401, body = openapi::Reply),
              (status = 403, description = "A record of another tenant: nothing stored", body = openapi::Reply),
              (status = 413, body = openapi::Reply), (status = 429, body = openapi::Reply),
              (status = 503, description = "Some records not stored: resend those with status `retry`", body = openapi::Reply)),
    security(("bearer" = [])))]
async fn post_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(collector) = &state.collector else {
        return caller.reply(Err(ApiError::unavailable(
            "this server does not collect events (started with --no-collect)",
        )));
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "PAYLOAD_TOO_LARGE"
            } else {
                "VALIDATION_ERROR"
            };
            let message = format!("the body could not be read: {e}");
            return caller.reply(Err(ApiError::coded(e.status(), code, message)));
        }
    };
    let submitted = collector
        .submit(
            body,
            &caller.meta.request_id,
            Some(&caller.claims.tenant_id),
        )
        .await;
    let summary = submitted
        .summary
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok());
    match submitted.error {
        None => caller.reply(Ok(Data::whole(summary.unwrap_or_else(|| "null".into())))),
        Some((code, message)) => {
            let e = ApiError::coded(submitted.status, code, message);
            caller.reply_with(e, summary.as_deref().unwrap_or("null"))
        }
    }
}

impl Caller {
    /// The list under `id` in the caller's tenant, or `NOT_FOUND`.
    fn list<'a>(
        &self,
        index: &'a crate::snapshot::Index,
        what: &str,
        id: &str,
    ) -> Result<&'a [Entry], ApiError> {
        Snapshot::list(index, &self.claims.tenant_id, id)
            .ok_or_else(|| ApiError::not_found(what, id))
    }
}
