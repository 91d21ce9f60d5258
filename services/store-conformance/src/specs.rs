//! The specifications. Each takes a fresh, empty store and panics with a message naming the
//! broken rule.

use crate::fixtures::*;
use eventforge_core::event::EventType;
use eventforge_core::ids::{EventId, OrderId};
use eventforge_core::order::OrderStatus;
use eventforge_core::store::{
    CreateOutcome, MAX_PAGE_SIZE, ReleaseOutcome, ReserveOutcome, Store, StoreError,
};
use std::collections::HashSet;
use std::sync::Arc;

pub async fn creating_an_order_writes_one_pending_record_and_its_created_event(
    store: Arc<dyn Store>,
) {
    let alice = user("alice");
    let order = stored_order(store.as_ref(), &alice, 0).await;

    let read = store
        .get_order(order.id)
        .await
        .expect("get")
        .expect("order exists");
    assert_eq!(read, order, "the stored order reads back unchanged");
    assert_eq!(read.status, OrderStatus::Pending);
    let history = store.order_history(order.id).await.expect("history");
    assert_eq!(history.len(), 1, "exactly one event");
    assert_eq!(history[0].event_type, EventType::ORDER_CREATED);
    let outbox = store.outbox_pending(100).await.expect("outbox");
    assert_eq!(outbox, history, "the created event is in the outbox");
}

pub async fn a_missing_order_reads_as_none(store: Arc<dyn Store>) {
    assert_eq!(
        store.get_order(OrderId::generate()).await.expect("get"),
        None
    );
    assert!(
        store
            .order_history(OrderId::generate())
            .await
            .expect("history")
            .is_empty()
    );
}

pub async fn an_order_reads_with_its_history_in_one_call(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 10))
        .await
        .expect("put");
    let alice = user("alice");
    let order = stored_order(store.as_ref(), &alice, 0).await;
    let neighbour = stored_order(store.as_ref(), &alice, 1).await;
    let validated = event_for(&order, EventType::ORDER_VALIDATED, 10);
    let moved = store
        .transition_order(
            order.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &validated,
        )
        .await
        .expect("transition");
    // The reservation sits beside the order and its events (DynamoDB: the same partition).
    let reserved = event_for(&order, EventType::INVENTORY_RESERVED, 20);
    store
        .reserve_stock(order.id, &[line("SKU-A", 3)], &reserved)
        .await
        .expect("reserve");

    let (read, history) = store
        .order_with_history(order.id)
        .await
        .expect("read")
        .expect("order exists");
    assert_eq!(read, moved, "the order as its last transition left it");
    assert_eq!(
        history,
        store.order_history(order.id).await.expect("history"),
        "the history as order_history reads it"
    );
    let ids: Vec<EventId> = history.iter().map(|event| event.id).collect();
    assert_eq!(ids.len(), 3, "created, validated, reserved: {ids:?}");
    assert_eq!(ids[1..], [validated.id, reserved.id], "oldest first");
    let (other, other_history) = store
        .order_with_history(neighbour.id)
        .await
        .expect("read")
        .expect("the other order exists");
    assert_eq!(other, neighbour);
    assert_eq!(other_history.len(), 1, "only the other order's own event");
    assert_eq!(
        store
            .order_with_history(OrderId::generate())
            .await
            .expect("read"),
        None,
        "a missing order reads as none"
    );
}

pub async fn a_repeated_idempotency_key_replays_the_first_order(store: Arc<dyn Store>) {
    let alice = user("alice");
    let first = order(&alice, 0);
    let claim = claim("key-1", "fingerprint-1");
    let created = store
        .create_order(&first, &created_event(&first), Some(&claim))
        .await
        .expect("first create");
    assert_eq!(created, CreateOutcome::Created(first.clone()));

    let retry = order(&alice, 5);
    let replayed = store
        .create_order(&retry, &created_event(&retry), Some(&claim))
        .await
        .expect("retry");
    assert_eq!(
        replayed,
        CreateOutcome::Replayed(first.clone()),
        "the first order comes back"
    );
    assert_eq!(
        store.get_order(retry.id).await.expect("get"),
        None,
        "no second order"
    );
    let listed = store.list_orders(&alice, 50, None).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        store.outbox_pending(100).await.expect("outbox").len(),
        1,
        "one event only"
    );
}

