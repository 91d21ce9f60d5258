//! The OpenAPI document states every rule the server enforces: schemathesis generates requests
//! from the document (its examples, the boundaries of every constraint, then random valid and
//! invalid data) and sends them to a real server over TCP, with every check on. A schema-valid
//! request the server refuses, a response that breaks the document, a 5xx: each fails the test.
//!
//! Needs `schemathesis` on the PATH (`cargo xtask test` installs it with the other Python tools).

#[path = "api/common.rs"]
#[allow(dead_code)]
mod common;

use std::process::Command;
use std::time::Duration;

use common::{HOUR, TestApp, issuer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_schema_valid_request_is_accepted_and_every_answer_matches_the_document() {
    let app = TestApp::dev().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventforge_api::serve(listener, app.router.clone(), async {
        let _ = stopped.await;
    }));
    // An administrator, so the catalogue's operations are reached too.
    let token = issuer()
        .mint_access_token_in_groups("fuzzer", &["admins"], HOUR)
        .expect("mint");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    // Schemathesis keeps a cache of what it found in its working directory: not in the clone.
    let scratch = tempfile::tempdir().expect("temp dir");
    let workdir = scratch.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .current_dir(workdir)
            .args(["--config-file", config, "run"])
            .arg(format!("http://{address}/openapi.json"))
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "all", "--max-examples", "50", "--seed", "1"])
            .args(["--phases", "examples,coverage,fuzzing"])
            // Signed with the ingest secret (HMAC), which a generator cannot make: answered 401
            // throughout, so tested by `tests/api/ingest.rs` instead.
            .args(["--exclude-name", "POST /webhooks/ingest"])
            .args(["--generation-database", "none", "--no-color"])
            .output()
    })
    .await
    .expect("task")
    .unwrap_or_else(|error| {
        panic!(
            "cannot run schemathesis ({error}): install it with `pip install schemathesis==4.32.5`"
        )
    });
    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .expect("task")
        .expect("serve ends cleanly");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "schemathesis found requests the document and the server disagree on:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        report.contains("Selected: 17/18"),
        "schemathesis did not test every operation:\n{report}"
    );
    // Warnings that mean part of the API went untested: an operation only ever answered 401 or
    // 403, or a reference in the document that leads nowhere.
    for untested in ["Authentication failed", "Unresolvable references"] {
        assert!(
            !report.contains(untested),
            "schemathesis warns: {untested}\n{report}"
        );
    }
}
