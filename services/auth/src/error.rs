//! The crate's two error types.
//!
//! They are kept apart because they have different audiences: [`AuthError`] answers a client whose
//! request carried a token (the API maps it to 401, or 503 when [`AuthError::is_server_side`]),
//! while [`DevIssuerError`] reports a problem setting up or using the development issuer (a bad
//! key file at start-up, or an unusable username on the dev mint endpoint).

use std::path::PathBuf;

/// Why a bearer token was not accepted.
///
/// Each message tells the client what to do about it; none echoes key material or the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request carried no token (an empty string was passed to the verifier).
    #[error("no bearer token was provided; send `Authorization: Bearer <access token>`")]
    MissingToken,

    /// The token is not a well-formed JWT (three base64url parts holding JSON objects).
    #[error("the bearer token is not a well-formed JWT ({0}); sign in again to get a new token")]
    Malformed(String),

    /// The header names an algorithm other than RS256 (`none`, `HS256`, ...).
    #[error("token algorithm `{0}` is not accepted; only RS256 access tokens are")]
    UnsupportedAlgorithm(String),

    /// The header has no `kid`, so the signing key cannot be chosen.
    #[error(
        "the token header has no `kid`; use an access token issued by the configured user pool"
    )]
    MissingKeyId,

    /// No key in the issuer's key set has this `kid`, even after refreshing the key set.
    #[error(
        "the token was signed with key `{kid}`, which the issuer does not publish; sign in again"
    )]
    UnknownKey {
        /// The `kid` from the token header.
        kid: String,
    },

    /// The signature does not match the header and payload (the token was altered or forged).
    #[error("the token signature is invalid; sign in again to get a new token")]
    BadSignature,

    /// `exp` is in the past, even allowing for clock skew.
    #[error("the token has expired; refresh it or sign in again")]
    Expired,

    /// `nbf` is in the future, even allowing for clock skew.
    #[error("the token is not valid yet; check the client's clock")]
    NotYetValid,

    /// `iss` is not the configured issuer.
    #[error("the token was issued by a different issuer than the one this API trusts")]
    WrongIssuer,

    /// `client_id` is not the configured app client.
    #[error("the token was issued to a different app client than the one this API accepts")]
    WrongClient,

    /// `token_use` is not `access` (typically an ID token was sent instead).
    #[error(
        "expected an access token but got token_use `{0}`; send the access token, not the ID token"
    )]
    WrongTokenUse(String),

    /// A claim the rules require is absent (or empty).
    #[error("the token lacks the required `{0}` claim")]
    MissingClaim(String),

    /// The issuer's key set could not be fetched, so no verdict is possible: the fault is ours
    /// (or the issuer's), not the client's.
    #[error("the token issuer's signing keys are unavailable right now; retry shortly")]
    KeySetUnavailable(String),
}

impl AuthError {
    /// True when the failure is on the server side (the key set could not be fetched), so the
    /// request may succeed later unchanged: the API answers 503 for these and 401 for the rest.
    pub fn is_server_side(&self) -> bool {
        matches!(self, AuthError::KeySetUnavailable(_))
    }
}

/// A problem creating, loading or using the development issuer.
#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    /// The username cannot be put in a token.
    #[error(
        "invalid username {username:?}: use 1 to 64 characters of letters, digits, '.', '_', '@' or '-'"
    )]
    InvalidUsername {
        /// The rejected username.
        username: String,
    },

    /// Generating the RSA key pair failed.
    #[error("could not generate the development issuer's RSA key: {0}")]
    KeyGeneration(#[source] rsa::Error),

    /// Reading or writing the key file failed.
    #[error("could not access the development issuer's key file {}: {source}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The key file exists but does not hold a usable RSA private key. It is left untouched:
    /// overwriting it would silently invalidate every token minted with it.
    #[error("the development issuer's key file {} is unusable ({reason}); delete it to generate a new key", path.display())]
    InvalidKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The key could not be serialised (to DER for signing, or to PEM for the key file).
    #[error("could not encode the development issuer's key: {0}")]
    KeyEncoding(String),

    /// Signing the token failed.
    #[error("could not sign the development token: {0}")]
    Signing(String),
}
