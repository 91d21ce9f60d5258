//! Bearer-token authentication for EventForge.
//!
//! On AWS the API accepts access tokens issued by a Cognito user pool and verifies them against
//! the pool's JWKS ([`JwtVerifier`] with [`KeySource::Url`]). Under `cargo xtask dev` there is no
//! Cognito: a [`DevIssuer`] owns an RSA key, publishes its JWKS and mints Cognito-shaped access
//! tokens, so the very same verification code runs locally.
//!
//! # Verification rules
//!
//! A token is accepted only if, in this order:
//! 1. it is a three-part JWT whose header `alg` is `RS256`: `none`, `HS256` and every other
//!    algorithm are refused before any key is looked at, which is what defeats the
//!    "HS256 signed with the public key" confusion attack;
//! 2. its header `kid` names an RS256 signature key of the issuer's key set (a key set fetched
//!    from a URL is refetched when an unknown `kid` shows up, at most once a minute);
//! 3. the signature is valid;
//! 4. `exp` is in the future (and `nbf`, if present, in the past), with a leeway for clock skew;
//! 5. `iss` equals the configured issuer exactly;
//! 6. `sub` is present; `token_use` is `access`; `client_id` equals the configured app client.
//!    Cognito access tokens have no `aud`, so none is required.
//!
//! Failures are [`AuthError`]s with messages a client can act on; only an unreachable key set is
//! [server-side](AuthError::is_server_side).
//!
//! ```
//! use std::time::Duration;
//! use eventforge_auth::{DevIssuer, JwtVerifier, KeySource, VerifierConfig, cognito_issuer, cognito_jwks_url};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On AWS: the pool's JWKS, fetched on first use.
//! let issuer = cognito_issuer("eu-west-1", "eu-west-1_AbC123");
//! let _cognito = JwtVerifier::new(
//!     VerifierConfig::new(issuer.clone(), "app-client-id"),
//!     KeySource::Url(cognito_jwks_url(&issuer)),
//! );
//!
//! // Locally: the development issuer mints tokens its verifier accepts.
//! let dev = DevIssuer::generate("http://127.0.0.1:8080/dev".into(), "dev-client".into())?;
//! let token = dev.mint_access_token("alice", Duration::from_secs(3600))?;
//! let user = dev.verifier().verify(&token).await?;
//! assert_eq!(user.username.as_deref(), Some("alice"));
//! # Ok(())
//! # }
//! ```
//!
//! # Boundaries
//!
//! No HTTP server (no axum) and no AWS SDK: the API crate serves the dev issuer's JWKS and mint
//! endpoint with the functions here, and the key set is plain HTTPS. Cryptography comes from
//! `jsonwebtoken` (verification, JWK types) and `rsa` (dev key generation), never hand-rolled.

mod dev_issuer;
mod error;
mod keys;
mod verifier;

pub use dev_issuer::{DEV_ACCESS_TOKEN_SCOPE, DevIssuer, MAX_USERNAME_CHARS};
pub use error::{AuthError, DevIssuerError};
pub use verifier::{
    DEFAULT_LEEWAY_SECONDS, DEFAULT_MIN_REFETCH_INTERVAL, JwtVerifier, KeySource, VerifierConfig,
};

/// Who made the request, taken from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The token's `sub`: the stable user id orders and webhooks are owned by.
    pub user_id: String,
    /// The token's `username` (or `cognito:username`), for display and logs only.
    pub username: Option<String>,
    /// The Cognito groups the user belongs to (`cognito:groups`), which grant roles.
    pub groups: Vec<String>,
}

impl AuthenticatedUser {
    /// Whether the user is a member of `group`.
    pub fn is_member_of(&self, group: &str) -> bool {
        self.groups.iter().any(|member_of| member_of == group)
    }
}

/// The `iss` of tokens from a Cognito user pool.
pub fn cognito_issuer(region: &str, user_pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}")
}

/// Where an issuer publishes its signing keys (for Cognito, under the issuer URL).
pub fn cognito_jwks_url(issuer: &str) -> String {
    format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_urls_follow_the_user_pool_layout() {
        let issuer = cognito_issuer("eu-west-1", "eu-west-1_AbC123");
        assert_eq!(
            issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
        assert_eq!(
            cognito_jwks_url(&issuer),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
        );
    }

    #[test]
    fn verifier_is_shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<JwtVerifier>();
        assert_send_sync::<DevIssuer>();
    }
}
