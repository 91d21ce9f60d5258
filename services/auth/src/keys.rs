//! Signing keys: turning a JWKS into decoding keys, and the fetched-and-cached remote key set.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};

use crate::AuthError;

/// Verification keys by `kid`.
pub(crate) type KeyMap = HashMap<String, DecodingKey>;

/// How long a failed fetch suppresses the next attempt. Much shorter than the refetch interval so
/// that an API started while the JWKS endpoint is unreachable recovers quickly, yet an outage does
/// not turn every request into an outbound HTTP call.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A JWKS is a few kilobytes; a slow endpoint must not hold requests for long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The RS256 signature keys of a key set. Keys without a `kid`, of another type, or declared
/// for another algorithm or use are left out, so they can never be chosen for verification.
pub(crate) fn keys_from_set(set: &JwkSet) -> KeyMap {
    set.keys.iter().filter_map(usable_key).collect()
}

fn usable_key(jwk: &Jwk) -> Option<(String, DecodingKey)> {
    let kid = jwk.common.key_id.clone()?;
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return None;
    };
    if jwk
        .common
        .key_algorithm
        .is_some_and(|alg| alg != KeyAlgorithm::RS256)
    {
        return None;
    }
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|key_use| *key_use != PublicKeyUse::Signature)
    {
        return None;
    }
    match DecodingKey::from_rsa_components(&rsa.n, &rsa.e) {
        Ok(key) => Some((kid, key)),
        Err(error) => {
            tracing::warn!(%kid, %error, "ignoring a JWKS key that is not a valid RSA public key");
            None
        }
    }
}

/// The loose shape of a JWKS document. Each key is parsed on its own so that one key of a kind
/// `jsonwebtoken` cannot represent (say, an encryption key with an unknown `alg`) does not make
/// the whole set unusable.
#[derive(serde::Deserialize)]
struct LooseJwkSet {
    keys: Vec<serde_json::Value>,
}

/// A key set fetched over HTTP(S), cached, and refetched when a token names an unknown `kid`.
pub(crate) struct RemoteKeys {
    url: String,
    client: Result<reqwest::Client, String>,
    min_refetch_interval: Duration,
    /// Read on every request; replaced wholesale after a successful fetch.
    current: RwLock<Arc<KeyMap>>,
    /// Held while fetching, so concurrent requests with a new `kid` cause one fetch, not many.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Default)]
struct RefreshState {
    last_success: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

impl RemoteKeys {
    pub(crate) fn new(url: String, min_refetch_interval: Duration) -> Self {
        // Building the client only fails if the TLS backend cannot initialise; keeping the error
        // lets `new` stay infallible and reports it as an unavailable key set on first use.
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|error| format!("cannot create an HTTP client: {error}"));
        Self {
            url,
            client,
            min_refetch_interval,
            current: RwLock::new(Arc::new(KeyMap::new())),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn min_refetch_interval(&self) -> Duration {
        self.min_refetch_interval
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        // A writer only swaps an `Arc`, so a poisoned lock still guards a consistent map.
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.get(kid).cloned()
    }

    fn has_keys(&self) -> bool {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        !current.is_empty()
    }

    /// The key for `kid`: from the cache, or from a refetch if the rate limit allows one.
    pub(crate) async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut state = self.refresh.lock().await;
        // Another request may have fetched the key while this one waited for the lock.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = Instant::now();
        if state
            .last_success
            .is_some_and(|at| now.duration_since(at) < self.min_refetch_interval)
        {
            // The set is fresh, so the kid is unknown to the issuer; refetching on every such token
            // would let anyone make this service hammer the JWKS endpoint.
            return Err(AuthError::UnknownKey {
                kid: kid.to_owned(),
            });
        }
        if let Some((at, reason)) = &state.last_failure
            && now.duration_since(*at) < RETRY_AFTER_FAILURE
        {
            return Err(AuthError::KeySetUnavailable(reason.clone()));
        }
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched the token issuer's JWKS");
                let found = keys.get(kid).cloned();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                state.last_success = Some(now);
                state.last_failure = None;
                found.ok_or_else(|| AuthError::UnknownKey {
                    kid: kid.to_owned(),
                })
            }
            Err(reason) => {
                tracing::warn!(
                    url = %self.url,
                    %reason,
                    have_cached_keys = self.has_keys(),
                    "could not fetch the token issuer's JWKS"
                );
                state.last_failure = Some((now, reason.clone()));
                // Even with cached keys the verdict is "unknown": the token may be signed with a
                // freshly rotated key we could not fetch, so the client should retry, not re-login.
                Err(AuthError::KeySetUnavailable(reason))
            }
        }
    }

    async fn fetch(&self) -> Result<KeyMap, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let response = client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("GET {} failed: {error}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {} answered {status}", self.url));
        }
        let loose: LooseJwkSet = response
            .json()
            .await
            .map_err(|error| format!("GET {} did not return a JWKS: {error}", self.url))?;
        let set = JwkSet {
            keys: loose
                .keys
                .into_iter()
                .filter_map(|key| serde_json::from_value(key).ok())
                .collect(),
        };
        Ok(keys_from_set(&set))
    }
}
