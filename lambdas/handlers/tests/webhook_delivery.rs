//! Specification: a confirmed order is delivered, signed, to a webhook receiver on 127.0.0.1 when
//! (and only because) the platform explicitly allows loopback destinations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use eventforge_core::clock::SystemClock;
use eventforge_core::event::EventType;
use eventforge_core::ids::WebhookId;
use eventforge_core::orders::place_order;
use eventforge_core::signature;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::{UrlPolicy, Webhook};
use eventforge_core::{InventoryItem, Store, UserId};
use eventforge_handlers::local::{LocalPlatform, functions};
use eventforge_handlers::payment::SimulatedPayment;
use eventforge_handlers::webhook::{RetryPolicy, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use eventforge_local::{Runtime, RuntimeConfig, TimeScale};
use eventforge_store_sqlite::SqliteStore;

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_order_is_delivered_signed_to_a_loopback_receiver_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("dev.db")).unwrap();
    sqlite
        .put_inventory(&InventoryItem {
            sku: "MONITOR-27".parse().unwrap(),
            name: "Monitor".into(),
            unit_price_minor: 32_900,
            currency: "EUR".parse().unwrap(),
            stock: 5,
        })
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let (url, received) = receiver().await;
    let secret = "whsec-test";
    store
        .create_webhook(&Webhook {
            id: WebhookId::generate(),
            user_id: UserId("alice".into()),
            url,
            event_types: vec![EventType::ORDER_CONFIRMED],
            secret: secret.into(),
            created_at: time::OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    let platform = LocalPlatform {
        store: Arc::clone(&store),
        clock: Arc::new(SystemClock),
        payments: Arc::new(SimulatedPayment::new()),
        email_outbox: dir.path().join("outbox"),
        receipts_dir: dir.path().join("receipts"),
        webhook_policy: UrlPolicy::AllowLoopback,
        webhook_retry: RetryPolicy::default(),
    };
    let mut config = RuntimeConfig::new(
        Arc::clone(&store),
        dir.path().join("runtime.db"),
        Arc::new(functions(&platform)),
    );
    config.time_scale = TimeScale {
        delays: 0.001,
        timeouts: 0.1,
    };
    config.poll_interval = Duration::from_millis(5);
    let runtime = Runtime::start(config).await.unwrap();
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: "MONITOR-27".into(),
            quantity: 1,
        }],
    };
    let order = place_order(
        store.as_ref(),
        &SystemClock,
        &UserId("alice".into()),
        &request,
        None,
        None,
    )
    .await
    .unwrap()
    .into_order();
    assert!(runtime.settle(Duration::from_secs(20)).await.unwrap());
    runtime.stop().await;

    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 1, "only order.confirmed is subscribed");
    let (headers, body) = &deliveries[0];
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    signature::verify(
        secret.as_bytes(),
        &header(TIMESTAMP_HEADER),
        &header(SIGNATURE_HEADER),
        body,
        time::OffsetDateTime::now_utc(),
    )
    .expect("the signature verifies with the webhook's secret");
    assert!(String::from_utf8_lossy(body).contains(&order.id.to_string()));
}
