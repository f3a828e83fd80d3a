//! The OpenAPI 3.1 document, generated from the route annotations and types in the code.
//!
//! Invariant: every route of [`crate::routes::router`] but the dashboard page, Prometheus
//! metrics, the WebSocket and this document itself appears here (a test lists them).

use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The envelope of every answer.
#[derive(Serialize, ToSchema)]
pub struct Reply {
    /// Whether the request succeeded; `errors` is empty exactly when it did.
    pub success: bool,
    /// The answer; `null` on errors (or per-record results for `POST /v1/events`).
    pub data: Option<serde_json::Value>,
    /// Request id, snapshot version and paging cursor.
    pub meta: MetaDoc,
    /// What went wrong; empty on success.
    pub errors: Vec<ErrorDoc>,
}

/// `meta` of every answer.
#[derive(Serialize, ToSchema)]
pub struct MetaDoc {
    /// When the answer was built: RFC 3339, UTC, milliseconds.
    pub timestamp: String,
    /// The request's id, also sent as `x-request-id` (the client's own, when it sent one).
    pub request_id: String,
    /// The gold table versions the answer was read from (`table@version,…`).
    pub snapshot_version: String,
    /// The cursor of the next page of a list, when there is one.
    pub next_cursor: Option<String>,
}

/// One error: a stable code and a message safe to show.
#[derive(Serialize, ToSchema)]
pub struct ErrorDoc {
    /// `VALIDATION_ERROR`, `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`, `RATE_LIMITED`,
    /// `PAYLOAD_TOO_LARGE`, `UNAVAILABLE`, …
    pub code: String,
    /// What went wrong, for people; never reveals another tenant's data.
    pub message: String,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 (a configured secret) or RS256 (JWKS); claims sub, tenant_id, roles",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eventlake serving API",
        description = "Matches, personalisation context and metrics from the lake's gold tables, scoped to the token's tenant. WebSocket push at /v1/ws (topics matches:opportunity:ID, matches:party:ID, context:user:ID, metrics:NAME)."
    ),
    paths(
        crate::routes::health,
        crate::routes::ready,
        crate::routes::opportunity_matches,
        crate::routes::opportunity_teams,
        crate::routes::party_matches,
        crate::routes::party_barter_cycles,
        crate::routes::mentorship,
        crate::routes::user_context,
        crate::routes::metric_catalogue,
        crate::routes::metric_series,
        crate::routes::post_events,
    ),
    components(schemas(Reply, MetaDoc, ErrorDoc)),
    modifiers(&Bearer)
)]
struct Doc;

/// The document as JSON.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        Doc::openapi()
            .to_pretty_json()
            .expect("the document serialises")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rest_route_is_documented_with_bearer_auth() {
        let doc: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/v1/health",
            "/v1/ready",
            "/v1/opportunities/{id}/matches",
            "/v1/opportunities/{id}/teams",
            "/v1/parties/{id}/matches",
            "/v1/parties/{id}/barter-cycles",
            "/v1/mentorship/{party_id}",
            "/v1/users/{id}/context",
            "/v1/metrics",
            "/v1/metrics/{name}",
            "/v1/events",
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
        assert_eq!(paths.len(), 11);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
