//! Specifications of the DynamoDB backend beyond the shared suite: how cancelled transactions
//! map to domain errors, paging, contention, the item layout the stream consumer relies on, and
//! the test server's lifecycle.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use eventforge_core::event::{Event, EventType};
use eventforge_core::ids::{OrderId, Sku, UserId};
use eventforge_core::inventory::{InventoryItem, StockLine};
use eventforge_core::order::{Order, OrderItem, OrderStatus};
use eventforge_core::store::{
    CreateOutcome, IdempotencyClaim, Page, ReleaseOutcome, ReserveOutcome, Store, StoreError,
};
use eventforge_store_dynamodb::DynamoStore;
use eventforge_store_dynamodb::moto::MotoServer;
use std::collections::HashMap;
use std::sync::Arc;
use support::fresh_dynamo_store;
use time::OffsetDateTime;
use time::macros::datetime;

fn at(offset_ms: i64) -> OffsetDateTime {
    datetime!(2026-11-24 12:00:00 UTC) + time::Duration::milliseconds(offset_ms)
}

fn sku(name: &str) -> Sku {
    name.parse().expect("sku")
}

fn product(name: &str, stock: u32) -> InventoryItem {
    InventoryItem {
        sku: sku(name),
        name: format!("Product {name}"),
        unit_price_minor: 100,
        currency: "USD".parse().expect("currency"),
        stock,
    }
}

fn line(name: &str, quantity: u32) -> StockLine {
    StockLine {
        sku: sku(name),
        quantity,
    }
}

fn order(user: &str, offset_ms: i64) -> Order {
    Order {
        id: OrderId::generate(),
        user_id: UserId(user.into()),
        items: vec![OrderItem {
            sku: sku("SKU-A"),
            quantity: 1,
            unit_price_minor: 100,
        }],
        currency: "USD".parse().expect("currency"),
        total_minor: 100,
        status: OrderStatus::Pending,
        created_at: at(offset_ms),
        updated_at: at(offset_ms),
        idempotency_key: None,
        receipt_key: None,
    }
}

fn event(order: &Order, event_type: EventType, offset_ms: i64) -> Event {
    Event::about_order(
        event_type,
        order.id,
        order.user_id.clone(),
        at(offset_ms),
        serde_json::json!({}),
    )
}

async fn placed(store: &DynamoStore, user: &str, offset_ms: i64) -> Order {
    let order = order(user, offset_ms);
    store
        .create_order(
            &order,
            &event(&order, EventType::ORDER_CREATED, offset_ms),
            None,
        )
        .await
        .expect("create");
    order
}

async fn reserve(
    store: &DynamoStore,
    order: &Order,
    lines: &[StockLine],
    offset_ms: i64,
) -> Result<ReserveOutcome, StoreError> {
    let reserved = event(order, EventType::INVENTORY_RESERVED, offset_ms);
    store.reserve_stock(order.id, lines, &reserved).await
}

