//! What the verifier accepts and, case by case, why it refuses the rest.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_auth::{
    AuthError, AuthenticatedUser, DevIssuer, JwtVerifier, KeySource, VerifierConfig,
};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};

const ISSUER: &str = "http://127.0.0.1:8080/dev-issuer";
const CLIENT_ID: &str = "eventforge-dev-client";
const HOUR: Duration = Duration::from_secs(3600);

/// Key generation is the slow part, so each test binary makes its keys once.
fn issuer() -> &'static DevIssuer {
    static ISSUER_KEY: OnceLock<DevIssuer> = OnceLock::new();
    ISSUER_KEY.get_or_init(|| {
        DevIssuer::generate(ISSUER.to_owned(), CLIENT_ID.to_owned()).expect("key generation")
    })
}

/// Same issuer name and client, different key: what a forger with their own key would use.
fn stranger() -> &'static DevIssuer {
    static STRANGER_KEY: OnceLock<DevIssuer> = OnceLock::new();
    STRANGER_KEY.get_or_init(|| {
        DevIssuer::generate(ISSUER.to_owned(), CLIENT_ID.to_owned()).expect("key generation")
    })
}

async fn verify(token: &str) -> Result<AuthenticatedUser, AuthError> {
    issuer().verifier().verify(token).await
}

/// A token signed by the issuer with one claim replaced.
fn token_with(claim: &str, value: serde_json::Value) -> String {
    let mut claims = issuer().access_token_claims("alice", HOUR).expect("claims");
    claims[claim] = value;
    issuer().sign_claims(&claims).expect("signing")
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[tokio::test]
async fn a_minted_access_token_verifies_to_its_user() {
    let token = issuer().mint_access_token("alice", HOUR).expect("mint");

    let user = verify(&token).await.expect("valid token");

    assert_eq!(
        user,
        AuthenticatedUser {
            user_id: DevIssuer::user_id("alice"),
            username: Some("alice".to_owned()),
            groups: Vec::new(),
        }
    );
}

#[tokio::test]
async fn a_token_minted_in_groups_verifies_to_a_member_of_them() {
    let token = issuer()
        .mint_access_token_in_groups("carol", &["admins"], HOUR)
        .expect("mint");

    let user = verify(&token).await.expect("valid token");

    assert_eq!(user.groups, ["admins"]);
    assert!(user.is_member_of("admins"));
    assert!(!user.is_member_of("admin"));
}

#[tokio::test]
async fn tokens_carry_the_cognito_access_token_claims() {
    let token = issuer().mint_access_token("bob", HOUR).expect("mint");
    let [header, payload, _] = token.split('.').collect::<Vec<_>>()[..] else {
        panic!("three parts");
    };
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();

    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], issuer().key_id());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["username"], "bob");
    assert_eq!(claims["sub"], DevIssuer::user_id("bob"));
    assert!(claims["scope"].is_string() && claims["jti"].is_string());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert!(
        claims.get("aud").is_none(),
        "Cognito access tokens have no aud"
    );
}

#[tokio::test]
async fn the_published_jwks_holds_only_the_public_signing_key() {
    let jwks = serde_json::to_value(issuer().jwks()).unwrap();
    let [key] = jwks["keys"].as_array().unwrap().as_slice() else {
        panic!("one key");
    };
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], issuer().key_id());
    for private_member in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private_member).is_none(), "{private_member} leaked");
    }
}

