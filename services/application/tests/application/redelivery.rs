//! Specifications: SQS delivers at least once, so a processor given the same message again
//! (after a lost acknowledgement or a visibility timeout) has no second visible effect: one
//! email per event, one receipt per order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use eventforge_application::commands::place_order;
use eventforge_application::email::{
    self, EmailDeps, EmailSink, ExampleAddresses, OutgoingEmail, Recipient, Recipients,
};
use eventforge_application::message::ProcessError;
use eventforge_application::receipt::{self, ReceiptDeps, ReceiptStore};
use eventforge_core::clock::SystemClock;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::{Clock, Event, EventType, Order, Store, UserId};
use serde_json::json;

/// Counts what it is handed: emails sent, receipts put.
#[derive(Default)]
struct Counter(AtomicU32);

impl Counter {
    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EmailSink for Counter {
    async fn send(&self, _email: &OutgoingEmail) -> Result<(), ProcessError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl ReceiptStore for Counter {
    async fn put(&self, _key: &str, _pdf: &[u8]) -> Result<(), ProcessError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn confirmed_order() -> (tempfile::TempDir, Arc<dyn Store>, Event) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::common::monitor_store(dir.path(), 5).await;
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: crate::common::SKU.into(),
            quantity: 1,
        }],
    };
    let user = UserId("alice".into());
    let order: Order = place_order(store.as_ref(), &SystemClock, &user, &request, None, None)
        .await
        .unwrap()
        .into_order();
    let confirmed = Event::about_order(
        EventType::ORDER_CONFIRMED,
        order.id,
        user,
        SystemClock.now(),
        json!({ "total_minor": 32_900, "currency": "EUR" }),
    );
    store.append_event(&confirmed).await.unwrap();
    (dir, store, confirmed)
}

async fn count_of(store: &dyn Store, event: &Event, event_type: &EventType) -> usize {
    let history = store.order_history(event.order_id.unwrap()).await.unwrap();
    history
        .iter()
        .filter(|recorded| &recorded.event_type == event_type)
        .count()
}

#[tokio::test]
async fn a_redelivered_confirmation_sends_one_email_and_records_it_once() {
    let (_dir, store, confirmed) = confirmed_order().await;
    let sink = Arc::new(Counter::default());
    let deps = EmailDeps {
        store: Arc::clone(&store),
        clock: Arc::new(SystemClock),
        sink: sink.clone(),
        recipients: Arc::new(ExampleAddresses),
    };
    for _ in 0..3 {
        email::process(&deps, confirmed.clone()).await.unwrap();
    }
    assert_eq!(sink.count(), 1, "emails sent for one event");
    assert_eq!(
        count_of(store.as_ref(), &confirmed, &EventType::EMAIL_SENT).await,
        1
    );
    let history = store
        .order_history(confirmed.order_id.unwrap())
        .await
        .unwrap();
    let sent = history
        .iter()
        .find(|recorded| recorded.event_type == EventType::EMAIL_SENT)
        .unwrap();
    assert_eq!(
        sent.detail["to"], "alice@example.com",
        "the directory's address"
    );
}

/// A directory in which every customer lacks a verified address; counts the lookups.
#[derive(Default)]
struct NoVerifiedAddress(AtomicU32);

#[async_trait]
impl Recipients for NoVerifiedAddress {
    async fn recipient(&self, _user: &UserId) -> Result<Recipient, ProcessError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Recipient::Unreachable(
            "the user's email address is not verified".to_owned(),
        ))
    }
}

#[tokio::test]
async fn a_customer_without_a_verified_address_gets_no_email_and_the_skip_is_recorded_once() {
    let (_dir, store, confirmed) = confirmed_order().await;
    let sink = Arc::new(Counter::default());
    let directory = Arc::new(NoVerifiedAddress::default());
    let deps = EmailDeps {
        store: Arc::clone(&store),
        clock: Arc::new(SystemClock),
        sink: sink.clone(),
        recipients: directory.clone(),
    };
    for _ in 0..3 {
        // Not an error: a message that fails would come back until its DLQ, for nothing.
        email::process(&deps, confirmed.clone()).await.unwrap();
    }
    assert_eq!(sink.count(), 0, "nothing sent");
    assert_eq!(
        directory.0.load(Ordering::SeqCst),
        1,
        "asked once, then recorded"
    );
    let history = store
        .order_history(confirmed.order_id.unwrap())
        .await
        .unwrap();
    let skipped: Vec<&Event> = history
        .iter()
        .filter(|recorded| recorded.event_type == EventType::EMAIL_SKIPPED)
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        skipped[0].detail["reason"],
        "the user's email address is not verified"
    );
    assert_eq!(
        count_of(store.as_ref(), &confirmed, &EventType::EMAIL_SENT).await,
        0
    );
}

#[tokio::test]
async fn a_redelivered_confirmation_renders_and_attaches_one_receipt() {
    let (_dir, store, confirmed) = confirmed_order().await;
    let receipts = Arc::new(Counter::default());
    let deps = ReceiptDeps {
        store: Arc::clone(&store),
        clock: Arc::new(SystemClock),
        receipts: receipts.clone(),
    };
    for _ in 0..3 {
        receipt::process(&deps, confirmed.clone()).await.unwrap();
    }
    assert_eq!(receipts.count(), 1, "receipts put for one order");
    assert_eq!(
        count_of(store.as_ref(), &confirmed, &EventType::RECEIPT_GENERATED).await,
        1
    );
}
