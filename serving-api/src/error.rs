//! API errors: a stable code, an HTTP status and a message safe to show a client.
//!
//! Invariant: a message never reveals whether another tenant's entity exists; a lookup outside
//! the caller's tenant is `NOT_FOUND`, worded exactly as a missing id.

use axum::http::StatusCode;

/// One API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn unauthenticated(message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHENTICATED",
            message: message.to_owned(),
        }
    }

    pub fn forbidden(message: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "FORBIDDEN",
            message: message.to_owned(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: format!("no {what} {id}"),
        }
    }

    pub fn validation(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "VALIDATION_ERROR",
            message,
        }
    }
}
