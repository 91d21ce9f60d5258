//! Specifications of the real Lambda binaries: each is started as Lambda starts it (the Runtime
//! API on 127.0.0.1, from `eventforge-lambda-emulator`) with AWS behind `moto_server`, and
//! invoked with the payloads Step Functions, SQS and the table's stream send.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use eventforge_application::commands::place_order;
use eventforge_application::message::event_of;
use eventforge_core::clock::{ManualClock, SystemClock};
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::{
    Clock, Event, EventType, InventoryItem, Order, OrderStatus, Store, TraceContext, UserId,
};
use eventforge_lambda_emulator::{FunctionProcess, Outcome, RuntimeApi};
use eventforge_store_dynamodb::moto::MotoServer;
use eventforge_store_dynamodb::{DynamoStore, create_table};
use serde_json::{Value, json};

const ANSWER_WITHIN: Duration = Duration::from_secs(30);
const SENDER: &str = "orders@shop.example";

struct World {
    moto: &'static MotoServer,
    table: String,
    store: Arc<dyn Store>,
    aws: aws_config::SdkConfig,
}

async fn world(stock: u32) -> World {
    let moto = MotoServer::shared().expect("moto_server");
    let table = format!("functions-{}", uuid_like());
    create_table(&moto.dynamodb_client(), &table).await.unwrap();
    let store = DynamoStore::new(moto.dynamodb_client(), &table);
    store
        .put_inventory(&InventoryItem {
            sku: "MONITOR-27".parse().unwrap(),
            name: "Monitor".into(),
            unit_price_minor: 32_900,
            currency: "EUR".parse().unwrap(),
            stock,
        })
        .await
        .unwrap();
    World {
        moto,
        table,
        store: Arc::new(store),
        aws: moto.sdk_config().await,
    }
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl World {
    /// The function `name` running as on Lambda, with `environment` beside the table.
    async fn function(&self, name: &str, environment: &[(&str, &str)]) -> Function {
        let api = RuntimeApi::start().await.unwrap();
        let binary = binary(name);
        let mut variables = vec![
            ("TABLE_NAME", self.table.as_str()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        variables.extend_from_slice(environment);
        let process = FunctionProcess::spawn(&api, &binary, name, variables).unwrap();
        Function {
            api,
            _process: process,
        }
    }

    /// An order of one monitor placed at `clock`'s time.
    async fn order_at(&self, clock: &dyn Clock) -> Order {
        self.place(clock, &alice(), 1, None).await
    }

    async fn order(&self, quantity: i64, trace: Option<TraceContext>) -> Order {
        self.place(&SystemClock, &alice(), quantity, trace).await
    }

    async fn order_by(&self, user: &UserId) -> Order {
        self.place(&SystemClock, user, 1, None).await
    }

    async fn place(
        &self,
        clock: &dyn Clock,
        user: &UserId,
        quantity: i64,
        trace: Option<TraceContext>,
    ) -> Order {
        let request = CreateOrderRequest {
            items: vec![RequestedItem {
                sku: "MONITOR-27".into(),
                quantity,
            }],
        };
        place_order(self.store.as_ref(), clock, user, &request, None, trace)
            .await
            .unwrap()
            .into_order()
    }

    /// Runs the saga's happy path on `order` through the step binaries; its `order.confirmed`.
    async fn confirm(&self, order: &Order) -> Event {
        let state = saga_state(order, None);
        for step in [
            "validate-order",
            "reserve-inventory",
            "charge-payment",
            "confirm-order",
        ] {
            let outcome = self.function(step, &[]).await.invoke(state.clone()).await;
            assert!(
                matches!(outcome, Outcome::Response(_)),
                "{step}: {outcome:?}"
            );
        }
        self.event(order, &EventType::ORDER_CONFIRMED).await
    }

    async fn event(&self, order: &Order, event_type: &EventType) -> Event {
        let history = self.store.order_history(order.id).await.unwrap();
        history
            .into_iter()
            .find(|event| &event.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type:?} in the history of {}", order.id))
    }
}

fn binary(name: &str) -> std::path::PathBuf {
    // Cargo builds every binary of the package for its integration tests, next to `deps/`.
    let test = std::env::current_exe().unwrap();
    let dir = test.parent().and_then(Path::parent).unwrap();
    dir.join(name)
}

struct Function {
    api: RuntimeApi,
    _process: FunctionProcess,
}

impl Function {
    async fn invoke(&self, payload: Value) -> Outcome {
        self.api.invoke(payload, None, ANSWER_WITHIN).await.unwrap()
    }
}

fn saga_state(order: &Order, trace: Option<TraceContext>) -> Value {
    json!({ "order_id": order.id.to_string(), "trace": trace.map(|t| t.traceparent()) })
}

/// An SQS event as the event source mapping sends it: each body an EventBridge event.
fn sqs_event(messages: &[(&str, String)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" }))
        .collect();
    json!({ "Records": records })
}

fn envelope(event: &Event) -> String {
    json!({
        "version": "0",
        "detail-type": event.event_type.as_str(),
        "source": "eventforge.orders",
        "detail": event,
    })
    .to_string()
}

fn failed_messages(outcome: Outcome) -> Vec<String> {
    let Outcome::Response(response) = outcome else {
        panic!("a processor answers its batch, it does not fail it: {outcome:?}");
    };
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_step_binaries_confirm_an_order_in_dynamodb() {
    let world = world(10).await;
    let order = world.order(2, None).await;
    world.confirm(&order).await;
    let stored = world.store.get_order(order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Confirmed);
    let stock = world.store.list_inventory().await.unwrap()[0].stock;
    assert_eq!(stock, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_failures_reach_the_state_machine_as_typed_errors() {
    let world = world(1).await;
    let order = world.order(3, None).await;
    let state = saga_state(&order, None);
    let validate = world.function("validate-order", &[]).await;
    assert!(matches!(
        validate.invoke(state.clone()).await,
        Outcome::Response(_)
    ));
    let reserve = world.function("reserve-inventory", &[]).await;
    match reserve.invoke(state.clone()).await {
        Outcome::Error {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "OutOfStock");
            assert!(message.contains("MONITOR-27"), "{message}");
        }
        other => panic!("expected OutOfStock, got {other:?}"),
    }
    // The same function serves the next invocation: a saga input naming no order.
    match reserve.invoke(json!({ "order": "?" })).await {
        Outcome::Error { error_type, .. } => assert_eq!(error_type, "InvalidOrder"),
        other => panic!("expected InvalidOrder, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_processor_puts_a_pdf_in_the_bucket_and_reports_unreadable_messages() {
    let world = world(10).await;
    let bucket = format!("receipts-{}", uuid_like());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&world.aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let order = world.order(1, None).await;
    let confirmed = world.confirm(&order).await;
    let processor = world
        .function(
            "receipt-processor",
            // No path-style setting: an endpoint URL (the emulator) implies it.
            &[("RECEIPTS_BUCKET", &bucket)],
        )
        .await;
    let batch = sqs_event(&[
        ("good", envelope(&confirmed)),
        ("bad", "not json".to_owned()),
    ]);
    assert_eq!(failed_messages(processor.invoke(batch).await), ["bad"]);
    let stored = world.store.get_order(order.id).await.unwrap().unwrap();
    let key = stored
        .receipt_key
        .expect("the receipt is attached to the order");
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/pdf"));
    let pdf = object.body.collect().await.unwrap().into_bytes();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
}

fn alice() -> UserId {
    UserId("alice".into())
}

/// A user of `pool` (moto's Cognito) with `email`, verified or not; their id (the `sub`).
async fn pool_user(world: &World, pool: &str, email: &str, verified: bool) -> UserId {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&world.aws);
    let attribute = |name: &str, value: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    };
    let created = cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(email)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute(
            "email_verified",
            if verified { "true" } else { "false" },
        ))
        .send()
        .await
        .unwrap();
    let sub = created
        .user()
        .unwrap()
        .attributes()
        .iter()
        .find(|attribute| attribute.name() == "sub")
        .and_then(|attribute| attribute.value())
        .expect("moto gives every user a sub");
    UserId(sub.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_processor_sends_to_the_customers_verified_address_from_a_verified_sender() {
    let world = world(10).await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&world.aws);
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("customers-{}", uuid_like()))
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap().id().unwrap().to_owned();
    let carol = pool_user(&world, &pool, "carol@example.org", true).await;
    let dave = pool_user(&world, &pool, "dave@example.org", false).await;
    let processor = world
        .function(
            "email-processor",
            &[("EMAIL_FROM", SENDER), ("USER_POOL_ID", pool.as_str())],
        )
        .await;
    let carols = world.order_by(&carol).await;
    let confirmed = world.confirm(&carols).await;
    let batch = || sqs_event(&[("m1", envelope(&confirmed))]);
    // SES refuses an unverified sender: the message fails and will come again.
    assert_eq!(failed_messages(processor.invoke(batch()).await), ["m1"]);
    let ses = aws_sdk_sesv2::Client::new(&world.aws);
    for identity in [SENDER, "orders@eventforge.local"] {
        ses.create_email_identity()
            .email_identity(identity)
            .send()
            .await
            .unwrap();
    }
    assert!(failed_messages(processor.invoke(batch()).await).is_empty());
    let sent = world.event(&carols, &EventType::EMAIL_SENT).await;
    assert_eq!(sent.order_id, Some(carols.id));
    assert_eq!(
        sent.detail["to"], "carol@example.org",
        "the verified address in the pool"
    );

    // An unverified address gets nothing, recorded with the reason; the message is done.
    let daves = world.order_by(&dave).await;
    let confirmed = world.confirm(&daves).await;
    let batch = sqs_event(&[("m2", envelope(&confirmed))]);
    assert!(failed_messages(processor.invoke(batch).await).is_empty());
    let skipped = world.event(&daves, &EventType::EMAIL_SKIPPED).await;
    assert_eq!(
        skipped.detail["reason"],
        "the user's email address is not verified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_publisher_puts_stream_events_on_the_bus_and_empties_the_outbox() {
    let world = world(10).await;
    let trace = TraceContext::new_root(time::OffsetDateTime::now_utc());
    let order = world.order(1, Some(trace)).await;
    let created = world.event(&order, &EventType::ORDER_CREATED).await;

    let (publisher, queue) = world.publisher_to_queue("order.created").await;
    let records = stream_records(&world, &order).await;
    let Outcome::Response(response) = publisher.invoke(json!({ "Records": records })).await else {
        panic!("the publisher failed its batch");
    };
    assert_eq!(response["batchItemFailures"], json!([]));

    let bodies = queue.receive().await;
    assert_eq!(
        bodies.len(),
        1,
        "exactly the order.created event: {bodies:?}"
    );
    let delivered = event_of(&bodies[0]).unwrap();
    assert_eq!(delivered, created);
    assert_eq!(
        delivered.trace.map(|t| t.trace_id()),
        Some(trace.trace_id())
    );
    let pending = world.store.outbox_pending(100).await.unwrap();
    assert!(
        pending.iter().all(|event| event.id != created.id),
        "still in the outbox"
    );
}

/// The stream records DynamoDB writes for the order's partition: an `INSERT` with the new image
/// of each item (read back from the table, so the publisher sees the store's real layout).
async fn stream_records(world: &World, order: &Order) -> Vec<Value> {
    let items = world
        .moto
        .dynamodb_client()
        .query()
        .table_name(&world.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ORDER#{}", order.id)))
        .send()
        .await
        .unwrap();
    items
        .items()
        .iter()
        .enumerate()
        .map(|(sequence, item)| {
            let image: serde_json::Map<String, Value> = item
                .iter()
                .filter_map(|(name, value)| match value {
                    AttributeValue::S(s) => Some((name.clone(), json!({ "S": s }))),
                    AttributeValue::N(n) => Some((name.clone(), json!({ "N": n }))),
                    _ => None,
                })
                .collect();
            json!({
                "eventID": format!("e{sequence}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", sequence + 1),
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_IMAGE",
                }
            })
        })
        .collect()
}

/// A queue on the bus the outbox publisher puts events on, as the messaging stack's rules make.
struct BusQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl BusQueue {
    /// The bodies of the messages that arrived (waiting up to five seconds for the first).
    async fn receive(&self) -> Vec<String> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        received
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect()
    }
}

impl World {
    /// The outbox publisher on a bus of its own, whose rule sends `event_type` to a queue.
    async fn publisher_to_queue(&self, event_type: &str) -> (Function, BusQueue) {
        let suffix = uuid_like();
        let events = aws_sdk_eventbridge::Client::new(&self.aws);
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let bus = format!("bus-{suffix}");
        events.create_event_bus().name(&bus).send().await.unwrap();
        let url = sqs
            .create_queue()
            .queue_name(format!("orders-{suffix}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:orders-{suffix}");
        events
            .put_rule()
            .name("to-queue")
            .event_bus_name(&bus)
            .event_pattern(json!({ "detail-type": [event_type] }).to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("to-queue")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(&queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let publisher = self
            .function("outbox-publisher", &[("EVENT_BUS_NAME", &bus)])
            .await;
        (publisher, BusQueue { sqs, url })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_stream_never_delivered_is_published_by_the_next_invocation() {
    let world = world(10).await;
    // An order placed two minutes ago whose stream record was lost, and one placed just now.
    let past = ManualClock::new(time::OffsetDateTime::now_utc() - time::Duration::minutes(2));
    let stranded = world.order_at(&past).await;
    let fresh = world.order_at(&SystemClock).await;
    let stranded_created = world.event(&stranded, &EventType::ORDER_CREATED).await;
    let fresh_created = world.event(&fresh, &EventType::ORDER_CREATED).await;
    let (publisher, queue) = world.publisher_to_queue("order.created").await;

    // A batch of other records (here: none) is enough to sweep the outbox.
    let Outcome::Response(response) = publisher.invoke(json!({ "Records": [] })).await else {
        panic!("the publisher failed its batch");
    };
    assert_eq!(response["batchItemFailures"], json!([]));

    let delivered: Vec<Event> = queue
        .receive()
        .await
        .iter()
        .map(|body| event_of(body).unwrap())
        .collect();
    assert_eq!(
        delivered,
        std::slice::from_ref(&stranded_created),
        "only the stranded event"
    );
    let pending: Vec<_> = world
        .store
        .outbox_pending(100)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.id)
        .collect();
    assert!(
        !pending.contains(&stranded_created.id),
        "swept, then marked"
    );
    assert!(
        pending.contains(&fresh_created.id),
        "a fresh event is left to its stream record"
    );
}
