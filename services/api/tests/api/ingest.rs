//! `POST /webhooks/ingest`: signed with HMAC-SHA256 over "{timestamp}.{body}", within five
//! minutes; the event is recorded through the store (and so the outbox).

use crate::common::{INGEST_SECRET, Reply, TestApp, token};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eventforge_core::signature;
use eventforge_core::{Clock, Store, UserId};
use serde_json::json;

fn alice_id() -> String {
    eventforge_auth::DevIssuer::user_id("alice")
}

pub(crate) fn signed(body: &str, timestamp: i64, secret: &[u8]) -> Request<Body> {
    Request::post("/webhooks/ingest")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-eventforge-timestamp", timestamp.to_string())
        .header(
            "x-eventforge-signature",
            signature::sign(secret, timestamp, body.as_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn ingest(app: &TestApp, body: &serde_json::Value) -> Reply {
    let now = app.clock.now().unix_timestamp();
    app.send(signed(&body.to_string(), now, INGEST_SECRET))
        .await
}

#[tokio::test]
async fn a_correctly_signed_event_is_accepted_and_published_through_the_outbox() {
    let app = TestApp::new().await;
    let body =
        json!({"type": "shipment.dispatched", "user_id": alice_id(), "detail": {"carrier": "DHL"}});

    let reply = ingest(&app, &body).await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.json);
    let id = reply.json["id"].as_str().expect("event id");
    let feed = app.get("/api/events", &token("alice")).await;
    let event = &feed.json["events"][0];
    assert_eq!(event["id"], id);
    assert_eq!(event["type"], "shipment.dispatched");
    assert_eq!(event["detail"], json!({"carrier": "DHL"}));
    let outbox = app.store.outbox_pending(10).await.expect("outbox");
    assert!(outbox.iter().any(|event| event.id.to_string() == id));
}

#[tokio::test]
async fn an_event_about_the_users_own_order_joins_its_history() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let order = app.place_order(&alice).await;
    let order_id = order["id"].as_str().expect("id");

    let reply = ingest(
        &app,
        &json!({"type": "shipment.dispatched", "user_id": alice_id(), "order_id": order_id}),
    )
    .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.json);
    let detail = app.get(&format!("/api/orders/{order_id}"), &alice).await;
    let types: Vec<&str> = detail.json["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|event| event["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["order.created", "shipment.dispatched"]);
}

#[tokio::test]
async fn an_event_about_someone_elses_order_is_422() {
    let app = TestApp::new().await;
    let order = app.place_order(&token("bob")).await;
    let reply = ingest(
        &app,
        &json!({"type": "shipment.dispatched", "user_id": alice_id(), "order_id": order["id"]}),
    )
    .await;
    assert_eq!(reply.invalid_fields(), ["order_id"]);
    let feed = app
        .store
        .recent_events(&UserId(alice_id()), 10)
        .await
        .expect("feed");
    assert!(feed.is_empty());
}

#[tokio::test]
async fn a_wrong_signature_is_401_and_records_nothing() {
    let app = TestApp::new().await;
    let body = json!({"type": "shipment.dispatched", "user_id": alice_id()}).to_string();
    let now = app.clock.now().unix_timestamp();

    app.send(signed(&body, now, b"not-the-secret"))
        .await
        .problem(StatusCode::UNAUTHORIZED);

    let mut tampered = signed(&body, now, INGEST_SECRET);
    *tampered.body_mut() = Body::from(body.replace("dispatched", "cancelled"));
    app.send(tampered).await.problem(StatusCode::UNAUTHORIZED);

    assert!(
        app.store
            .outbox_pending(10)
            .await
            .expect("outbox")
            .is_empty()
    );
}

#[tokio::test]
async fn a_signature_older_or_newer_than_five_minutes_is_401() {
    let app = TestApp::new().await;
    let body = json!({"type": "shipment.dispatched", "user_id": alice_id()}).to_string();
    let now = app.clock.now().unix_timestamp();

    for timestamp in [now - 301, now + 301] {
        let reply = app.send(signed(&body, timestamp, INGEST_SECRET)).await;
        reply.problem(StatusCode::UNAUTHORIZED);
        assert!(
            reply.json["detail"]
                .as_str()
                .expect("detail")
                .contains("five minutes")
        );
    }
    let within = app.send(signed(&body, now - 299, INGEST_SECRET)).await;
    assert_eq!(within.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_replay_window_follows_the_injected_clock() {
    let app = TestApp::new().await;
    let body = json!({"type": "shipment.dispatched", "user_id": alice_id()}).to_string();
    let signed_at = app.clock.now().unix_timestamp();
    app.clock.advance(time::Duration::minutes(6));

    app.send(signed(&body, signed_at, INGEST_SECRET))
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_signature_headers_are_401_even_with_a_broken_body() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Request::post("/webhooks/ingest")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .expect("request"),
        )
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_but_invalid_event_is_422_or_400_or_415() {
    let app = TestApp::new().await;
    let now = app.clock.now().unix_timestamp();

    assert_eq!(
        ingest(
            &app,
            &json!({"type": "Not.Valid Type", "user_id": alice_id()})
        )
        .await
        .invalid_fields(),
        ["type"]
    );
    // A partner holding the ingest secret must not confirm orders or start sagas.
    for platform_owned in ["order.confirmed", "order.created", "payment.charged"] {
        assert_eq!(
            ingest(
                &app,
                &json!({"type": platform_owned, "user_id": alice_id()})
            )
            .await
            .invalid_fields(),
            ["type"],
            "{platform_owned}"
        );
    }
    assert_eq!(
        ingest(&app, &json!({"type": "a.b", "user_id": ""}))
            .await
            .invalid_fields(),
        ["user_id"]
    );
    assert_eq!(
        ingest(
            &app,
            &json!({"type": "a.b", "user_id": alice_id(), "detail": [1]})
        )
        .await
        .invalid_fields(),
        ["detail"]
    );
    app.send(signed("{\"type\":", now, INGEST_SECRET))
        .await
        .problem(StatusCode::BAD_REQUEST);

    let mut plain = signed("{}", now, INGEST_SECRET);
    plain
        .headers_mut()
        .insert(header::CONTENT_TYPE, "text/plain".parse().expect("header"));
    app.send(plain)
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
