//! Bearer JWT authentication: HS256 with a configured secret (local use).
//!
//! Invariant: only HS256 tokens signed with the secret, unexpired, with `sub` and `tenant_id`,
//! pass; `alg: none`, other algorithms, bad signatures, malformed or expired tokens are all
//! `UNAUTHENTICATED`.

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The claims the API reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Verifies tokens.
#[derive(Clone)]
pub struct Auth {
    key: DecodingKey,
    validation: Validation,
}

impl Auth {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The claims of the request's `Authorization: Bearer` token.
    pub fn verify(&self, headers: &HeaderMap) -> Result<Claims, ApiError> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?
            .to_str()
            .map_err(|_| ApiError::unauthenticated("malformed authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthenticated("authorization is not a bearer token"))?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|_| ApiError::unauthenticated("invalid or expired token"))?;
        if data.claims.tenant_id.is_empty() {
            return Err(ApiError::unauthenticated("token has no tenant"));
        }
        Ok(data.claims)
    }
}

/// Signs an HS256 token (for the demo and the tests).
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing with a secret cannot fail")
}
