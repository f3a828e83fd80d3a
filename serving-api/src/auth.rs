//! Bearer JWT authentication: HS256 with a configured secret (local use) or RS256 with keys
//! from a JWKS URL (production, as Amazon Cognito issues them).
//!
//! Invariant: only tokens of the configured algorithm, signed by a configured key, unexpired,
//! with `sub` and a tenant, pass; `alg: none`, other algorithms, unknown keys, bad signatures,
//! malformed or expired tokens are all `UNAUTHENTICATED`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The claims the API reads. Cognito's `custom:tenant_id` and `cognito:groups` are read as
/// `tenant_id` and `roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(alias = "custom:tenant_id")]
    pub tenant_id: String,
    #[serde(default, alias = "cognito:groups")]
    pub roles: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Where verification keys come from.
enum Keys {
    Secret(DecodingKey),
    Jwks(Jwks),
}

/// RS256 keys by `kid`, fetched from a JWKS URL and refetched when a token names an unknown
/// key (at most once per [`JWKS_REFETCH`]).
struct Jwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetched: Mutex<Instant>,
}

/// Least time between two JWKS fetches triggered by unknown key ids.
pub const JWKS_REFETCH: Duration = Duration::from_secs(30);

/// Verifies tokens.
pub struct Auth {
    keys: Keys,
    validation: Validation,
    /// Tokens already verified, with their claims: a client sends the same token with every
    /// request, and a lookup costs far less than a signature check. Expiry is still checked
    /// on every use; the cache is emptied when it reaches [`VERIFIED_MAX`].
    verified: RwLock<HashMap<Box<str>, Arc<Claims>>>,
}

/// Most tokens remembered as verified.
pub const VERIFIED_MAX: usize = 10_000;

/// Why a JWKS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("fetching the JWKS from {url}: {source}")]
    Fetch { url: String, source: reqwest::Error },
    #[error("the JWKS at {url} has no usable RS256 key")]
    Empty { url: String },
}

impl Auth {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            keys: Keys::Secret(DecodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256, None, None),
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// RS256 with the keys published at `url`; `issuer` and `audience` are checked when given.
    pub async fn rs256(
        url: &str,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, JwksError> {
        let jwks = Jwks {
            url: url.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|source| JwksError::Fetch {
                    url: url.to_owned(),
                    source,
                })?,
            keys: RwLock::new(HashMap::new()),
            fetched: Mutex::new(Instant::now()),
        };
        jwks.fetch().await?;
        Ok(Self {
            keys: Keys::Jwks(jwks),
            validation: validation(Algorithm::RS256, issuer, audience),
            verified: RwLock::new(HashMap::new()),
        })
    }

    /// The claims of the request's `Authorization: Bearer` token.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<Arc<Claims>, ApiError> {
        self.verify_token(bearer(headers)?).await
    }

    /// The claims of `token`.
    pub async fn verify_token(&self, token: &str) -> Result<Arc<Claims>, ApiError> {
        let now = jsonwebtoken::get_current_timestamp();
        let known = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        if let Some(claims) = known {
            return if claims.exp > now {
                Ok(claims)
            } else {
                Err(ApiError::unauthenticated("invalid or expired token"))
            };
        }
        let claims = Arc::new(self.check(token).await?);
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(token.into(), Arc::clone(&claims));
        Ok(claims)
    }

    /// Verifies `token`'s signature and claims.
    async fn check(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthenticated("invalid or expired token");
        let claims = match &self.keys {
            Keys::Secret(key) => decode(token, key, &self.validation)?,
            Keys::Jwks(jwks) => {
                let kid = jsonwebtoken::decode_header(token)
                    .map_err(|_| invalid())?
                    .kid
                    .ok_or_else(invalid)?;
                if !jwks.has(&kid) {
                    jwks.refetch().await;
                }
                let keys = jwks.keys.read().unwrap_or_else(|e| e.into_inner());
                decode(token, keys.get(&kid).ok_or_else(invalid)?, &self.validation)?
            }
        };
        if claims.tenant_id.is_empty() || claims.sub.is_empty() {
            return Err(ApiError::unauthenticated("token has no subject or tenant"));
        }
        Ok(claims)
    }
}

fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.leeway = 0;
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
    }
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    validation
}

fn decode(token: &str, key: &DecodingKey, validation: &Validation) -> Result<Claims, ApiError> {
    jsonwebtoken::decode::<Claims>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|_| ApiError::unauthenticated("invalid or expired token"))
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed authorization header"))?;
    header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthenticated("authorization is not a bearer token"))
}

impl Jwks {
    fn has(&self, kid: &str) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(kid)
    }

    async fn fetch(&self) -> Result<(), JwksError> {
        let failed = |source| JwksError::Fetch {
            url: self.url.clone(),
            source,
        };
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                Some((kid, DecodingKey::from_jwk(jwk).ok()?))
            })
            .collect();
        if keys.is_empty() {
            return Err(JwksError::Empty {
                url: self.url.clone(),
            });
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    /// Fetches again unless the last fetch was less than [`JWKS_REFETCH`] ago.
    async fn refetch(&self) {
        {
            let mut fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
            if fetched.elapsed() < JWKS_REFETCH {
                return;
            }
            *fetched = Instant::now();
        }
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "JWKS refetch failed; keeping the known keys");
        }
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
