//! The one response envelope: `{"success", "data", "meta": {"timestamp", "request_id",
//! "snapshot_version", "next_cursor"?}, "errors": [{"code", "message"}]}`.
//!
//! Invariant: every `/v1` JSON answer, success or error, is built here; data that was
//! serialised at snapshot load is spliced in as is, never parsed again.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// What every answer's `meta` names.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The request's id, as sent back in `x-request-id`.
    pub request_id: String,
    /// Gold table versions of the snapshot read (`table@version,…`).
    pub snapshot_version: String,
}

#[derive(Serialize)]
struct MetaJson<'a> {
    timestamp: String,
    request_id: &'a str,
    snapshot_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    message: &'a str,
}

fn meta_json(meta: &Meta, next_cursor: Option<&str>) -> String {
    serde_json::to_string(&MetaJson {
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        request_id: &meta.request_id,
        snapshot_version: &meta.snapshot_version,
        next_cursor,
    })
    .unwrap_or_else(|_| "{}".into())
}

/// A successful answer around already-serialised `data`.
pub fn ok(meta: &Meta, data: &str, next_cursor: Option<&str>) -> Response {
    let meta = meta_json(meta, next_cursor);
    let mut body = String::with_capacity(data.len() + meta.len() + 48);
    body.push_str("{\"success\":true,\"data\":");
    body.push_str(data);
    body.push_str(",\"meta\":");
    body.push_str(&meta);
    body.push_str(",\"errors\":[]}");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A successful answer around a value to serialise.
pub fn ok_value(meta: &Meta, data: &impl Serialize, next_cursor: Option<&str>) -> Response {
    match serde_json::to_string(data) {
        Ok(json) => ok(meta, &json, next_cursor),
        Err(e) => fail(
            meta,
            ApiError::unavailable(&format!("cannot serialise the answer: {e}")),
        ),
    }
}

/// An error answer; a rate-limit error carries `Retry-After`.
pub fn fail(meta: &Meta, e: ApiError) -> Response {
    fail_with(meta, e, "null")
}

/// An error answer with `data` (such as per-record results of a partly stored batch).
pub fn fail_with(meta: &Meta, e: ApiError, data: &str) -> Response {
    let errors = serde_json::to_string(&[ErrorJson {
        code: e.code,
        message: &e.message,
    }])
    .unwrap_or_else(|_| "[]".into());
    let body = format!(
        "{{\"success\":false,\"data\":{data},\"meta\":{},\"errors\":{errors}}}",
        meta_json(meta, None)
    );
    let mut response =
        (e.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(seconds) = e.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
