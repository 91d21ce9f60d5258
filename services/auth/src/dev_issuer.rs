//! The development issuer: a stand-in for the Cognito user pool when running locally.
//!
//! It owns an RSA-2048 key, publishes the public half as a JWKS, and mints access tokens shaped
//! like Cognito's, so the API verifies local tokens with exactly the code it uses on AWS.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::DevIssuerError;
use crate::verifier::{JwtVerifier, KeySource, VerifierConfig};

/// Size of generated keys, and the least accepted from a key file (ring refuses smaller ones).
const KEY_BITS: usize = 2048;

/// The scope Cognito puts in access tokens obtained through its user-pool APIs (`InitiateAuth`).
pub const DEV_ACCESS_TOKEN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// The longest development username accepted.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Mixed into the hash behind [`DevIssuer::user_id`] so dev user ids cannot collide with ids
/// derived the same way for another purpose.
const USER_ID_NAMESPACE: &[u8] = b"eventforge-dev-user\0";

/// A development token issuer with its own RSA-2048 key.
#[derive(Clone)]
pub struct DevIssuer {
    issuer: String,
    client_id: String,
    kid: String,
    encoding_key: EncodingKey,
    public_jwk: Jwk,
}

impl DevIssuer {
    /// An issuer with a freshly generated key (tokens do not survive a restart; see
    /// [`DevIssuer::load_or_generate`] for that).
    pub fn generate(issuer: String, client_id: String) -> Result<Self, DevIssuerError> {
        Self::from_private_key(&generate_key()?, issuer, client_id)
    }

    /// Loads the PEM private key (PKCS#8, or PKCS#1) from `path`, or generates one and writes it
    /// there as PKCS#8 with mode 0600, creating parent directories, so that a restarted dev
    /// server keeps accepting the tokens it minted. An existing but unusable file is an error,
    /// never overwritten.
    pub fn load_or_generate(
        path: &Path,
        issuer: String,
        client_id: String,
    ) -> Result<Self, DevIssuerError> {
        if let Some(key) = read_key_file(path)? {
            return Self::from_private_key(&key, issuer, client_id);
        }
        let key = generate_key()?;
        match write_key_file(path, &key) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "generated a development issuer key");
                Self::from_private_key(&key, issuer, client_id)
            }
            // Another process created the file since we looked: use its key, so both agree.
            Err(DevIssuerError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                let key = read_key_file(path)?.ok_or_else(|| DevIssuerError::InvalidKeyFile {
                    path: path.to_owned(),
                    reason: "it disappeared while being created".to_owned(),
                })?;
                Self::from_private_key(&key, issuer, client_id)
            }
            Err(error) => Err(error),
        }
    }

    fn from_private_key(
        key: &RsaPrivateKey,
        issuer: String,
        client_id: String,
    ) -> Result<Self, DevIssuerError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|error| DevIssuerError::KeyEncoding(error.to_string()))?;
        let encoding_key = EncodingKey::from_rsa_der(der.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = jwk_thumbprint(&n, &e);
        let public_jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n,
                e,
            }),
        };
        Ok(Self {
            issuer,
            client_id,
            kid,
            encoding_key,
            public_jwk,
        })
    }

    /// The `iss` of minted tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `client_id` of minted tokens.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `kid` of minted tokens: the RFC 7638 thumbprint of the public key, so it changes
    /// exactly when the key does.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS (with `kid`, `alg` RS256 and `use` sig), as a user pool serves
    /// it at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public_jwk.clone()],
        }
    }

    /// A verifier that accepts this issuer's tokens, with keys in-process.
    pub fn verifier(&self) -> JwtVerifier {
        JwtVerifier::new(
            VerifierConfig::new(self.issuer.clone(), self.client_id.clone()),
            KeySource::Static(self.jwks()),
        )
    }

    /// The `sub` given to `username`: a UUID computed from the username alone (version 8, the
    /// SHA-256 name-based construction of RFC 9562), so a dev user keeps one id across restarts
    /// and key changes and, as with Cognito, the id is not the username.
    pub fn user_id(username: &str) -> String {
        let digest = Sha256::new()
            .chain_update(USER_ID_NAMESPACE)
            .chain_update(username.as_bytes())
            .finalize();
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// The claims of a Cognito-shaped access token for `username`, valid for `ttl` from now:
    /// `iss`, `sub` ([`DevIssuer::user_id`]), `username`, `client_id`, `token_use` "access",
    /// `scope` ([`DEV_ACCESS_TOKEN_SCOPE`]), `auth_time`, `iat`, `exp` and a fresh `jti`.
    ///
    /// Exposed so tests can alter a claim and sign the result with [`DevIssuer::sign_claims`].
    pub fn access_token_claims(
        &self,
        username: &str,
        ttl: Duration,
    ) -> Result<serde_json::Value, DevIssuerError> {
        validate_username(username)?;
        // Same clock as the verifier's expiry check.
        let now = jsonwebtoken::get_current_timestamp();
        Ok(serde_json::json!({
            "sub": Self::user_id(username),
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": DEV_ACCESS_TOKEN_SCOPE,
            "auth_time": now,
            "iat": now,
            "exp": now.saturating_add(ttl.as_secs()),
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": username,
        }))
    }

    /// Mints an access token for `username` (1 to 64 characters of `[A-Za-z0-9._@-]`), valid
    /// for `ttl`, signed RS256 with this issuer's key and naming its `kid`.
    pub fn mint_access_token(
        &self,
        username: &str,
        ttl: Duration,
    ) -> Result<String, DevIssuerError> {
        self.sign_claims(&self.access_token_claims(username, ttl)?)
    }

    /// Mints an access token for `username` as a member of `groups` (Cognito's
    /// `cognito:groups` claim), e.g. `["admins"]` for the catalogue's administrators.
    pub fn mint_access_token_in_groups(
        &self,
        username: &str,
        groups: &[&str],
        ttl: Duration,
    ) -> Result<String, DevIssuerError> {
        let mut claims = self.access_token_claims(username, ttl)?;
        claims["cognito:groups"] = serde_json::json!(groups);
        self.sign_claims(&claims)
    }

    /// Signs arbitrary claims with this issuer's key (RS256, header `kid`). The key is a
    /// development key, trusted by nothing deployed; this exists to build the odd tokens that
    /// tests of rejection paths need.
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, DevIssuerError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .map_err(|error| DevIssuerError::Signing(error.to_string()))
    }
}