pub async fn an_idempotency_key_reused_for_another_request_is_refused(store: Arc<dyn Store>) {
    let alice = user("alice");
    let first = order(&alice, 0);
    store
        .create_order(
            &first,
            &created_event(&first),
            Some(&claim("key-1", "fp-1")),
        )
        .await
        .expect("first create");
    let other = order(&alice, 1);
    let result = store
        .create_order(
            &other,
            &created_event(&other),
            Some(&claim("key-1", "fp-2")),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::IdempotencyKeyReused { existing }) if existing == first.id),
        "got {result:?}"
    );
    assert_eq!(store.get_order(other.id).await.expect("get"), None);
}

pub async fn idempotency_keys_belong_to_one_user(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let for_alice = order(&alice, 0);
    let for_bob = order(&bob, 1);
    let claim = claim("shared-key", "fp");
    store
        .create_order(&for_alice, &created_event(&for_alice), Some(&claim))
        .await
        .expect("alice");
    let outcome = store
        .create_order(&for_bob, &created_event(&for_bob), Some(&claim))
        .await
        .expect("bob");
    assert_eq!(
        outcome,
        CreateOutcome::Created(for_bob),
        "bob's key is his own"
    );
}

pub async fn a_users_orders_come_newest_first_across_pages(store: Arc<dyn Store>) {
    let alice = user("alice");
    let mut placed = Vec::new();
    for offset in 0..7 {
        placed.push(stored_order(store.as_ref(), &alice, offset * 1000).await);
    }
    placed.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for expected_len in [3, 3, 1] {
        let page = store
            .list_orders(&alice, 3, cursor.as_deref())
            .await
            .expect("page");
        assert_eq!(page.items.len(), expected_len);
        seen.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if let Some(cursor) = cursor {
        let tail = store
            .list_orders(&alice, 3, Some(&cursor))
            .await
            .expect("tail");
        assert!(
            tail.items.is_empty() && tail.next_cursor.is_none(),
            "no more pages"
        );
    }
    assert_eq!(seen, placed, "every order once, newest first");
}

pub async fn users_see_only_their_own_orders(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let mine = stored_order(store.as_ref(), &alice, 0).await;
    stored_order(store.as_ref(), &bob, 1).await;
    let page = store.list_orders(&alice, 50, None).await.expect("list");
    assert_eq!(page.items, vec![mine]);
}

pub async fn page_sizes_are_clamped_to_fifty(store: Arc<dyn Store>) {
    let alice = user("alice");
    for offset in 0..(MAX_PAGE_SIZE as i64 + 2) {
        stored_order(store.as_ref(), &alice, offset).await;
    }
    let page = store.list_orders(&alice, 10_000, None).await.expect("list");
    assert_eq!(page.items.len(), MAX_PAGE_SIZE);
    assert!(page.next_cursor.is_some(), "the rest is one cursor away");
    let zero = store.list_orders(&alice, 0, None).await.expect("list");
    assert_eq!(
        zero.items.len(),
        1,
        "a limit of zero still returns one order"
    );
}

pub async fn a_forged_cursor_is_refused(store: Arc<dyn Store>) {
    let result = store
        .list_orders(&user("alice"), 10, Some("not-a-cursor!"))
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidCursor)),
        "got {result:?}"
    );
}

pub async fn a_transition_changes_status_and_records_its_event(store: Arc<dyn Store>) {
    let alice = user("alice");
    let order = stored_order(store.as_ref(), &alice, 0).await;
    let event = event_for(&order, EventType::ORDER_VALIDATED, 10);
    let moved = store
        .transition_order(
            order.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &event,
        )
        .await
        .expect("transition");
    assert_eq!(moved.status, OrderStatus::Processing);
    assert_eq!(
        moved.updated_at, event.occurred_at,
        "updated_at is the event's time"
    );
    assert_eq!(store.get_order(order.id).await.expect("get"), Some(moved));
    let history = store.order_history(order.id).await.expect("history");
    let types: Vec<_> = history.iter().map(|e| e.event_type.clone()).collect();
    assert_eq!(
        types,
        [EventType::ORDER_CREATED, EventType::ORDER_VALIDATED],
        "oldest first"
    );
}