#[tokio::test]
async fn alg_none_is_refused() {
    let claims = issuer().access_token_claims("alice", HOUR).unwrap();
    let header = serde_json::json!({ "alg": "none", "kid": issuer().key_id() });
    let token = format!("{}.{}.", b64(&header), b64(&claims));

    let error = verify(&token).await.unwrap_err();

    assert!(
        matches!(&error, AuthError::UnsupportedAlgorithm(alg) if alg == "none"),
        "{error:?}"
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // The algorithm-confusion attack: a verifier that let the token choose the algorithm would
    // check this HMAC with the public key, which everyone knows, as the secret.
    let jwk = &issuer().jwks().keys[0];
    let AlgorithmParameters::RSA(rsa_params) = &jwk.algorithm else {
        panic!("an RSA key");
    };
    let n = URL_SAFE_NO_PAD.decode(&rsa_params.n).unwrap();
    let e = URL_SAFE_NO_PAD.decode(&rsa_params.e).unwrap();
    let public_pem = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .unwrap()
    .to_public_key_pem(LineEnding::LF)
    .unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(issuer().key_id().to_owned());
    let claims = issuer().access_token_claims("mallory", HOUR).unwrap();

    for secret in [public_pem.as_bytes(), n.as_slice()] {
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();

        let error = verify(&token).await.unwrap_err();

        assert!(
            matches!(&error, AuthError::UnsupportedAlgorithm(alg) if alg == "HS256"),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_but_clock_skew_within_the_leeway_is_tolerated() {
    let now = jsonwebtoken::get_current_timestamp();

    let long_expired = token_with("exp", (now - 120).into());
    assert!(matches!(
        verify(&long_expired).await,
        Err(AuthError::Expired)
    ));

    let just_expired = token_with("exp", (now - 5).into());
    assert!(
        verify(&just_expired).await.is_ok(),
        "within the 30 s leeway"
    );

    let strict = JwtVerifier::new(
        VerifierConfig {
            leeway_seconds: 0,
            ..VerifierConfig::new(ISSUER, CLIENT_ID)
        },
        KeySource::Static(issuer().jwks()),
    );
    assert!(matches!(
        strict.verify(&just_expired).await,
        Err(AuthError::Expired)
    ));
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let token = token_with(
        "iss",
        "https://cognito-idp.us-east-1.amazonaws.com/other".into(),
    );
    assert!(matches!(verify(&token).await, Err(AuthError::WrongIssuer)));

    // Exact comparison: a trailing slash is a different issuer.
    let token = token_with("iss", format!("{ISSUER}/").into());
    assert!(matches!(verify(&token).await, Err(AuthError::WrongIssuer)));
}

#[tokio::test]
async fn a_token_for_another_app_client_is_refused() {
    let token = token_with("client_id", "someone-elses-client".into());
    assert!(matches!(verify(&token).await, Err(AuthError::WrongClient)));
}

#[tokio::test]
async fn an_id_token_is_refused_as_the_wrong_token_use() {
    let token = token_with("token_use", "id".into());

    let error = verify(&token).await.unwrap_err();

    assert!(
        matches!(&error, AuthError::WrongTokenUse(used) if used == "id"),
        "{error:?}"
    );
}

#[tokio::test]
async fn required_claims_are_named_when_missing() {
    for claim in ["sub", "token_use", "client_id"] {
        let mut claims = issuer().access_token_claims("alice", HOUR).unwrap();
        claims.as_object_mut().unwrap().remove(claim);
        let token = issuer().sign_claims(&claims).unwrap();

        let error = verify(&token).await.unwrap_err();

        assert!(
            matches!(&error, AuthError::MissingClaim(name) if name == claim),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_token_signed_with_an_unpublished_key_is_refused_as_unknown_key() {
    let token = stranger().mint_access_token("alice", HOUR).unwrap();

    let error = verify(&token).await.unwrap_err();

    assert!(
        matches!(&error, AuthError::UnknownKey { kid } if kid == stranger().key_id()),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature_check() {
    // Alice's signature over Mallory's claims: the header and kid are genuine.
    let alice = issuer().mint_access_token("alice", HOUR).unwrap();
    let mallory = issuer().mint_access_token("mallory", HOUR).unwrap();
    let alice_parts: Vec<&str> = alice.split('.').collect();
    let mallory_payload = mallory.split('.').nth(1).unwrap();
    let forged = format!("{}.{mallory_payload}.{}", alice_parts[0], alice_parts[2]);

    assert!(matches!(
        verify(&forged).await,
        Err(AuthError::BadSignature)
    ));

    // Nor does a signature made with another key under the genuine header.
    let stranger_signature = stranger().mint_access_token("alice", HOUR).unwrap();
    let swapped = format!(
        "{}.{}.{}",
        alice_parts[0],
        alice_parts[1],
        stranger_signature.split('.').nth(2).unwrap()
    );
    assert!(matches!(
        verify(&swapped).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn garbage_is_malformed_and_nothing_is_missing_token() {
    assert!(matches!(verify("").await, Err(AuthError::MissingToken)));
    assert!(matches!(verify("   ").await, Err(AuthError::MissingToken)));

    for garbage in [
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        "!!!.e30.c2ln".to_owned(),
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("not json")),
        // Correctly signed, but the claims are not an object.
        issuer()
            .sign_claims(&serde_json::json!(["not", "claims"]))
            .unwrap(),
        "x".repeat(20_000),
    ] {
        let error = verify(&garbage).await.unwrap_err();
        assert!(
            matches!(error, AuthError::Malformed(_)),
            "{garbage:.40}: {error:?}"
        );
    }

    let no_kid = format!("{}.e30.c2ln", b64(&serde_json::json!({ "alg": "RS256" })));
    assert!(matches!(
        verify(&no_kid).await,
        Err(AuthError::MissingKeyId)
    ));
}

#[test]
fn only_an_unavailable_key_set_is_a_server_side_failure() {
    assert!(AuthError::KeySetUnavailable("connection refused".to_owned()).is_server_side());
    for client_side in [
        AuthError::MissingToken,
        AuthError::Malformed("x".to_owned()),
        AuthError::UnsupportedAlgorithm("none".to_owned()),
        AuthError::MissingKeyId,
        AuthError::UnknownKey {
            kid: "k".to_owned(),
        },
        AuthError::BadSignature,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::WrongIssuer,
        AuthError::WrongClient,
        AuthError::WrongTokenUse("id".to_owned()),
        AuthError::MissingClaim("sub".to_owned()),
    ] {
        assert!(!client_side.is_server_side(), "{client_side:?}");
    }
}

#[tokio::test]
async fn a_verified_token_is_remembered_until_it_expires_and_then_refused() {
    let strict = JwtVerifier::new(
        VerifierConfig {
            leeway_seconds: 0,
            ..VerifierConfig::new(ISSUER, CLIENT_ID)
        },
        KeySource::Static(issuer().jwks()),
    );
    let now = jsonwebtoken::get_current_timestamp();
    let short_lived = token_with("exp", (now + 1).into());
    let alice = strict
        .verify(&short_lived)
        .await
        .expect("valid until it expires");
    for _ in 0..3 {
        assert_eq!(strict.verify(&short_lived).await.unwrap(), alice);
    }
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(matches!(
        strict.verify(&short_lived).await,
        Err(AuthError::Expired)
    ));
}

#[tokio::test]
async fn a_remembered_token_vouches_for_no_other_token() {
    let verifier = issuer().verifier();
    let alice = issuer().mint_access_token("alice", HOUR).unwrap();
    let mallory = issuer().mint_access_token("mallory", HOUR).unwrap();
    let alice_user = verifier.verify(&alice).await.unwrap();
    // Alice's verified header and signature around Mallory's claims.
    let parts: Vec<&str> = alice.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        mallory.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
    assert_eq!(verifier.verify(&alice).await.unwrap(), alice_user);
}