impl fmt::Debug for DevIssuer {
    // The private key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn validate_username(username: &str) -> Result<(), DevIssuerError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    // All allowed characters are ASCII, so the byte length is the character count.
    if username.is_empty() || username.len() > MAX_USERNAME_CHARS || !username.chars().all(allowed)
    {
        return Err(DevIssuerError::InvalidUsername {
            username: username.to_owned(),
        });
    }
    Ok(())
}

fn generate_key() -> Result<RsaPrivateKey, DevIssuerError> {
    RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS).map_err(DevIssuerError::KeyGeneration)
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order. `n` and
/// `e` are base64url, so they need no JSON escaping.
fn jwk_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The key in `path`, or `None` if there is no such file.
fn read_key_file(path: &Path) -> Result<Option<RsaPrivateKey>, DevIssuerError> {
    let pem = match std::fs::read_to_string(path) {
        Ok(pem) => pem,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DevIssuerError::KeyFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    let invalid = |reason: String| DevIssuerError::InvalidKeyFile {
        path: path.to_owned(),
        reason,
    };
    let key = RsaPrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&pem))
        .map_err(|error| invalid(format!("not an RSA private key in PEM: {error}")))?;
    let bits = key.size() * 8;
    if bits < KEY_BITS {
        return Err(invalid(format!(
            "the key has {bits} bits, at least {KEY_BITS} are needed"
        )));
    }
    Ok(Some(key))
}

/// Writes `key` to a new file at `path`, readable by its owner only; fails if the file exists.
fn write_key_file(path: &Path, key: &RsaPrivateKey) -> Result<(), DevIssuerError> {
    let io_error = |source| DevIssuerError::KeyFile {
        path: path.to_owned(),
        source,
    };
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| DevIssuerError::KeyEncoding(error.to_string()))?;
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Set at creation, so the key is never readable by others, not even briefly.
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    let written = file
        .write_all(pem.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        // A truncated key file would make every later start fail; better to leave none.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io_error(source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_documented_alphabet_and_length() {
        for good in [
            "a",
            "alice",
            "Bob.Smith",
            "carol_1",
            "dave@example.com",
            "e-f",
            &"x".repeat(64),
        ] {
            assert!(
                validate_username(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        for bad in [
            "",
            "with space",
            "semi;colon",
            "slash/",
            "ünïcode",
            "tab\t",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(
                    validate_username(bad),
                    Err(DevIssuerError::InvalidUsername { .. })
                ),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn user_ids_are_stable_uuids_distinct_per_username() {
        let alice = DevIssuer::user_id("alice");
        assert_eq!(alice, DevIssuer::user_id("alice"));
        assert_ne!(alice, DevIssuer::user_id("bob"));
        let parsed = uuid::Uuid::parse_str(&alice).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 8);
    }

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        // The example key of RFC 7638 section 3.1, with its published thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            jwk_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
