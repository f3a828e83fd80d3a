//! API errors: a stable code, an HTTP status and a message safe to show a client.
//!
//! Invariant: a message never reveals whether another tenant's entity exists; a lookup outside
//! the caller's tenant is `NOT_FOUND`, worded exactly as a missing id.

use axum::http::StatusCode;

/// One API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stable code for clients to match on (`NOT_FOUND`, `RATE_LIMITED`, …).
    pub code: &'static str,
    /// What went wrong, safe to show the client.
    pub message: String,
    /// Seconds after which a rate-limited caller may retry (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
            retry_after: None,
        }
    }

    /// 401 `UNAUTHENTICATED`: no token, or one that does not verify.
    pub fn unauthenticated(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message.into())
    }

    /// 403 `FORBIDDEN`: a valid token without the role a route or topic needs.
    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message.into())
    }

    /// 404 `NOT_FOUND`, `no {what} {id}`; also the answer for an id of another tenant.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no {what} {id}"),
        )
    }

    /// 400 `VALIDATION_ERROR`: a malformed parameter, query, body or WebSocket message.
    pub fn validation(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 429 `RATE_LIMITED`, with `Retry-After` of `retry_after` seconds.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("too many requests for this tenant; retry in {retry_after} s"),
            )
        }
    }

    /// 503 `UNAVAILABLE`: the server cannot serve this (not ready, not collecting events, an
    /// answer that cannot be built).
    pub fn unavailable(message: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            message.into(),
        )
    }

    /// An error from a stable code the ingest collector reports.
    pub fn coded(status: StatusCode, code: &'static str, message: String) -> Self {
        Self::new(status, code, message)
    }
}
