//! Specification: an HTTPS webhook is delivered when its certificate chains to a CA of the
//! system's certificate store, and refused when it does not; no CA is compiled in.
//!
//! The receiver is a TLS server on 127.0.0.1 for `localhost` with a certificate from a CA made
//! here; `SSL_CERT_FILE` names the store. Deliveries read the store once per process, so each
//! case runs in a child process of this test binary with its own `SSL_CERT_FILE`.

use std::process::Command;
use std::sync::Arc;

use eventforge_application::webhook;
use eventforge_core::UserId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The test CA and server certificate, as `eventforge-aws-https`'s TLS specifications make them.
#[path = "../../../aws-https/tests/support/mod.rs"]
mod tls_support;

/// Set in the child process that runs one case with `SSL_CERT_FILE` set.
const CHILD: &str = "EVENTFORGE_WEBHOOK_TLS_CHILD";

#[test]
fn a_webhook_whose_certificate_the_system_store_trusts_is_delivered() {
    let Some(store) = store_file() else {
        return in_child(
            "webhook_tls::a_webhook_whose_certificate_the_system_store_trusts_is_delivered",
        );
    };
    let receiver = Receiver::start();
    std::fs::write(store, &receiver.ca_pem).unwrap();
    let outcome = receiver.deliver();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(receiver.requests(), 1);
}

#[test]
fn a_webhook_whose_certificate_the_system_store_does_not_trust_is_not_delivered() {
    let Some(store) = store_file() else {
        return in_child(
            "webhook_tls::a_webhook_whose_certificate_the_system_store_does_not_trust_is_not_delivered",
        );
    };
    let receiver = Receiver::start();
    // The store holds a CA, just not the receiver's.
    std::fs::write(store, Receiver::start().ca_pem).unwrap();
    let outcome = receiver.deliver();
    let error = outcome.expect_err("an untrusted certificate must fail the delivery");
    assert!(
        error.to_string().contains("webhook deliveries failed"),
        "{error}"
    );
    assert_eq!(
        receiver.requests(),
        0,
        "no request goes out over an untrusted connection"
    );
}

/// In the child: the file `SSL_CERT_FILE` names.
fn store_file() -> Option<String> {
    std::env::var_os(CHILD).and_then(|_| std::env::var("SSL_CERT_FILE").ok())
}

fn in_child(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, "1")
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env("SSL_CERT_DIR", dir.path())
        .output()
        .expect("the test binary runs again");
    let report = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && report.contains("1 passed"),
        "{test} failed (or did not run) in its child process:\n{report}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

/// A webhook receiver over TLS that answers 200 to every request and counts them.
struct Receiver {
    ca_pem: String,
    port: u16,
    requests: Arc<std::sync::atomic::AtomicU32>,
    runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Self {
        let (ca_pem, acceptor) = tls_support::tls_acceptor("localhost");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = requests.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = [0u8; 16384];
                    if tls.read(&mut request).await.unwrap_or(0) == 0 {
                        return;
                    }
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            ca_pem,
            port,
            requests,
            runtime,
        }
    }

    fn requests(&self) -> u32 {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Places an order for a user whose one webhook is this receiver, and processes the
    /// `order.created` event as the webhook processor does.
    fn deliver(&self) -> Result<(), eventforge_application::message::ProcessError> {
        self.runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::common::monitor_store(dir.path(), 5).await;
            let user = UserId("alice".into());
            let url = format!("https://localhost:{}/hook", self.port);
            let created =
                crate::common::order_created_for_webhooks(store.as_ref(), &user, &[url]).await;
            let deps = crate::common::loopback_webhooks(store);
            webhook::process(&deps, created).await
        })
    }
}
