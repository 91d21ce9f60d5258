//! A key set fetched over HTTP: fetched lazily, cached, refetched on an unknown `kid` (key
//! rotation) no more often than the rate limit allows, and reported as a server-side failure
//! when unreachable. Runs against a real, tiny HTTP server on 127.0.0.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_auth::{AuthError, DevIssuer, JwtVerifier, KeySource, VerifierConfig};
use jsonwebtoken::jwk::JwkSet;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test";
const CLIENT_ID: &str = "api-client";
const HOUR: Duration = Duration::from_secs(3600);

fn old_key() -> &'static DevIssuer {
    static KEY: OnceLock<DevIssuer> = OnceLock::new();
    KEY.get_or_init(|| DevIssuer::generate(ISSUER.into(), CLIENT_ID.into()).expect("keygen"))
}

fn new_key() -> &'static DevIssuer {
    static KEY: OnceLock<DevIssuer> = OnceLock::new();
    KEY.get_or_init(|| DevIssuer::generate(ISSUER.into(), CLIENT_ID.into()).expect("keygen"))
}

/// Serves whatever JWKS it currently holds to every request, and counts the requests.
struct JwksServer {
    url: String,
    jwks: Arc<Mutex<JwkSet>>,
    requests: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(jwks: JwkSet) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let jwks = Arc::new(Mutex::new(jwks));
        let requests = Arc::new(AtomicUsize::new(0));
        let (served, counter) = (jwks.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let body = serde_json::to_string(&*served.lock().unwrap()).unwrap();
                let counter = counter.clone();
                tokio::spawn(async move {
                    // Read the request head; a GET has no body.
                    let mut head = Vec::new();
                    let mut buf = [0_u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Self {
            url,
            jwks,
            requests,
        }
    }

    fn publish(&self, jwks: JwkSet) {
        *self.jwks.lock().unwrap() = jwks;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn both_keys() -> JwkSet {
    JwkSet {
        keys: [old_key().jwks().keys, new_key().jwks().keys].concat(),
    }
}

fn url_verifier(url: &str) -> JwtVerifier {
    JwtVerifier::new(
        VerifierConfig::new(ISSUER, CLIENT_ID),
        KeySource::Url(url.to_owned()),
    )
}

#[tokio::test]
async fn the_key_set_is_fetched_once_and_then_served_from_the_cache() {
    let server = JwksServer::start(old_key().jwks()).await;
    let verifier = url_verifier(&server.url);
    assert_eq!(
        server.requests(),
        0,
        "nothing is fetched before a token arrives"
    );

    for username in ["alice", "bob", "carol"] {
        let token = old_key().mint_access_token(username, HOUR).unwrap();
        let user = verifier.verify(&token).await.expect("valid token");
        assert_eq!(user.username.as_deref(), Some(username));
    }

    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_fresh_key_set_is_not_refetched_for_unknown_kids() {
    let server = JwksServer::start(old_key().jwks()).await;
    let verifier = url_verifier(&server.url);
    let old_token = old_key().mint_access_token("alice", HOUR).unwrap();
    let new_token = new_key().mint_access_token("alice", HOUR).unwrap();
    verifier
        .verify(&old_token)
        .await
        .expect("old key is published");
    assert_eq!(server.requests(), 1);

    // The issuer rotates, but the set was fetched a moment ago: a flood of unknown kids must not
    // turn into a flood of fetches.
    server.publish(both_keys());
    for _ in 0..5 {
        let error = verifier.verify(&new_token).await.unwrap_err();
        assert!(matches!(error, AuthError::UnknownKey { .. }), "{error:?}");
    }
    assert_eq!(server.requests(), 1, "rate-limited by the default 60 s");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_once_the_interval_has_passed() {
    let interval = Duration::from_millis(300);
    let server = JwksServer::start(old_key().jwks()).await;
    let verifier = url_verifier(&server.url).with_min_refetch_interval(interval);
    let new_token = new_key().mint_access_token("alice", HOUR).unwrap();
    verifier
        .verify(&old_key().mint_access_token("alice", HOUR).unwrap())
        .await
        .expect("old key is published");

    server.publish(both_keys());
    assert!(matches!(
        verifier.verify(&new_token).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(server.requests(), 1);

    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    let user = verifier.verify(&new_token).await.expect("refetched");
    assert_eq!(user.user_id, DevIssuer::user_id("alice"));
    assert_eq!(server.requests(), 2);

    // Both keys are now known; a made-up kid right after the refetch does not cause another.
    let old_token = old_key().mint_access_token("bob", HOUR).unwrap();
    assert!(verifier.verify(&old_token).await.is_ok());
    let made_up_kid = format!(
        "{}.e30.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"made-up"}"#)
    );
    assert!(matches!(
        verifier.verify(&made_up_kid).await,
        Err(AuthError::UnknownKey { kid }) if kid == "made-up"
    ));
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn concurrent_requests_with_a_new_kid_share_one_fetch() {
    let server = JwksServer::start(old_key().jwks()).await;
    let verifier = url_verifier(&server.url);
    let token = old_key().mint_access_token("alice", HOUR).unwrap();

    let verifications: Vec<_> = (0..8)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for verification in verifications {
        verification.await.unwrap().expect("valid token");
    }

    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn an_unreachable_key_set_is_a_server_side_failure() {
    // Bind and release a port so that nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let verifier = url_verifier(&format!("http://127.0.0.1:{port}/.well-known/jwks.json"));
    let token = old_key().mint_access_token("alice", HOUR).unwrap();

    let error = verifier.verify(&token).await.unwrap_err();

    assert!(
        matches!(error, AuthError::KeySetUnavailable(_)),
        "{error:?}"
    );
    assert!(error.is_server_side());
}