pub async fn a_transition_from_the_wrong_status_changes_nothing(store: Arc<dyn Store>) {
    let alice = user("alice");
    let order = stored_order(store.as_ref(), &alice, 0).await;
    let event = event_for(&order, EventType::ORDER_CONFIRMED, 10);
    let result = store
        .transition_order(
            order.id,
            OrderStatus::Processing,
            OrderStatus::Confirmed,
            &event,
        )
        .await;
    assert!(
        matches!(
            result,
            Err(StoreError::StatusConflict {
                actual: OrderStatus::Pending,
                expected: OrderStatus::Processing,
                ..
            })
        ),
        "got {result:?}"
    );
    assert_eq!(
        store.get_order(order.id).await.expect("get"),
        Some(order.clone())
    );
    assert_eq!(
        store.order_history(order.id).await.expect("history").len(),
        1,
        "no event"
    );
    assert_eq!(
        store.outbox_pending(100).await.expect("outbox").len(),
        1,
        "no outbox entry"
    );
}

pub async fn a_transition_of_a_missing_order_is_not_found(store: Arc<dyn Store>) {
    let ghost = order(&user("alice"), 0);
    let result = store
        .transition_order(
            ghost.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &event_for(&ghost, EventType::ORDER_VALIDATED, 1),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::OrderNotFound(id)) if id == ghost.id),
        "got {result:?}"
    );
}

pub async fn reserving_takes_stock_and_records_the_reservation(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 10))
        .await
        .expect("put");
    store
        .put_inventory(&product("SKU-B", 5))
        .await
        .expect("put");
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let event = event_for(&order, EventType::INVENTORY_RESERVED, 1);
    let outcome = store
        .reserve_stock(order.id, &[line("SKU-A", 3), line("SKU-B", 5)], &event)
        .await
        .expect("reserve");
    assert_eq!(outcome, ReserveOutcome::Reserved);
    assert_eq!(stock_of(store.as_ref(), "SKU-A").await, 7);
    assert_eq!(
        stock_of(store.as_ref(), "SKU-B").await,
        0,
        "stock may reach exactly zero"
    );
    let history = store.order_history(order.id).await.expect("history");
    assert_eq!(history.last().map(|e| e.id), Some(event.id));
}

pub async fn a_reservation_is_all_or_nothing(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 10))
        .await
        .expect("put");
    store
        .put_inventory(&product("SKU-B", 2))
        .await
        .expect("put");
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let event = event_for(&order, EventType::INVENTORY_RESERVED, 1);
    let result = store
        .reserve_stock(order.id, &[line("SKU-A", 3), line("SKU-B", 3)], &event)
        .await;
    assert!(
        matches!(&result, Err(StoreError::InsufficientStock { sku, requested: 3, available: 2 }) if sku.as_str() == "SKU-B"),
        "got {result:?}"
    );
    assert_eq!(
        stock_of(store.as_ref(), "SKU-A").await,
        10,
        "the satisfiable line was not taken"
    );
    assert_eq!(
        store.order_history(order.id).await.expect("history").len(),
        1,
        "no event"
    );
    let released = store
        .release_stock(
            order.id,
            &event_for(&order, EventType::INVENTORY_RELEASED, 2),
        )
        .await
        .expect("release");
    assert_eq!(
        released,
        ReleaseOutcome::NothingReserved,
        "a failed reservation holds nothing"
    );
}

pub async fn reserving_twice_for_one_order_changes_nothing(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 10))
        .await
        .expect("put");
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let first = event_for(&order, EventType::INVENTORY_RESERVED, 1);
    store
        .reserve_stock(order.id, &[line("SKU-A", 4)], &first)
        .await
        .expect("reserve");
    let retry = event_for(&order, EventType::INVENTORY_RESERVED, 2);
    let outcome = store
        .reserve_stock(order.id, &[line("SKU-A", 4)], &retry)
        .await
        .expect("retry");
    assert_eq!(outcome, ReserveOutcome::AlreadyReserved);
    assert_eq!(
        stock_of(store.as_ref(), "SKU-A").await,
        6,
        "stock taken once"
    );
    assert_eq!(
        store.order_history(order.id).await.expect("history").len(),
        2,
        "one reservation event"
    );
}

pub async fn reserving_an_unknown_sku_is_refused(store: Arc<dyn Store>) {
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let result = store
        .reserve_stock(
            order.id,
            &[line("SKU-GHOST", 1)],
            &event_for(&order, EventType::INVENTORY_RESERVED, 1),
        )
        .await;
    assert!(
        matches!(&result, Err(StoreError::UnknownSku(sku)) if sku.as_str() == "SKU-GHOST"),
        "got {result:?}"
    );
}

