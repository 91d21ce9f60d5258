//! `/api/admin/inventory`: the catalogue, managed by members of the `admins` group only.

use crate::common::{HOUR, TestApp, issuer, token};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn admin_token() -> String {
    issuer()
        .mint_access_token_in_groups("olivia", &["admins"], HOUR)
        .expect("mint")
}

fn lamp(stock: i64) -> Value {
    json!({"name": "Desk lamp", "unit_price_minor": 3450, "currency": "EUR", "stock": stock})
}

#[tokio::test]
async fn an_admin_creates_a_product_then_restocks_it_and_shoppers_can_order_it() {
    let app = TestApp::new().await;
    let admin = admin_token();

    let created = app
        .request(
            Method::PUT,
            "/api/admin/inventory/LAMP-01",
            Some(&admin),
            Some(&lamp(3)),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["sku"], "LAMP-01");
    assert_eq!(created.json["stock"], 3);

    let restocked = app
        .request(
            Method::PUT,
            "/api/admin/inventory/LAMP-01",
            Some(&admin),
            Some(&lamp(40)),
        )
        .await;
    assert_eq!(restocked.status, StatusCode::OK, "{}", restocked.json);

    let listed = app.get("/api/admin/inventory", &admin).await;
    assert_eq!(listed.status, StatusCode::OK);
    let lamp_row = listed.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["sku"] == "LAMP-01")
        .expect("the new product is listed");
    assert_eq!(lamp_row["stock"], 40);

    let order = app
        .post(
            "/api/orders",
            &token("sam"),
            json!({"items": [{"sku": "LAMP-01", "quantity": 2}]}),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.json);
}

#[tokio::test]
async fn anyone_outside_the_admins_group_is_refused_with_403() {
    let app = TestApp::new().await;
    let shopper = token("sam");
    let not_quite = issuer()
        .mint_access_token_in_groups("mallory", &["administrators", "Admins"], HOUR)
        .expect("mint");
    for who in [&shopper, &not_quite] {
        let listed = app.get("/api/admin/inventory", who).await;
        let problem = listed.problem(StatusCode::FORBIDDEN);
        assert!(
            problem["detail"].as_str().unwrap().contains("admins"),
            "{problem}"
        );
        let put = app
            .request(
                Method::PUT,
                "/api/admin/inventory/LAMP-01",
                Some(who),
                Some(&lamp(3)),
            )
            .await;
        put.problem(StatusCode::FORBIDDEN);
    }
    let anonymous = app
        .request(Method::GET, "/api/admin/inventory", None, None)
        .await;
    anonymous.problem(StatusCode::UNAUTHORIZED);
    // Nothing was written by the refused requests.
    let listed = app.get("/api/admin/inventory", &admin_token()).await;
    assert!(
        !listed.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["sku"] == "LAMP-01")
    );
}

#[tokio::test]
async fn a_bad_product_is_422_naming_every_field() {
    let app = TestApp::new().await;
    let reply = app
        .request(
            Method::PUT,
            "/api/admin/inventory/bad%20sku",
            Some(&admin_token()),
            Some(&json!({"name": "", "unit_price_minor": -5, "currency": "eur", "stock": -1})),
        )
        .await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.invalid_fields(),
        ["sku", "name", "unit_price_minor", "currency", "stock"]
    );
}

#[tokio::test]
async fn the_development_issuer_mints_admin_tokens_on_request() {
    let app = TestApp::dev().await;
    let minted = app
        .request(
            Method::POST,
            "/dev/token",
            None,
            Some(&json!({"username": "olivia", "admin": true})),
        )
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.json);
    let admin = minted.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/admin/inventory", &admin).await.status,
        StatusCode::OK
    );
    let shopper = app
        .request(
            Method::POST,
            "/dev/token",
            None,
            Some(&json!({"username": "sam"})),
        )
        .await;
    let shopper = shopper.json["access_token"].as_str().unwrap().to_owned();
    app.get("/api/admin/inventory", &shopper)
        .await
        .problem(StatusCode::FORBIDDEN);
}
