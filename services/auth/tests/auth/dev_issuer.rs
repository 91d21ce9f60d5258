//! The development issuer's key file and minting rules.

use std::time::Duration;

use eventforge_auth::{AuthError, DevIssuer, DevIssuerError};

const ISSUER: &str = "http://127.0.0.1:8080/dev-issuer";
const CLIENT_ID: &str = "eventforge-dev-client";
const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_restarted_issuer_reloads_its_key_and_accepts_earlier_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not/yet/created/dev-issuer.pem");

    let first = DevIssuer::load_or_generate(&path, ISSUER.into(), CLIENT_ID.into()).unwrap();
    let token = first.mint_access_token("alice", HOUR).unwrap();
    let second = DevIssuer::load_or_generate(&path, ISSUER.into(), CLIENT_ID.into()).unwrap();

    assert_eq!(first.key_id(), second.key_id());
    assert_eq!(first.jwks(), second.jwks());
    let user = second
        .verifier()
        .verify(&token)
        .await
        .expect("token from before the restart");
    assert_eq!(user.user_id, DevIssuer::user_id("alice"));

    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the private key is readable by its owner only"
        );
    }
}

#[tokio::test]
async fn a_new_key_invalidates_tokens_minted_with_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev-issuer.pem");
    let before = DevIssuer::load_or_generate(&path, ISSUER.into(), CLIENT_ID.into()).unwrap();
    let token = before.mint_access_token("alice", HOUR).unwrap();

    std::fs::remove_file(&path).unwrap();
    let after = DevIssuer::load_or_generate(&path, ISSUER.into(), CLIENT_ID.into()).unwrap();

    assert_ne!(before.key_id(), after.key_id(), "the kid follows the key");
    let error = after.verifier().verify(&token).await.unwrap_err();
    assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
}

#[test]
fn an_unusable_key_file_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev-issuer.pem");
    std::fs::write(&path, "not a key").unwrap();

    let error = DevIssuer::load_or_generate(&path, ISSUER.into(), CLIENT_ID.into()).unwrap_err();

    assert!(
        matches!(error, DevIssuerError::InvalidKeyFile { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("delete it"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
}

#[test]
fn minting_refuses_usernames_outside_the_documented_alphabet() {
    let dir = tempfile::tempdir().unwrap();
    let issuer =
        DevIssuer::load_or_generate(&dir.path().join("k.pem"), ISSUER.into(), CLIENT_ID.into())
            .unwrap();

    let error = issuer.mint_access_token("alice smith", HOUR).unwrap_err();

    assert!(
        matches!(error, DevIssuerError::InvalidUsername { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("1 to 64 characters"), "{error}");
}
