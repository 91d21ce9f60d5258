//! Property: whatever a client sends, the answer is never a server error, and every refusal is
//! a problem document.

use crate::common::{INGEST_SECRET, TestApp, token};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9 ._:/-]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("KEYBOARD-01"),
            Just("order.confirmed"),
            Just("https://10.0.0.1/")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("items".to_owned()),
                    Just("sku".to_owned()),
                    Just("quantity".to_owned()),
                    Just("url".to_owned()),
                    Just("event_types".to_owned()),
                    Just("type".to_owned()),
                    Just("user_id".to_owned()),
                    Just("order_id".to_owned()),
                    Just("detail".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4,
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|value| value.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

const WRITES: [&str; 4] = [
    "/api/orders",
    "/api/webhooks",
    "/webhooks/ingest",
    "/dev/token",
];

#[test]
fn no_body_sent_to_any_write_route_causes_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(TestApp::dev());
    let alice = token("alice");
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..WRITES.len(), body()), |(route, body)| {
            let path = WRITES[route];
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let request = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {alice}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-eventforge-timestamp", timestamp.to_string())
                .header(
                    "x-eventforge-signature",
                    eventforge_core::signature::sign(INGEST_SECRET, timestamp, &body),
                )
                .body(Body::from(body))
                .expect("request");
            let reply = runtime.block_on(app.send(request));
            prop_assert!(!reply.status.is_server_error(), "{path}: {}", reply.json);
            if reply.status.is_client_error() {
                prop_assert_eq!(
                    &reply.headers[header::CONTENT_TYPE],
                    "application/problem+json"
                );
                prop_assert_eq!(&reply.json["status"], reply.status.as_u16());
            }
            Ok::<(), TestCaseError>(())
        })
        .expect("no server errors");
}

#[test]
fn no_query_string_causes_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(TestApp::new());
    let alice = token("alice");
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                prop_oneof![Just("/api/orders"), Just("/api/events")],
                "[a-z0-9=&%-]{0,24}",
            ),
            |(path, query)| {
                let request = Request::get(format!("{path}?{query}"))
                    .header(header::AUTHORIZATION, format!("Bearer {alice}"))
                    .body(Body::empty())
                    .expect("request");
                let reply = runtime.block_on(app.send(request));
                prop_assert!(
                    !reply.status.is_server_error(),
                    "{path}?{query}: {}",
                    reply.json
                );
                prop_assert!(
                    reply.status == StatusCode::OK
                        || reply.headers[header::CONTENT_TYPE] == "application/problem+json"
                );
                Ok(())
            },
        )
        .expect("no server errors");
}
