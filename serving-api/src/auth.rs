//! Bearer JWT authentication: HS256 with a configured secret (local use) or RS256 with keys
//! from a JWKS URL (production, as Amazon Cognito issues them).
//!
//! Invariant: only tokens of the configured algorithm, signed by a configured key, with `exp`,
//! `sub` and a tenant, and with `iss` and `aud` when an issuer and an audience are configured,
//! pass, and only while in force (not past `exp`, not before `nbf`); `alg: none`, other
//! algorithms, unknown keys, bad signatures, missing or wrong claims, malformed, expired or not
//! yet valid tokens are all `UNAUTHENTICATED`. REST routes, the collector and the WebSocket
//! upgrade all verify through [`Auth::verify_token`], cached or not.

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
    /// The user the token was issued to; never empty.
    pub sub: String,
    /// The tenant every data route is scoped to; never empty.
    #[serde(alias = "custom:tenant_id")]
    pub tenant_id: String,
    /// Roles some routes and topics require; none when the claim is absent.
    #[serde(default, alias = "cognito:groups")]
    pub roles: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

impl Claims {
    /// Whether `roles` holds `role` (exact match).
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
    /// Tokens already verified: a client sends the same token with every request, and a
    /// lookup costs far less than a signature check. Only tokens that passed every check are
    /// remembered, and their `exp` and `nbf` are checked again on every use, so a hit never
    /// admits a token a fresh verification would refuse; the cache is emptied when it reaches
    /// [`VERIFIED_MAX`].
    verified: RwLock<HashMap<Box<str>, Verified>>,
}

/// A token that passed verification.
#[derive(Clone)]
struct Verified {
    claims: Arc<Claims>,
    /// Its `nbf`, seconds since the epoch ([`Claims`] does not carry it).
    not_before: Option<u64>,
}

/// Most tokens remembered as verified.
pub const VERIFIED_MAX: usize = 10_000;

/// Why a JWKS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The JWKS could not be fetched or is not a JSON key set.
    #[error("fetching the JWKS from {url}: {source}")]
    Fetch {
        /// The JWKS URL.
        url: String,
        /// The HTTP client's error (connection, status or body).
        source: reqwest::Error,
    },
    /// The JWKS holds no key with a `kid` that decodes as a verification key.
    #[error("the JWKS at {url} has no usable RS256 key")]
    Empty {
        /// The JWKS URL.
        url: String,
    },
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
        let known = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        if let Some(known) = known {
            self.in_force(&known, jsonwebtoken::get_current_timestamp())?;
            return Ok(known.claims);
        }
        let fresh = self.check(token).await?;
        let claims = Arc::clone(&fresh.claims);
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(token.into(), fresh);
        Ok(claims)
    }

    /// Refuses a remembered token outside its time window at `now`, by the arithmetic and
    /// leeway jsonwebtoken applies to a fresh token (expired when `exp < now - leeway`, not yet
    /// valid when `nbf > now + leeway`), so that a cache hit and a fresh verification agree.
    fn in_force(&self, verified: &Verified, now: u64) -> Result<(), ApiError> {
        let leeway = self.validation.leeway;
        if verified.claims.exp < now.saturating_sub(leeway) {
            return Err(expired());
        }
        if verified
            .not_before
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(not_yet_valid());
        }
        Ok(())
    }

    /// Verifies `token`'s signature and claims.
    async fn check(&self, token: &str) -> Result<Verified, ApiError> {
        let payload = match &self.keys {
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
        // jsonwebtoken checks `nbf` only when it parses as a number; one that does not is
        // refused here rather than ignored.
        let not_before = match payload.get("nbf").map(serde_json::Value::as_u64) {
            None => None,
            Some(Some(nbf)) => Some(nbf),
            Some(None) => {
                return Err(ApiError::unauthenticated(
                    "token's nbf claim is not a number of seconds",
                ));
            }
        };
        let claims: Claims = serde_json::from_value(payload).map_err(|e| {
            ApiError::unauthenticated(&format!("token's claims are not readable: {e}"))
        })?;
        if claims.tenant_id.is_empty() || claims.sub.is_empty() {
            return Err(ApiError::unauthenticated("token has no subject or tenant"));
        }
        Ok(Verified {
            claims: Arc::new(claims),
            not_before,
        })
    }
}

/// The checks jsonwebtoken applies after the signature: `exp` and `sub` always present, `iss`
/// and `aud` present and equal to the configured ones when configured, `exp` and `nbf` (when
/// present) against the clock with no leeway.
fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(alg);
    let mut required = vec!["exp", "sub"];
    validation.leeway = 0;
    validation.validate_nbf = true;
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        // jsonwebtoken would refuse every token naming an audience when none is configured.
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(required.as_slice());
    validation
}

/// The verified payload of `token`, as JSON: decoding into [`Claims`] directly would fail on a
/// missing field before jsonwebtoken could say which required claim is missing.
fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<serde_json::Value, ApiError> {
    jsonwebtoken::decode::<serde_json::Value>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| refusal(&e))
}

/// What a client is told about a token jsonwebtoken refused. Claims are validated only after
/// the signature, so naming the claim at fault tells nothing to someone without a key; a bad
/// shape, signature or algorithm gets the one generic answer.
fn refusal(e: &jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::MissingRequiredClaim(claim) => {
            ApiError::unauthenticated(&format!("token has no {claim} claim"))
        }
        ErrorKind::ExpiredSignature => expired(),
        ErrorKind::ImmatureSignature => not_yet_valid(),
        ErrorKind::InvalidIssuer => {
            ApiError::unauthenticated("token's iss is not the accepted issuer")
        }
        ErrorKind::InvalidAudience => {
            ApiError::unauthenticated("token's aud does not name the accepted audience")
        }
        _ => invalid(),
    }
}

fn invalid() -> ApiError {
    ApiError::unauthenticated("invalid token")
}

fn expired() -> ApiError {
    ApiError::unauthenticated("token has expired (its exp is past)")
}

fn not_yet_valid() -> ApiError {
    ApiError::unauthenticated("token is not valid yet (its nbf is in the future)")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered token is held to its `exp` and `nbf` on every hit: one remembered while in
    /// force is refused once the clock is before its `nbf` (the clock stepped back) or past its
    /// `exp`. The keys are not tokens, so a miss would answer "invalid token" instead.
    #[tokio::test]
    async fn a_remembered_token_is_refused_outside_its_time_window() {
        let auth = Auth::hs256(b"unit-test-secret-0123");
        let now = jsonwebtoken::get_current_timestamp();
        let cases = [
            ("in force", now + 600, Some(now - 600), None),
            ("early", now + 7200, Some(now + 3600), Some(not_yet_valid())),
            ("expired", now - 600, None, Some(expired())),
        ];
        for (token, exp, not_before, _) in &cases {
            let claims = Claims {
                sub: "user-1".into(),
                tenant_id: "tenant-a".into(),
                roles: Vec::new(),
                exp: *exp,
            };
            let verified = Verified {
                claims: Arc::new(claims),
                not_before: *not_before,
            };
            auth.verified
                .write()
                .unwrap()
                .insert((*token).into(), verified);
        }
        for (token, _, _, expected) in cases {
            let answer = auth.verify_token(token).await;
            assert_eq!(answer.as_ref().err(), expected.as_ref(), "{token}");
            if expected.is_none() {
                assert_eq!(answer.unwrap().tenant_id, "tenant-a");
            }
        }
    }
}
