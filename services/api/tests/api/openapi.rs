//! The OpenAPI document describes exactly what the router serves.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

async fn document(app: &TestApp) -> Value {
    let reply = app
        .send(
            Request::get("/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json
}

/// Every route of the fullest configuration (development issuer, dashboard configuration,
/// receipt files).
async fn full_app() -> TestApp {
    TestApp::dev().await
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_a_bearer_scheme() {
    let doc = document(&TestApp::new().await).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    for schema in [
        "Order",
        "Event",
        "Webhook",
        "CreateOrderRequest",
        "Problem",
        "FieldError",
        "InventoryItem",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test]
async fn every_route_in_the_router_is_in_the_document_and_nothing_else() {
    let app = full_app().await;
    let doc = document(&app).await;
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let mut served: Vec<(String, String)> = app
        .routes
        .iter()
        .map(|route| (route.method.to_string(), route.path.to_owned()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(served, documented);
    assert!(served.len() >= 16, "{served:?}");
}

#[tokio::test]
async fn every_listed_route_is_really_routed() {
    let app = full_app().await;
    for route in &app.routes {
        let path = route
            .path
            .replace("{id}", &eventforge_core::OrderId::generate().to_string())
            .replace("{key}", "missing.pdf");
        let reply = app
            .send(
                Request::builder()
                    .method(route.method.clone())
                    .uri(&path)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
            || reply.json["detail"]
                .as_str()
                .is_some_and(|detail| detail.starts_with("no route"));
        assert!(
            !unrouted,
            "{} {path} is not routed: {}",
            route.method, reply.json
        );
    }
}

#[tokio::test]
async fn secured_operations_document_bearer_auth_and_every_error_is_a_problem() {
    let doc = document(&full_app().await).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let responses = operation["responses"].as_object().expect("responses");
            let secured = operation.get("security").is_some();
            assert_eq!(
                secured,
                path.starts_with("/api/"),
                "{method} {path}: /api routes and only they need a token"
            );
            if secured {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                assert!(responses.contains_key("503"), "{method} {path} lacks 503");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn request_bodies_and_responses_name_their_schemas() {
    let doc = document(&TestApp::new().await).await;
    let create = &doc["paths"]["/api/orders"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateOrderRequest"
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Order"
    );
    assert!(create["responses"]["409"].is_object() && create["responses"]["422"].is_object());
    assert_eq!(
        doc["paths"]["/api/webhooks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/RegisterWebhookRequest"
    );
}
