//! Property: when a webhook message comes again (SQS redelivery after a failed delivery), every
//! URL that failed is tried again and no URL that already succeeded is called twice. Each
//! receiver on 127.0.0.1 fails its first `k` requests with HTTP 500, for any mix of `k`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use eventforge_application::webhook;
use eventforge_core::UserId;
use proptest::prelude::*;

/// Receiver `i` answers 500 to its first `failures[i]` requests, then 200; it counts them all.
#[derive(Clone)]
struct Receivers {
    failures: Arc<Vec<u32>>,
    hits: Arc<Vec<AtomicU32>>,
}

impl Receivers {
    fn hits(&self) -> Vec<u32> {
        self.hits.iter().map(|h| h.load(Ordering::SeqCst)).collect()
    }
}

async fn answer(State(receivers): State<Receivers>, Path(index): Path<usize>) -> StatusCode {
    let seen = receivers.hits[index].fetch_add(1, Ordering::SeqCst);
    if seen < receivers.failures[index] {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn start(failures: &[u32]) -> (String, Receivers) {
    let receivers = Receivers {
        failures: Arc::new(failures.to_vec()),
        hits: Arc::new(failures.iter().map(|_| AtomicU32::new(0)).collect()),
    };
    let app = Router::new()
        .route("/hook/{index}", post(answer))
        .with_state(receivers.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, receivers)
}

async fn check(failures: Vec<u32>) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::common::monitor_store(dir.path(), 5).await;
    let user = UserId("alice".into());
    let (base, receivers) = start(&failures).await;
    let urls: Vec<String> = (0..failures.len())
        .map(|index| format!("{base}/hook/{index}"))
        .collect();
    let created = crate::common::order_created_for_webhooks(store.as_ref(), &user, &urls).await;
    let deps = crate::common::loopback_webhooks(Arc::clone(&store));

    let rounds = failures.iter().max().copied().unwrap_or(0) + 1;
    for round in 0..rounds {
        let before = receivers.hits();
        let outcome = webhook::process(&deps, created.clone()).await;
        let after = receivers.hits();
        for (index, &fails) in failures.iter().enumerate() {
            let called = after[index] - before[index];
            let succeeded_earlier = fails < round;
            assert_eq!(
                called,
                u32::from(!succeeded_earlier),
                "round {round}: URL {index} (fails {fails} times) was called {called} times"
            );
        }
        let all_succeeded = failures.iter().all(|&fails| fails <= round);
        assert_eq!(outcome.is_ok(), all_succeeded, "round {round}: {outcome:?}");
    }
    let expected: Vec<u32> = failures.iter().map(|fails| fails + 1).collect();
    assert_eq!(receivers.hits(), expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_redelivered_message_retries_exactly_the_urls_that_failed(
        failures in prop::collection::vec(0u32..3, 1..5)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check(failures));
    }
}
