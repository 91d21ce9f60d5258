//! Verification of Cognito-shaped RS256 access tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::keys::{KeyMap, RemoteKeys, keys_from_set};
use crate::{AuthError, AuthenticatedUser};

/// Clock skew tolerated on `exp` (and `nbf`) unless configured otherwise.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

/// The least time between two fetches of a [`KeySource::Url`] key set prompted by unknown `kid`s.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Tokens are a kilobyte or two; refusing huge ones up front bounds the work an anonymous
/// request can cause before its signature is checked.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The only algorithm accepted, compared as text before any key is looked at.
const ACCEPTED_ALGORITHM: &str = "RS256";

/// What a token must have been issued by and for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Expected `iss`, compared exactly (see [`crate::cognito_issuer`]).
    pub issuer: String,
    /// Expected `client_id`: the user pool app client the API serves.
    pub client_id: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

impl VerifierConfig {
    /// A configuration with the default leeway ([`DEFAULT_LEEWAY_SECONDS`]).
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS fetched over HTTP(S) on first use and cached; refetched when a token names an
    /// unknown `kid` (the issuer rotated its keys), at most once per
    /// [`DEFAULT_MIN_REFETCH_INTERVAL`].
    Url(String),
    /// Fixed keys: tests, and the development issuer running in-process.
    Static(JwkSet),
}

/// Verified tokens remembered at most; a full cache is emptied of expired entries, then of all.
const MAX_CACHED_TOKENS: usize = 10_000;

/// Verifies bearer tokens. Cheap to clone (shared state), `Send + Sync`.
///
/// A token that verified is remembered (by its SHA-256, with its user) until it expires, so a
/// client's next requests with it skip the RSA signature check. Every claim check ran on the
/// first use and none depends on anything but the token and the clock; the expiry is checked on
/// every use. (A key withdrawn from the JWKS thus stops new tokens only: Cognito access tokens
/// are valid until they expire in any case.)
#[derive(Clone)]
pub struct JwtVerifier {
    config: Arc<VerifierConfig>,
    validation: Arc<Validation>,
    keys: Arc<Keys>,
    verified: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
}

#[derive(Clone)]
struct Verified {
    user: AuthenticatedUser,
    /// Unix seconds after which the token is refused: its `exp` plus the leeway.
    valid_until: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

enum Keys {
    Static(KeyMap),
    Remote(RemoteKeys),
}

impl JwtVerifier {
    /// A verifier for tokens issued by `config.issuer` to `config.client_id`, checked with `keys`.
    /// A [`KeySource::Url`] is not fetched until the first token arrives.
    pub fn new(config: VerifierConfig, keys: KeySource) -> Self {
        let keys = match keys {
            KeySource::Static(set) => Keys::Static(keys_from_set(&set)),
            KeySource::Url(url) => Keys::Remote(RemoteKeys::new(url, DEFAULT_MIN_REFETCH_INTERVAL)),
        };
        Self {
            validation: Arc::new(validation_for(&config)),
            config: Arc::new(config),
            keys: Arc::new(keys),
            verified: Arc::default(),
        }
    }

    /// Changes how often a [`KeySource::Url`] key set may be refetched (no effect on static
    /// keys). Meant for construction time: the new setting starts with an empty cache.
    pub fn with_min_refetch_interval(self, interval: Duration) -> Self {
        let keys = match &*self.keys {
            Keys::Remote(remote) => Arc::new(Keys::Remote(RemoteKeys::new(
                remote.url().to_owned(),
                interval,
            ))),
            Keys::Static(_) => self.keys,
        };
        Self {
            keys,
            verified: Arc::default(),
            ..self
        }
    }