pub async fn releasing_restores_the_reserved_stock_exactly_once(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 10))
        .await
        .expect("put");
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    store
        .reserve_stock(
            order.id,
            &[line("SKU-A", 4)],
            &event_for(&order, EventType::INVENTORY_RESERVED, 1),
        )
        .await
        .expect("reserve");
    let release = event_for(&order, EventType::INVENTORY_RELEASED, 2);
    let outcome = store
        .release_stock(order.id, &release)
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::Released(vec![line("SKU-A", 4)]));
    assert_eq!(stock_of(store.as_ref(), "SKU-A").await, 10);

    let again = store
        .release_stock(
            order.id,
            &event_for(&order, EventType::INVENTORY_RELEASED, 3),
        )
        .await
        .expect("second release");
    assert_eq!(again, ReleaseOutcome::NothingReserved);
    assert_eq!(
        stock_of(store.as_ref(), "SKU-A").await,
        10,
        "released once only"
    );
    let reserve_after = store
        .reserve_stock(
            order.id,
            &[line("SKU-A", 4)],
            &event_for(&order, EventType::INVENTORY_RESERVED, 4),
        )
        .await
        .expect("late retry");
    assert_eq!(
        reserve_after,
        ReserveOutcome::AlreadyReserved,
        "a late retry cannot re-reserve"
    );
    assert_eq!(stock_of(store.as_ref(), "SKU-A").await, 10);
    let history = store.order_history(order.id).await.expect("history");
    assert_eq!(history.len(), 3, "created, reserved, released");
}

pub async fn releasing_without_a_reservation_changes_nothing(store: Arc<dyn Store>) {
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let outcome = store
        .release_stock(
            order.id,
            &event_for(&order, EventType::INVENTORY_RELEASED, 1),
        )
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::NothingReserved);
    assert_eq!(
        store.order_history(order.id).await.expect("history").len(),
        1,
        "no event"
    );
}