async fn page_of(
    store: &DynamoStore,
    user: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<Order>, StoreError> {
    store.list_orders(&UserId(user.into()), limit, cursor).await
}

async fn stock(store: &DynamoStore, name: &str) -> u32 {
    store.get_inventory(&[sku(name)]).await.expect("get")[0].stock
}

async fn raw_item(
    store: &DynamoStore,
    pk: &str,
    sk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("PK", AttributeValue::S(pk.into()))
        .key("SK", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

#[tokio::test]
async fn an_unknown_sku_is_reported_even_beside_a_line_that_lacks_stock() {
    let store = fresh_dynamo_store().await;
    store
        .put_inventory(&product("SKU-A", 1))
        .await
        .expect("put");
    let order = placed(&store, "alice", 0).await;
    let result = reserve(&store, &order, &[line("SKU-GHOST", 1), line("SKU-A", 5)], 1).await;
    assert!(
        matches!(&result, Err(StoreError::UnknownSku(s)) if s.as_str() == "SKU-GHOST"),
        "got {result:?}"
    );
    assert_eq!(stock(&store, "SKU-A").await, 1);
}

#[tokio::test]
async fn insufficient_stock_reports_what_is_available() {
    let store = fresh_dynamo_store().await;
    store
        .put_inventory(&product("SKU-A", 2))
        .await
        .expect("put");
    let order = placed(&store, "alice", 0).await;
    let result = reserve(&store, &order, &[line("SKU-A", 3)], 1).await;
    assert!(
        matches!(
            &result,
            Err(StoreError::InsufficientStock {
                requested: 3,
                available: 2,
                ..
            })
        ),
        "got {result:?}"
    );
    let reservation = raw_item(&store, &format!("ORDER#{}", order.id), "RESERVATION").await;
    assert!(
        reservation.is_none(),
        "a refused reservation leaves no item"
    );
}

#[tokio::test]
async fn lines_naming_one_sku_twice_are_reserved_and_released_as_their_sum() {
    let store = fresh_dynamo_store().await;
    store
        .put_inventory(&product("SKU-A", 5))
        .await
        .expect("put");
    let order = placed(&store, "alice", 0).await;
    let lines = [line("SKU-A", 2), line("SKU-A", 3)];
    let outcome = reserve(&store, &order, &lines, 1).await.expect("reserve");
    assert_eq!(outcome, ReserveOutcome::Reserved);
    assert_eq!(stock(&store, "SKU-A").await, 0);

    let other = placed(&store, "alice", 1).await;
    let result = reserve(&store, &other, &[line("SKU-A", 1), line("SKU-A", 1)], 2).await;
    assert!(
        matches!(
            &result,
            Err(StoreError::InsufficientStock {
                requested: 2,
                available: 0,
                ..
            })
        ),
        "the summed quantity is what is requested: {result:?}"
    );

    let released = store
        .release_stock(order.id, &event(&order, EventType::INVENTORY_RELEASED, 3))
        .await
        .expect("release");
    assert_eq!(
        released,
        ReleaseOutcome::Released(lines.to_vec()),
        "the lines as reserved"
    );
    assert_eq!(stock(&store, "SKU-A").await, 5);
}

#[tokio::test]
async fn a_reservation_of_fifty_skus_fits_one_transaction() {
    let store = fresh_dynamo_store().await;
    let mut lines = Vec::new();
    for index in 0..50 {
        let name = format!("SKU-{index:02}");
        store.put_inventory(&product(&name, 1)).await.expect("put");
        lines.push(line(&name, 1));
    }
    let order = placed(&store, "alice", 0).await;
    let outcome = reserve(&store, &order, &lines, 1).await.expect("reserve");
    assert_eq!(outcome, ReserveOutcome::Reserved);
    assert!(
        store
            .list_inventory()
            .await
            .expect("list")
            .iter()
            .all(|item| item.stock == 0)
    );
}

#[tokio::test]
async fn contended_reservations_sell_exactly_the_stock() {
    const STOCK: u32 = 10;
    let store = Arc::new(fresh_dynamo_store().await);
    store
        .put_inventory(&product("SKU-HOT", STOCK))
        .await
        .expect("put");
    let mut orders = Vec::new();
    for offset in 0..30 {
        orders.push(placed(&store, "alice", offset).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for order in orders {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let event = event(&order, EventType::INVENTORY_RESERVED, 100);
            store
                .reserve_stock(order.id, &[line("SKU-HOT", 1)], &event)
                .await
        });
    }
    let mut sold = 0;
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            Ok(ReserveOutcome::Reserved) => sold += 1,
            Err(StoreError::InsufficientStock { .. }) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(sold, STOCK);
    assert_eq!(stock(&store, "SKU-HOT").await, 0);
}

#[tokio::test]
async fn a_full_last_page_has_no_cursor() {
    let store = fresh_dynamo_store().await;
    for offset in 0..6 {
        placed(&store, "alice", offset).await;
    }
    let first = page_of(&store, "alice", 3, None).await.expect("page");
    let cursor = first.next_cursor.expect("a second page");
    let second = page_of(&store, "alice", 3, Some(&cursor))
        .await
        .expect("page");
    assert_eq!(second.items.len(), 3);
    assert_eq!(second.next_cursor, None, "no cursor to an empty page");
}

#[tokio::test]
async fn a_cursor_is_valid_only_for_the_user_it_was_issued_to() {
    let store = fresh_dynamo_store().await;
    for offset in 0..3 {
        placed(&store, "alice", offset).await;
    }
    let page = page_of(&store, "alice", 1, None).await.expect("page");
    let cursor = page.next_cursor.expect("cursor");
    let result = page_of(&store, "bob", 1, Some(&cursor)).await;
    assert!(
        matches!(result, Err(StoreError::InvalidCursor)),
        "got {result:?}"
    );
}

#[tokio::test]
async fn published_events_leave_the_outbox_index_but_not_the_table() {
    let store = fresh_dynamo_store().await;
    let order = placed(&store, "alice", 0).await;
    let created = store.outbox_pending(10).await.expect("outbox").remove(0);
    let event_sk = format!("EVENT#{:015}#{}", at(0).unix_timestamp() * 1000, created.id);
    let pk = format!("ORDER#{}", order.id);
    let before = raw_item(&store, &pk, &event_sk).await.expect("event item");
    assert_eq!(
        before.get("GSI2PK"),
        Some(&AttributeValue::S("OUTBOX".into()))
    );
    assert_eq!(
        before.get("entity"),
        Some(&AttributeValue::S("event".into()))
    );
    let guard = raw_item(&store, &format!("EVENTID#{}", created.id), "EVENTID").await;
    assert!(guard.is_some(), "the id guard is written with the event");

    store.mark_published(&[created.id]).await.expect("publish");
    let after = raw_item(&store, &pk, &event_sk)
        .await
        .expect("event item stays");
    assert!(!after.contains_key("GSI2PK") && !after.contains_key("GSI2SK"));
    assert_eq!(after.get("data"), before.get("data"));
}

#[tokio::test]
async fn an_idempotency_claim_expires_through_the_tables_time_to_live() {
    let store = fresh_dynamo_store().await;
    let order = order("alice", 0);
    let claim = IdempotencyClaim {
        key: "key-1".into(),
        request_fingerprint: "fp".into(),
        expires_at: at(86_400_000),
    };
    store
        .create_order(
            &order,
            &event(&order, EventType::ORDER_CREATED, 0),
            Some(&claim),
        )
        .await
        .expect("create");
    let item = raw_item(&store, "IDEMPOTENCY#alice", "KEY#key-1")
        .await
        .expect("claim item");
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N(
            at(86_400_000).unix_timestamp().to_string()
        ))
    );
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .expect("describe ttl");
    let description = ttl.time_to_live_description.expect("ttl description");
    assert_eq!(description.attribute_name.as_deref(), Some("expires_at"));
}

#[tokio::test]
async fn resending_the_very_same_create_replays_it() {
    let store = fresh_dynamo_store().await;
    let order = order("alice", 0);
    let created = event(&order, EventType::ORDER_CREATED, 0);
    let claim = IdempotencyClaim {
        key: "key-1".into(),
        request_fingerprint: "fp".into(),
        expires_at: at(86_400_000),
    };
    let first = store.create_order(&order, &created, Some(&claim)).await;
    let again = store.create_order(&order, &created, Some(&claim)).await;
    assert_eq!(first.expect("first"), CreateOutcome::Created(order.clone()));
    assert_eq!(again.expect("again"), CreateOutcome::Replayed(order));
}

#[tokio::test]
async fn the_table_has_the_shared_schemas_indexes_and_a_stream() {
    let store = fresh_dynamo_store().await;
    let table = store
        .client()
        .describe_table()
        .table_name(store.table_name())
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    let mut names: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name.clone())
        .collect();
    names.sort();
    let expected: Vec<_> = eventforge_core::table_schema::GLOBAL_INDEXES
        .iter()
        .map(|index| index.name.to_owned())
        .collect();
    assert_eq!(names, expected);
    let stream = table.stream_specification.expect("stream");
    assert!(stream.stream_enabled);
    assert_eq!(
        stream.stream_view_type,
        Some(aws_sdk_dynamodb::types::StreamViewType::NewImage)
    );
}

#[tokio::test]
async fn service_errors_become_backend_errors_with_the_service_message() {
    let store = DynamoStore::new(support::server().dynamodb_client(), "no-such-table");
    let result = store.get_order(OrderId::generate()).await;
    match result {
        Err(StoreError::Backend(error)) => {
            let message = error.to_string();
            assert!(message.contains("GetItem"), "{message}");
            assert!(message.contains("ResourceNotFound"), "{message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[test]
fn a_dropped_server_stops_and_frees_its_port() {
    let server = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], server.port()));
    assert!(
        std::net::TcpStream::connect(address).is_ok(),
        "answers while alive"
    );
    drop(server);
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "gone once dropped"
    );
}

#[tokio::test]
async fn clients_built_from_the_shared_sdk_config_reach_the_server() {
    let config = support::server().sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let store = fresh_dynamo_store().await;
    let tables = client.list_tables().send().await.expect("list tables");
    assert!(
        tables
            .table_names()
            .iter()
            .any(|name| name == store.table_name())
    );
}
