//! Specifications of the assembled runtime over a real SQLite store: the outbox reaches the bus,
//! the rules start the saga and fill the queues, failing messages end in the dead-letter queue,
//! and a killed runtime resumes where it stood.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Reply, ScriptedHost};
use eventforge_application::commands::place_order;
use eventforge_core::clock::SystemClock;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::{InventoryItem, Order, Store, UserId};
use eventforge_local::bus::{Bus, Rule, envelope};
use eventforge_local::db::RuntimeDb;
use eventforge_local::executor::{ExecutionStatus, Executor};
use eventforge_local::interpreter::{Interpreter, StopSignal};
use eventforge_local::machine::Machine;
use eventforge_local::queues::Queues;
use eventforge_local::tasks::Tasks;
use eventforge_local::{FunctionHost, Runtime, RuntimeConfig, RuntimeHandle, TimeScale};
use eventforge_store_sqlite::SqliteStore;

/// Delays at 1/1000 (a 180 s visibility timeout is 180 ms); limits on work at 1/10.
const SCALE: TimeScale = TimeScale {
    delays: 0.001,
    timeouts: 0.1,
};

struct World {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    store: Arc<dyn Store>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let store = SqliteStore::open(&db).unwrap();
    store
        .put_inventory(&InventoryItem {
            sku: "SKU-1".parse().unwrap(),
            name: "Widget".into(),
            unit_price_minor: 1250,
            currency: "EUR".parse().unwrap(),
            stock: 10,
        })
        .await
        .unwrap();
    World {
        _dir: dir,
        db,
        store: Arc::new(store),
    }
}

async fn start(world: &World, host: Arc<dyn FunctionHost>) -> RuntimeHandle {
    let mut config = RuntimeConfig::new(Arc::clone(&world.store), &world.db, host);
    config.time_scale = SCALE;
    config.poll_interval = Duration::from_millis(5);
    Runtime::start(config).await.unwrap()
}

