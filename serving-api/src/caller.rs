//! Extractors: who is calling (a verified, rate-limited tenant) and what they read (the
//! snapshot current when the request arrived, and the request id).
//!
//! Invariant: a handler taking a [`Caller`] only runs for a valid token within its tenant's
//! rate limit; every failure is answered in the envelope before the handler is reached.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use crate::AppState;
use crate::auth::Claims;
use crate::envelope::{self, Meta};
use crate::error::ApiError;
use crate::observe::{RequestId, Tenant};
use crate::snapshot::Snapshot;

/// A request of anyone: the snapshot it reads and its `meta`.
pub struct Public {
    /// The snapshot current when the request arrived; read for the whole request.
    pub snapshot: Arc<Snapshot>,
    /// The request id and snapshot version every answer carries.
    pub meta: Meta,
}

/// An authenticated request.
pub struct Caller {
    /// The verified token's claims; `tenant_id` scopes every lookup.
    pub claims: Arc<Claims>,
    /// The snapshot current when the request arrived; read for the whole request.
    pub snapshot: Arc<Snapshot>,
    /// The request id and snapshot version every answer carries.
    pub meta: Meta,
}

/// What a data route answers: pre-serialised JSON and the next page's cursor.
pub struct Data {
    /// The envelope's `data`, already serialised JSON.
    pub json: String,
    /// `meta.next_cursor`: the cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

impl Data {
    /// An answer that is not paged (no next cursor).
    pub fn whole(json: String) -> Self {
        Self {
            json,
            next_cursor: None,
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Public {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let snapshot = state.current();
        let meta = Self::meta_of(parts, &snapshot);
        Ok(Self { snapshot, meta })
    }
}

impl Public {
    /// The `meta` of a request reading the current snapshot.
    pub fn meta(parts: &Parts, state: &AppState) -> Meta {
        Self::meta_of(parts, &state.current())
    }

    fn meta_of(parts: &Parts, snapshot: &Snapshot) -> Meta {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Meta {
            request_id,
            snapshot_version: snapshot.version().to_owned(),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Public { snapshot, meta } = Public::from_request_parts(parts, state).await?;
        let claims = match state.auth.verify(&parts.headers).await {
            Ok(claims) => claims,
            Err(e) => return Err(envelope::fail(&meta, e)),
        };
        if let Err(e) = state.rate.check(&claims.tenant_id) {
            let mut response = envelope::fail(&meta, e);
            response
                .extensions_mut()
                .insert(Tenant(claims.tenant_id.clone()));
            return Err(response);
        }
        Ok(Self {
            claims,
            snapshot,
            meta,
        })
    }
}

impl Caller {
    /// Fails unless the token holds `role`.
    pub fn require(&self, role: &str) -> Result<(), ApiError> {
        if self.claims.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(&format!(
                "this route needs the {role} role"
            )))
        }
    }

    /// The answer for `result`, tagged with the tenant for the access log.
    pub fn reply(&self, result: Result<Data, ApiError>) -> Response {
        match result {
            Ok(data) => self.tagged(envelope::ok(
                &self.meta,
                &data.json,
                data.next_cursor.as_deref(),
            )),
            Err(e) => self.reply_with(e, "null"),
        }
    }

    /// An error answer carrying `data` (such as per-record results).
    pub fn reply_with(&self, e: ApiError, data: &str) -> Response {
        self.tagged(envelope::fail_with(&self.meta, e, data))
    }

    fn tagged(&self, mut response: Response) -> Response {
        response
            .extensions_mut()
            .insert(Tenant(self.claims.tenant_id.clone()));
        response
    }
}

/// Query parameters, with a malformed query answered as a `VALIDATION_ERROR` in the envelope.
pub struct Params<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<Arc<AppState>> for Params<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Params).map_err(|e| {
            let meta = Public::meta(parts, state);
            envelope::fail(
                &meta,
                ApiError::validation(format!("bad query string: {e}")),
            )
        })
    }
}