    /// The configuration tokens are checked against.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies a bearer token (without the `Bearer ` prefix) and says who it belongs to.
    ///
    /// The checks run in this order, and the first failure is returned: the token is present
    /// and shaped like a JWT; the header's `alg` is RS256 (before any key is touched); the header
    /// has a `kid` naming a published key; the signature is valid; `exp` (and `nbf`, if present)
    /// allow the current time within the leeway; `iss` is the configured issuer; `sub` is present;
    /// `token_use` is `access`; `client_id` is the configured client.
    pub async fn verify(&self, token: &str) -> Result<AuthenticatedUser, AuthError> {
        if token.trim().is_empty() {
            return Err(AuthError::MissingToken);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed(format!(
                "longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        if let Some(user) = self.cached(&digest, now) {
            return Ok(user);
        }
        let kid = checked_key_id(token)?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map_err(from_jwt_error)?
            .claims;
        let valid_until = claims
            .exp
            .map(|exp| exp.saturating_add(self.config.leeway_seconds));
        let user = self.user_from(claims)?;
        if let Some(valid_until) = valid_until {
            self.remember(digest, user.clone(), valid_until, now);
        }
        Ok(user)
    }

    fn cached(&self, digest: &[u8; 32], now: u64) -> Option<AuthenticatedUser> {
        let verified = self.verified.lock().ok()?;
        let hit = verified.get(digest)?;
        // Past its expiry the token goes through the full check again, which refuses it.
        (now < hit.valid_until).then(|| hit.user.clone())
    }

    fn remember(&self, digest: [u8; 32], user: AuthenticatedUser, valid_until: u64, now: u64) {
        let Ok(mut verified) = self.verified.lock() else {
            return;
        };
        if verified.len() >= MAX_CACHED_TOKENS {
            verified.retain(|_, entry| now < entry.valid_until);
            if verified.len() >= MAX_CACHED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(digest, Verified { user, valid_until });
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        match &*self.keys {
            Keys::Static(keys) => keys.get(kid).cloned().ok_or_else(|| AuthError::UnknownKey {
                kid: kid.to_owned(),
            }),
            Keys::Remote(remote) => remote.key(kid).await,
        }
    }

    /// The checks `jsonwebtoken` does not know about: Cognito puts the app client in `client_id`
    /// (access tokens have no `aud`) and tells access and ID tokens apart with `token_use`.
    fn user_from(&self, claims: AccessClaims) -> Result<AuthenticatedUser, AuthError> {
        let user_id = claims
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
        match claims.token_use.as_deref() {
            Some("access") => {}
            Some(other) => return Err(AuthError::WrongTokenUse(other.to_owned())),
            None => return Err(AuthError::MissingClaim("token_use".to_owned())),
        }
        match claims.client_id {
            Some(client_id) if client_id == self.config.client_id => {}
            Some(_) => return Err(AuthError::WrongClient),
            None => return Err(AuthError::MissingClaim("client_id".to_owned())),
        }
        let username = claims
            .username
            .or(claims.cognito_username)
            .filter(|name| !name.is_empty());
        Ok(AuthenticatedUser {
            user_id,
            username,
            groups: claims.groups,
        })
    }
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &*self.keys {
            Keys::Static(keys) => format!("static ({} keys)", keys.len()),
            Keys::Remote(remote) => format!(
                "{} (refetch at most every {:?})",
                remote.url(),
                remote.min_refetch_interval()
            ),
        };
        f.debug_struct("JwtVerifier")
            .field("config", &self.config)
            .field("keys", &keys)
            .finish()
    }
}

fn validation_for(config: &VerifierConfig) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = config.leeway_seconds;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // Cognito access tokens carry no `aud`; the client is checked through `client_id` instead.
    validation.validate_aud = false;
    validation.set_issuer(&[&config.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation
}

/// The claims read from an access token. Everything is optional here so that a missing claim
/// is reported by name rather than as unparseable JSON.
#[derive(Deserialize)]
struct AccessClaims {
    /// Required and checked by the validation; optional here like the rest.
    exp: Option<u64>,
    sub: Option<String>,
    token_use: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

/// The header fields that matter, read as plain text: `jsonwebtoken`'s own header type cannot
/// represent `alg: none`, and the algorithm must be judged before anything else happens.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    /// Extensions the recipient must understand or reject (RFC 7515 section 4.1.11); Cognito
    /// uses none and this crate understands none.
    crit: Option<serde_json::Value>,
}

/// Checks the token's shape and header, returning its `kid`.
///
/// Rejecting every algorithm but RS256 here, before a key is chosen, is what defeats algorithm
/// confusion: a token signed with HS256 using the public key as the HMAC secret never reaches
/// a verification routine.
fn checked_key_id(token: &str) -> Result<String, AuthError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _payload, _signature] = parts[..] else {
        return Err(AuthError::Malformed(
            "expected three dot-separated parts".to_owned(),
        ));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("the header is not base64url".to_owned()))?;
    let header: RawHeader = serde_json::from_slice(&header)
        .map_err(|_| AuthError::Malformed("the header is not a JSON object".to_owned()))?;
    match header.alg.as_deref() {
        Some(ACCEPTED_ALGORITHM) => {}
        Some(other) => return Err(AuthError::UnsupportedAlgorithm(other.to_owned())),
        None => {
            return Err(AuthError::Malformed(
                "the header names no algorithm".to_owned(),
            ));
        }
    }
    if header.crit.is_some() {
        return Err(AuthError::Malformed(
            "the header lists critical extensions, which are not supported".to_owned(),
        ));
    }
    header.kid.ok_or(AuthError::MissingKeyId)
}

fn from_jwt_error(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.into_kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim),
        ErrorKind::InvalidToken => {
            AuthError::Malformed("expected three dot-separated parts".to_owned())
        }
        ErrorKind::Base64(_) => AuthError::Malformed("a part is not base64url".to_owned()),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => AuthError::Malformed(
            "the claims are not a JSON object of the expected shape".to_owned(),
        ),
        // Anything else (an unusable published key, a crypto failure, or an algorithm mismatch,
        // which the header check and RSA-only key sets already rule out) means the signature
        // could not be confirmed: for the client, the same as a bad one.
        other => {
            tracing::debug!(error = ?other, "token signature could not be verified");
            AuthError::BadSignature
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn header_check_rejects_foreign_algorithms_before_keys() {
        for alg in ["none", "HS256", "RS512", "PS256", "ES256"] {
            let token = format!(
                "{}.e30.c2ln",
                encode(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#))
            );
            assert!(
                matches!(checked_key_id(&token), Err(AuthError::UnsupportedAlgorithm(found)) if found == alg),
                "{alg} must be refused"
            );
        }
    }

    #[test]
    fn header_check_requires_a_kid() {
        let token = format!("{}.e30.c2ln", encode(r#"{"alg":"RS256"}"#));
        assert!(matches!(
            checked_key_id(&token),
            Err(AuthError::MissingKeyId)
        ));
    }

    #[test]
    fn header_check_refuses_critical_extensions_it_cannot_honour() {
        let token = format!(
            "{}.e30.c2ln",
            encode(r#"{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}"#)
        );
        assert!(matches!(
            checked_key_id(&token),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn header_check_returns_the_kid_of_an_rs256_token() {
        let token = format!("{}.e30.c2ln", encode(r#"{"alg":"RS256","kid":"key-1"}"#));
        assert_eq!(checked_key_id(&token).ok().as_deref(), Some("key-1"));
    }
}