async fn order(store: &Arc<dyn Store>, user: &str) -> Order {
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: "SKU-1".into(),
            quantity: 1,
        }],
    };
    place_order(
        store.as_ref(),
        &SystemClock,
        &UserId(user.into()),
        &request,
        None,
        None,
    )
    .await
    .unwrap()
    .into_order()
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_order_starts_the_saga_and_reaches_the_webhook_queue() {
    let world = world().await;
    let host = Arc::new(ScriptedHost::new());
    let runtime = start(&world, host.clone()).await;
    let order = order(&world.store, "alice").await;
    assert!(runtime.settle(Duration::from_secs(10)).await.unwrap());
    assert_eq!(runtime.executor().counts().await.unwrap(), (0, 1, 0));
    let validated = host.calls_of("validate-order");
    assert_eq!(validated.len(), 1);
    assert_eq!(
        validated[0]["order_id"],
        order.id.to_string(),
        "the input is the event record"
    );
    assert_eq!(validated[0]["type"], "order.created");
    let batches = host.batches.lock().unwrap().clone();
    assert_eq!(batches.get("webhook-processor").map(Vec::len), Some(1));
    assert_eq!(
        batches.get("email-processor"),
        None,
        "no rule sends order.created to email"
    );
    assert!(world.store.outbox_pending(10).await.unwrap().is_empty());
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_that_always_fails_lands_its_message_in_the_dlq_after_max_receive_count() {
    let world = world().await;
    let host = Arc::new(ScriptedHost::new().failing_consumer("webhook-processor"));
    let runtime = start(&world, host.clone()).await;
    let order = order(&world.store, "bob").await;
    let queues = runtime.queues().clone();
    eventually("the dead letter", || {
        let queues = queues.clone();
        async move { queues.counts("webhook").await.unwrap().dead == 1 }
    })
    .await;
    let deliveries = host.batches.lock().unwrap()["webhook-processor"].len();
    assert_eq!(deliveries, 5, "maxReceiveCount deliveries, then the DLQ");
    let dead = queues.dead_letters("webhook").await.unwrap();
    assert!(dead[0].body.contains(&order.id.to_string()));
    let store = Arc::clone(&world.store);
    eventually("the dead-letter event on the order", || {
        let store = Arc::clone(&store);
        async move {
            store
                .order_history(order.id)
                .await
                .unwrap()
                .iter()
                .any(|e| e.event_type.as_str() == "message.dead_lettered")
        }
    })
    .await;
    let feed = world
        .store
        .recent_events(&UserId("bob".into()), 100)
        .await
        .unwrap();
    let event = feed
        .iter()
        .find(|e| e.event_type.as_str() == "message.dead_lettered")
        .expect("GET /api/events shows it");
    assert_eq!(event.detail["queue"], "webhook");
    assert_eq!(event.detail["dead_letter_queue"], "webhook-dlq");
    assert_eq!(event.detail["event_type"], "order.created");
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_failure_returns_only_the_failed_messages_after_the_visibility_timeout() {
    let world = world().await;
    let db = RuntimeDb::open(&world.db).unwrap();
    let queues = Queues::new(db, Queues::platform_specs(), SCALE);
    for id in ["a", "b", "c"] {
        assert!(queues.send("email", id, "{}").await.unwrap());
    }
    assert!(
        !queues.send("email", "a", "{}").await.unwrap(),
        "a resent id is not sent again"
    );
    let received_ms = eventforge_local::db::now_ms();
    let (batch, _) = queues.receive("email", 10).await.unwrap();
    assert_eq!(batch.len(), 3);
    let (again, _) = queues.receive("email", 10).await.unwrap();
    assert!(again.is_empty(), "received messages are invisible");
    // The consumer reports "b" failed: the others are deleted, "b" is released.
    queues.delete(vec!["a".into(), "c".into()]).await.unwrap();
    queues
        .release("email", vec!["b".into()], received_ms)
        .await
        .unwrap();
    let (early, _) = queues.receive("email", 10).await.unwrap();
    assert!(early.is_empty(), "not before its visibility timeout");
    // The visibility timeout is 180 s, scaled to 180 ms.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (back, _) = queues.receive("email", 10).await.unwrap();
    assert_eq!(
        back.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec!["b"]
    );
    assert_eq!(back[0].receive_count, 2);
    assert!(queues.send("nowhere", "x", "{}").await.is_err());
}

/// The bus with the platform's rules over fresh queues and a saga executor whose first step
/// never answers, so deliveries can be counted before anything moves on.
struct Delivery {
    bus: Bus,
    queues: Queues,
    executor: Executor,
    tasks: Tasks,
}

fn delivery(world: &World) -> Delivery {
    let db = RuntimeDb::open(&world.db).unwrap();
    let queues = Queues::new(db.clone(), Queues::platform_specs(), SCALE);
    let machine =
        Arc::new(Machine::from_definition(&eventforge_topology::saga::saga_definition()).unwrap());
    let host = Arc::new(ScriptedHost::new().always("validate-order", Reply::Hang));
    let tasks = Tasks::new();
    let executor = Executor::new(
        "order-saga",
        Interpreter::new(machine, host, SCALE),
        db,
        tasks.clone(),
        StopSignal::never(),
    );
    Delivery {
        bus: Bus::new(Rule::platform().unwrap(), queues.clone(), executor.clone()),
        queues,
        executor,
        tasks,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_delivers_nothing_twice() {
    let world = world().await;
    let order = order(&world.store, "carol").await;
    let created = world.store.outbox_pending(10).await.unwrap().remove(0);
    assert_eq!(created.order_id, Some(order.id));
    let Delivery {
        bus, queues, tasks, ..
    } = delivery(&world);
    let first = bus.put(&envelope(&created)).await.unwrap();
    assert_eq!(first.rules, vec!["start-saga", "order-created"]);
    assert_eq!(first.new_deliveries, 2);
    let second = bus.put(&envelope(&created)).await.unwrap();
    assert_eq!(second.new_deliveries, 0);
    assert_eq!(queues.counts("webhook").await.unwrap().visible, 1);
    tasks.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_batch_delivers_each_event_to_its_own_targets_once() {
    let world = world().await;
    order(&world.store, "carol").await;
    order(&world.store, "dave").await;
    let created: Vec<_> = world
        .store
        .outbox_pending(10)
        .await
        .unwrap()
        .iter()
        .map(envelope)
        .collect();
    assert_eq!(created.len(), 2);
    let Delivery {
        bus,
        queues,
        executor,
        tasks,
    } = delivery(&world);
    let first = bus.put_all(&created).await.unwrap();
    for deliveries in &first {
        assert_eq!(deliveries.rules, vec!["start-saga", "order-created"]);
        assert_eq!(
            deliveries.new_deliveries, 2,
            "an execution and a webhook message"
        );
    }
    assert_eq!(executor.counts().await.unwrap().0, 2, "one saga per order");
    assert_eq!(queues.counts("webhook").await.unwrap().visible, 2);
    // The outbox is at-least-once: the same batch again delivers nothing.
    let again = bus.put_all(&created).await.unwrap();
    assert!(
        again
            .iter()
            .all(|deliveries| deliveries.new_deliveries == 0)
    );
    assert_eq!(executor.counts().await.unwrap().0, 2);
    assert_eq!(queues.counts("webhook").await.unwrap().visible, 2);
    tasks.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runtime_resumes_in_flight_executions_from_the_last_completed_state() {
    let world = world().await;
    let stuck = Arc::new(ScriptedHost::new().always("charge-payment", Reply::Hang));
    let runtime = start(&world, stuck.clone()).await;
    let order = order(&world.store, "dave").await;
    eventually("the charge to start", || {
        let stuck = stuck.clone();
        async move { !stuck.calls_of("charge-payment").is_empty() }
    })
    .await;
    drop(runtime); // killed: no graceful stop

    let healthy = Arc::new(ScriptedHost::new());
    let runtime = start(&world, healthy.clone()).await;
    assert!(runtime.settle(Duration::from_secs(10)).await.unwrap());
    assert_eq!(
        healthy.functions_called(),
        vec!["charge-payment", "confirm-order"],
        "completed states are not run again"
    );
    let name = format!(
        "start-saga-{}",
        world.store.order_history(order.id).await.unwrap()[0].id
    );
    let execution = runtime.executor().describe(&name).await.unwrap().unwrap();
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let steps: Vec<String> = runtime
        .executor()
        .steps(&name)
        .await
        .unwrap()
        .into_iter()
        .map(|(state, _)| state)
        .collect();
    assert_eq!(
        steps,
        vec![
            "ValidateOrder",
            "ReserveInventory",
            "ChargePayment",
            "ConfirmOrder",
            "OrderConfirmed"
        ]
    );
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_leaves_executions_resumable() {
    let world = world().await;
    let slow = Arc::new(ScriptedHost::new().always(
        "reserve-inventory",
        Reply::Err("Lambda.ServiceException", "down"),
    ));
    let runtime = start(&world, slow.clone()).await;
    order(&world.store, "erin").await;
    eventually("the reservation to be tried", || {
        let slow = slow.clone();
        async move { !slow.calls_of("reserve-inventory").is_empty() }
    })
    .await;
    runtime.stop().await;
    let runtime = start(&world, Arc::new(ScriptedHost::new())).await;
    assert!(runtime.settle(Duration::from_secs(10)).await.unwrap());
    assert_eq!(runtime.executor().counts().await.unwrap(), (0, 1, 0));
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_orders_all_finish() {
    let world = world().await;
    world
        .store
        .put_inventory(&InventoryItem {
            sku: "SKU-1".parse().unwrap(),
            name: "Widget".into(),
            unit_price_minor: 1250,
            currency: "EUR".parse().unwrap(),
            stock: 1000,
        })
        .await
        .unwrap();
    let host = Arc::new(ScriptedHost::new());
    let runtime = start(&world, host.clone()).await;
    let started = std::time::Instant::now();
    let mut placing = tokio::task::JoinSet::new();
    for i in 0..500 {
        let store = Arc::clone(&world.store);
        placing.spawn(async move { order(&store, &format!("user-{}", i % 7)).await });
    }
    while placing.join_next().await.is_some() {}
    assert!(runtime.settle(Duration::from_secs(60)).await.unwrap());
    eprintln!("500 orders through the saga in {:?}", started.elapsed());
    assert_eq!(runtime.executor().counts().await.unwrap(), (0, 500, 0));
    runtime.stop().await;
}
