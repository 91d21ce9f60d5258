//! `/api/orders`: placing, replaying, listing, reading and the receipt.

use crate::common::{TestApp, token};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use eventforge_core::{Event, EventType, OrderId, Store, UserId};
use serde_json::json;

fn keyboard_order() -> serde_json::Value {
    json!({"items": [{"sku": "KEYBOARD-01", "quantity": 2}, {"sku": "MOUSE-01", "quantity": 1}]})
}

async fn post_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &serde_json::Value,
) -> crate::common::Reply {
    app.send(
        Request::post("/api/orders")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn placing_an_order_answers_201_with_the_priced_pending_order_and_its_location() {
    let app = TestApp::new().await;
    let alice = token("alice");

    let reply = app.post("/api/orders", &alice, keyboard_order()).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let order = &reply.json;
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["total_minor"], 2 * 4999 + 1999);
    assert_eq!(
        order["user_id"],
        eventforge_auth::DevIssuer::user_id("alice")
    );
    assert_eq!(
        reply.headers[header::LOCATION],
        format!("/api/orders/{}", order["id"].as_str().expect("id"))
    );
    assert!(reply.headers.get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_placed_order_records_order_created_in_its_history_and_the_outbox() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let order = app.place_order(&alice).await;
    let id = order["id"].as_str().expect("id");

    let reply = app.get(&format!("/api/orders/{id}"), &alice).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["order"], order);
    let history = reply.json["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["type"], "order.created");
    let outbox = app.store.outbox_pending(10).await.expect("outbox");
    assert!(
        outbox
            .iter()
            .any(|event| event.order_id.map(|o| o.to_string()) == Some(id.to_owned()))
    );
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_the_first_order_with_200() {
    let app = TestApp::new().await;
    let alice = token("alice");

    let first = post_with_key(&app, &alice, "order-attempt-1", &keyboard_order()).await;
    let replay = post_with_key(&app, &alice, "order-attempt-1", &keyboard_order()).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.json);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.json, first.json);
    let page = app.get("/api/orders", &alice).await;
    assert_eq!(page.json["orders"].as_array().expect("orders").len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_a_409_conflict() {
    let app = TestApp::new().await;
    let alice = token("alice");
    post_with_key(&app, &alice, "k-1", &keyboard_order()).await;

    let other = json!({"items": [{"sku": "MOUSE-01", "quantity": 5}]});
    let reply = post_with_key(&app, &alice, "k-1", &other).await;

    reply.problem(StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_idempotency_key_belongs_to_one_user() {
    let app = TestApp::new().await;
    let first = post_with_key(&app, &token("alice"), "shared-key", &keyboard_order()).await;
    let second = post_with_key(&app, &token("bob"), "shared-key", &keyboard_order()).await;

    assert_eq!(second.status, StatusCode::CREATED);
    assert_ne!(first.json["id"], second.json["id"]);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400() {
    let app = TestApp::new().await;
    let reply = post_with_key(&app, &token("alice"), &"k".repeat(256), &keyboard_order()).await;
    reply.problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_invalid_order_is_422_naming_every_bad_field() {
    let app = TestApp::new().await;
    let reply = app
        .post(
            "/api/orders",
            &token("alice"),
            json!({"items": [
                {"sku": "KEYBOARD-01", "quantity": 0},
                {"sku": "bad sku", "quantity": 1},
                {"sku": "MOUSE-01", "quantity": 1001},
            ]}),
        )
        .await;

    assert_eq!(
        reply.invalid_fields(),
        ["items[0].quantity", "items[1].sku", "items[2].quantity"]
    );
}

#[tokio::test]
async fn unknown_products_and_mixed_currencies_are_422() {
    let app = TestApp::new().await;
    let reply = app
        .post(
            "/api/orders",
            &token("alice"),
            json!({"items": [{"sku": "KEYBOARD-01", "quantity": 1}, {"sku": "TEA-01", "quantity": 1}, {"sku": "GHOST-1", "quantity": 1}]}),
        )
        .await;

    assert_eq!(reply.invalid_fields(), ["items[1].sku", "items[2].sku"]);
}

#[tokio::test]
async fn an_empty_order_is_422() {
    let app = TestApp::new().await;
    let reply = app
        .post("/api/orders", &token("alice"), json!({"items": []}))
        .await;
    assert_eq!(reply.invalid_fields(), ["items"]);
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let alice = token("alice");

    let wrong_type = app
        .post(
            "/api/orders",
            &alice,
            json!({"items": [{"sku": "KEYBOARD-01", "quantity": "two"}]}),
        )
        .await;
    let unknown_field = app
        .post("/api/orders", &alice, json!({"items": [], "price": 1}))
        .await;
    let missing = app.post("/api/orders", &alice, json!({})).await;

    assert_eq!(wrong_type.invalid_fields(), ["items[0].quantity"]);
    assert_eq!(unknown_field.invalid_fields(), ["price"]);
    assert_eq!(missing.invalid_fields(), ["body"]);
}

#[tokio::test]
async fn broken_json_is_400_and_a_body_that_is_not_json_is_415() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let send = |content_type: &'static str, body: &'static str| {
        Request::post("/api/orders")
            .header(header::AUTHORIZATION, format!("Bearer {alice}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("request")
    };

    app.send(send("application/json", "{\"items\": ["))
        .await
        .problem(StatusCode::BAD_REQUEST);
    app.send(send("text/plain", "{\"items\": []}"))
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn orders_are_listed_newest_first_page_by_page() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(app.place_order(&alice).await["id"].clone());
        app.clock.advance(time::Duration::seconds(1));
    }
    placed.reverse();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/api/orders?limit=2".to_owned();
    loop {
        let reply = app.get(&path, &alice).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        pages += 1;
        let orders = reply.json["orders"].as_array().expect("orders");
        assert!(orders.len() <= 2);
        seen.extend(orders.iter().map(|order| order["id"].clone()));
        match reply.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/orders?limit=2&cursor={cursor}"),
            None => {
                assert!(reply.json["next_cursor"].is_null());
                break;
            }
        }
        assert!(pages < 10, "pagination does not end");
    }

    assert_eq!(seen, placed);
    assert!(pages >= 3);
}

#[tokio::test]
async fn a_page_size_out_of_range_is_422_and_an_unparsable_one_400() {
    let app = TestApp::new().await;
    let alice = token("alice");

    assert_eq!(
        app.get("/api/orders?limit=51", &alice)
            .await
            .invalid_fields(),
        ["limit"]
    );
    assert_eq!(
        app.get("/api/orders?limit=0", &alice)
            .await
            .invalid_fields(),
        ["limit"]
    );
    app.get("/api/orders?limit=ten", &alice)
        .await
        .problem(StatusCode::BAD_REQUEST);
    app.get("/api/orders?limit=50", &alice).await;
}

#[tokio::test]
async fn a_cursor_the_server_did_not_issue_is_400() {
    let app = TestApp::new().await;
    let reply = app
        .get("/api/orders?cursor=not-a-cursor", &token("alice"))
        .await;
    reply.problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn another_users_order_is_404_and_absent_from_their_list() {
    let app = TestApp::new().await;
    let order = app.place_order(&token("alice")).await;
    let id = order["id"].as_str().expect("id");
    let bob = token("bob");

    app.get(&format!("/api/orders/{id}"), &bob)
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get(&format!("/api/orders/{id}/receipt"), &bob)
        .await
        .problem(StatusCode::NOT_FOUND);
    let bobs = app.get("/api/orders", &bob).await;
    assert_eq!(bobs.json["orders"], json!([]));
}

#[tokio::test]
async fn an_unknown_order_is_404_and_an_id_that_is_no_uuid_400() {
    let app = TestApp::new().await;
    let alice = token("alice");
    app.get(&format!("/api/orders/{}", OrderId::generate()), &alice)
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get("/api/orders/12345", &alice)
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_receipt_is_404_until_it_is_attached_then_a_link() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let order = app.place_order(&alice).await;
    let id: OrderId = order["id"].as_str().expect("id").parse().expect("uuid");
    let path = format!("/api/orders/{id}/receipt");

    app.get(&path, &alice).await.problem(StatusCode::NOT_FOUND);

    let generated = Event::about_order(
        EventType::RECEIPT_GENERATED,
        id,
        UserId(eventforge_auth::DevIssuer::user_id("alice")),
        crate::common::now(),
        json!({}),
    );
    app.store
        .attach_receipt(id, &format!("{id}.pdf"), &generated)
        .await
        .expect("attach");
    let reply = app.get(&path, &alice).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        reply.json["url"],
        format!("http://127.0.0.1:3000/files/receipts/{id}.pdf")
    );
}

#[tokio::test]
async fn the_inventory_lists_every_product_by_sku() {
    let app = TestApp::new().await;
    let reply = app.get("/api/inventory", &token("alice")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let skus: Vec<&str> = reply.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["sku"].as_str().expect("sku"))
        .collect();
    assert_eq!(skus, ["KEYBOARD-01", "MOUSE-01", "TEA-01"]);
}

#[tokio::test]
async fn the_event_feed_shows_the_callers_events_newest_first_and_only_theirs() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let first = app.place_order(&alice).await;
    app.clock.advance(time::Duration::seconds(1));
    let second = app.place_order(&alice).await;
    app.place_order(&token("bob")).await;

    let reply = app.get("/api/events", &alice).await;

    assert_eq!(reply.status, StatusCode::OK);
    let order_ids: Vec<&serde_json::Value> = reply.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| &event["order_id"])
        .collect();
    assert_eq!(order_ids, [&second["id"], &first["id"]]);
    assert_eq!(
        app.get("/api/events?limit=1", &alice).await.json["events"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.get("/api/events?limit=101", &alice)
            .await
            .invalid_fields(),
        ["limit"]
    );
}

#[tokio::test]
async fn head_and_get_are_the_only_ways_to_read_an_order() {
    let app = TestApp::new().await;
    let reply = app
        .request(Method::PUT, "/api/orders", Some(&token("alice")), None)
        .await;
    reply.problem(StatusCode::METHOD_NOT_ALLOWED);
}