pub async fn concurrent_reservations_never_oversell(store: Arc<dyn Store>) {
    const STOCK: u32 = 10;
    const BUYERS: usize = 40;
    store
        .put_inventory(&product("SKU-HOT", STOCK))
        .await
        .expect("put");
    let alice = user("alice");
    let mut orders = Vec::new();
    for offset in 0..BUYERS {
        orders.push(stored_order(store.as_ref(), &alice, offset as i64).await);
    }
    let attempts = orders.iter().map(|order| {
        let store = Arc::clone(&store);
        let order = order.clone();
        tokio::spawn(async move {
            let event = event_for(&order, EventType::INVENTORY_RESERVED, 100);
            store
                .reserve_stock(order.id, &[line("SKU-HOT", 1)], &event)
                .await
        })
    });
    let mut reserved = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("task") {
            Ok(ReserveOutcome::Reserved) => reserved += 1,
            Err(StoreError::InsufficientStock { .. }) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(reserved, STOCK, "exactly the stock was sold");
    assert_eq!(stock_of(store.as_ref(), "SKU-HOT").await, 0);
}

pub async fn appending_an_event_twice_records_it_once(store: Arc<dyn Store>) {
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let event = event_for(&order, EventType::RECEIPT_GENERATED, 5);
    store.append_event(&event).await.expect("append");
    store.append_event(&event).await.expect("append again");
    let history = store.order_history(order.id).await.expect("history");
    assert_eq!(history.iter().filter(|e| e.id == event.id).count(), 1);
    assert_eq!(history.last(), Some(&event), "reads back unchanged");
    assert_eq!(store.outbox_pending(100).await.expect("outbox").len(), 2);
}

pub async fn the_recent_feed_is_the_users_newest_events(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let order = stored_order(store.as_ref(), &alice, 0).await;
    stored_order(store.as_ref(), &bob, 1).await;
    for offset in 1..=5 {
        store
            .append_event(&event_for(
                &order,
                EventType::RECEIPT_GENERATED,
                offset * 10,
            ))
            .await
            .expect("append");
    }
    let feed = store.recent_events(&alice, 3).await.expect("feed");
    let times: Vec<_> = feed.iter().map(|e| e.occurred_at).collect();
    assert_eq!(times, [at(50), at(40), at(30)], "newest first, limited");
    assert!(
        feed.iter().all(|e| e.user_id.as_ref() == Some(&alice)),
        "alice's events only"
    );
    let all = store.recent_events(&alice, 1_000).await.expect("feed");
    assert_eq!(all.len(), 6, "limit is clamped, not an error");
}

pub async fn inventory_round_trips(store: Arc<dyn Store>) {
    let items = [product("SKU-B", 2), product("SKU-A", 1)];
    for item in &items {
        store.put_inventory(item).await.expect("put");
    }
    let mut replaced = product("SKU-A", 7);
    replaced.unit_price_minor = 5;
    store.put_inventory(&replaced).await.expect("replace");
    let listed = store.list_inventory().await.expect("list");
    assert_eq!(
        listed,
        vec![replaced.clone(), items[0].clone()],
        "sorted by SKU"
    );
    let mut some = store
        .get_inventory(&[sku("SKU-A"), sku("SKU-NONE")])
        .await
        .expect("get");
    some.sort_by(|a, b| a.sku.cmp(&b.sku));
    assert_eq!(some, vec![replaced], "missing SKUs are left out");
}

pub async fn webhooks_are_created_listed_and_deleted_by_their_owner(store: Arc<dyn Store>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let first = webhook(&alice, "https://a.example.com/1", 0);
    let second = webhook(&alice, "https://a.example.com/2", 1);
    for hook in [&first, &second, &webhook(&bob, "https://b.example.com", 2)] {
        store.create_webhook(hook).await.expect("create");
    }
    assert_eq!(
        store.list_webhooks(&alice).await.expect("list"),
        vec![first.clone(), second.clone()]
    );
    let stolen = store.delete_webhook(&bob, first.id).await;
    assert!(
        matches!(stolen, Err(StoreError::WebhookNotFound(id)) if id == first.id),
        "got {stolen:?}"
    );
    store
        .delete_webhook(&alice, first.id)
        .await
        .expect("delete");
    assert_eq!(
        store.list_webhooks(&alice).await.expect("list"),
        vec![second]
    );
    let twice = store.delete_webhook(&alice, first.id).await;
    assert!(
        matches!(twice, Err(StoreError::WebhookNotFound(_))),
        "got {twice:?}"
    );
}

pub async fn a_receipt_is_attached_with_its_event(store: Arc<dyn Store>) {
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    let event = event_for(&order, EventType::RECEIPT_GENERATED, 1);
    store
        .attach_receipt(order.id, "receipts/abc.pdf", &event)
        .await
        .expect("attach");
    let read = store
        .get_order(order.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(read.receipt_key.as_deref(), Some("receipts/abc.pdf"));
    assert_eq!(read.status, order.status, "nothing else changed");
    assert_eq!(
        store.order_history(order.id).await.expect("history").last(),
        Some(&event)
    );
    let ghost = crate::fixtures::order(&user("alice"), 0);
    let missing = store
        .attach_receipt(ghost.id, "x.pdf", &created_event(&ghost))
        .await;
    assert!(
        matches!(missing, Err(StoreError::OrderNotFound(_))),
        "got {missing:?}"
    );
}

pub async fn the_outbox_holds_every_event_until_it_is_published(store: Arc<dyn Store>) {
    store
        .put_inventory(&product("SKU-A", 5))
        .await
        .expect("put");
    let order = stored_order(store.as_ref(), &user("alice"), 0).await;
    store
        .reserve_stock(
            order.id,
            &[line("SKU-A", 1)],
            &event_for(&order, EventType::INVENTORY_RESERVED, 1),
        )
        .await
        .expect("reserve");
    store
        .transition_order(
            order.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &event_for(&order, EventType::ORDER_VALIDATED, 2),
        )
        .await
        .expect("transition");
    let pending = store.outbox_pending(100).await.expect("outbox");
    let history = store.order_history(order.id).await.expect("history");
    let pending_ids: Vec<EventId> = pending.iter().map(|e| e.id).collect();
    let history_ids: Vec<EventId> = history.iter().map(|e| e.id).collect();
    assert_eq!(pending_ids, history_ids, "every event, oldest first");

    store
        .mark_published(&pending_ids[..2])
        .await
        .expect("publish");
    store
        .mark_published(&[EventId::generate()])
        .await
        .expect("unknown ids are ignored");
    let rest: Vec<EventId> = store
        .outbox_pending(100)
        .await
        .expect("outbox")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(rest, pending_ids[2..].to_vec());
    assert_eq!(
        store.outbox_pending(1).await.expect("outbox").len(),
        1,
        "limit respected"
    );
    let unique: HashSet<EventId> = history_ids.iter().copied().collect();
    assert_eq!(unique.len(), 3);
    assert_eq!(
        store.order_history(order.id).await.expect("history").len(),
        3,
        "history keeps published events"
    );
}

async fn stock_of(store: &dyn Store, name: &str) -> u32 {
    store
        .get_inventory(&[sku(name)])
        .await
        .expect("get inventory")
        .first()
        .map(|item| item.stock)
        .expect("inventory item exists")
}
