//! Specifications: a confirmed order, and an event an outside system ingested, are delivered,
//! signed, to a webhook receiver on 127.0.0.1 when (and only because) the platform explicitly
//! allows loopback destinations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use eventforge_application::commands::place_order;
use eventforge_application::local::LocalPlatform;
use eventforge_application::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use eventforge_core::clock::SystemClock;
use eventforge_core::event::EventType;
use eventforge_core::ids::WebhookId;
use eventforge_core::signature;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::{UrlPolicy, Webhook};
use eventforge_core::{Event, EventId, Store, UserId};
use eventforge_local::{Runtime, RuntimeHandle};

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

/// The real handlers in the local runtime over a fresh SQLite store, loopback webhooks allowed,
/// and a webhook of alice's for `event_type` pointing at a receiver on 127.0.0.1.
struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    runtime: RuntimeHandle,
    received: Received,
}

const SECRET: &str = "whsec-test";

async fn world(event_type: EventType) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::common::monitor_store(dir.path(), 5).await;
    let (url, received) = receiver().await;
    store
        .create_webhook(&Webhook {
            id: WebhookId::generate(),
            user_id: UserId("alice".into()),
            url,
            event_types: vec![event_type],
            secret: SECRET.into(),
            created_at: time::OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    let platform = LocalPlatform::in_dir(Arc::clone(&store), dir.path(), UrlPolicy::AllowLoopback);
    let config = crate::common::accelerated(platform.runtime_config());
    let runtime = Runtime::start(config).await.unwrap();
    World {
        _dir: dir,
        store,
        runtime,
        received,
    }
}

impl World {
    /// Waits for the runtime to finish its work, stops it, and returns what the receiver got.
    async fn deliveries(self) -> Vec<(HeaderMap, Bytes)> {
        assert!(self.runtime.settle(Duration::from_secs(20)).await.unwrap());
        self.runtime.stop().await;
        self.received.lock().unwrap().clone()
    }
}

fn assert_signed(headers: &HeaderMap, body: &Bytes) {
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    signature::verify(
        SECRET.as_bytes(),
        &header(TIMESTAMP_HEADER),
        &header(SIGNATURE_HEADER),
        body,
        time::OffsetDateTime::now_utc(),
    )
    .expect("the signature verifies with the webhook's secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_order_is_delivered_signed_to_a_loopback_receiver_when_allowed() {
    let world = world(EventType::ORDER_CONFIRMED).await;
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: "MONITOR-27".into(),
            quantity: 1,
        }],
    };
    let order = place_order(
        world.store.as_ref(),
        &SystemClock,
        &UserId("alice".into()),
        &request,
        None,
        None,
    )
    .await
    .unwrap()
    .into_order();

    let deliveries = world.deliveries().await;
    assert_eq!(deliveries.len(), 1, "only order.confirmed is subscribed");
    let (headers, body) = &deliveries[0];
    assert_signed(headers, body);
    assert!(String::from_utf8_lossy(body).contains(&order.id.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingested_event_reaches_the_bus_and_the_webhook_registered_for_it() {
    let dispatched: EventType = "shipment.dispatched".parse().unwrap();
    let world = world(dispatched.clone()).await;
    // As `POST /webhooks/ingest` records it: an outside event in alice's feed, about no order.
    let ingested = Event {
        id: EventId::generate(),
        event_type: dispatched,
        order_id: None,
        user_id: Some(UserId("alice".into())),
        occurred_at: eventforge_core::event::truncate_to_millis(time::OffsetDateTime::now_utc()),
        detail: serde_json::json!({ "carrier": "DHL", "tracking": "JD0146" }),
        trace: None,
    };
    world.store.append_event(&ingested).await.unwrap();
    let store = Arc::clone(&world.store);

    let deliveries = world.deliveries().await;
    assert_eq!(
        deliveries.len(),
        1,
        "delivered once, through the ingested rule"
    );
    let (headers, body) = &deliveries[0];
    assert_signed(headers, body);
    let delivered: Event = serde_json::from_slice(body).unwrap();
    assert_eq!(delivered, ingested);
    let feed = store
        .recent_events(&UserId("alice".into()), 100)
        .await
        .unwrap();
    assert!(
        feed.iter()
            .any(|event| event.event_type == EventType::WEBHOOK_DELIVERED),
        "the delivery's outcome is in alice's feed: {feed:?}"
    );
}
