//! The DynamoDB backend of [`Store`]: one table in the single-table design, written with
//! `aws-sdk-dynamodb`. This is what the API and the Lambda functions use on AWS; locally the
//! SQLite backend is the default, and both pass the one conformance suite
//! (`eventforge-store-conformance`).
//!
//! This crate must not depend on anything HTTP-facing (no axum, no API crate) nor on another
//! backend: it maps the domain's `Store` contract onto DynamoDB and nothing else.
//!
//! # Item layout
//!
//! The key schema (`PK`/`SK`, `GSI1` = `USER_INDEX`, `GSI2` = `OUTBOX_INDEX`, TTL on
//! `expires_at`) is fixed in [`eventforge_core::table_schema`], from which both [`create_table`]
//! and the CloudFormation stack build the table. `<ts>` is milliseconds since the Unix epoch,
//! zero-padded to 15 digits so that it sorts as a string. Domain values are stored whole as JSON in
//! `data`; the attributes beside it are the ones conditions and updates work on.
//!
//! | Entity | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK | Other attributes |
//! |---|---|---|---|---|---|
//! | Order | `ORDER#<order id>` | `ORDER` | `USER#<user>` / `ORDER#<created ts>#<order id>` | | `data` (order as created), `status`, `updated_at` (RFC 3339), `receipt_key`; these three override `data` |
//! | Event of an order | `ORDER#<order id>` | `EVENT#<ts>#<event id>` | `USER#<user>` / `EVENT#<ts>#<event id>` (when the event has a user) | `OUTBOX` / `<ts>#<event id>` until published | `data` (the event), `event_type` |
//! | Event without an order | `EVENT#<event id>` | `EVENT#<ts>#<event id>` | as above | as above | as above |
//! | Event id guard | `EVENTID#<event id>` | `EVENTID` | | | `event_pk`, `event_sk`: where the event item is |
//! | Inventory item | `SKU#<sku>` | `ITEM` | `INVENTORY` / `SKU#<sku>` | | `data` (item as last put), `stock` (number, authoritative) |
//! | Reservation | `ORDER#<order id>` | `RESERVATION` | | | `lines` (JSON), `state` (`reserved` / `released`), `reserved_by` / `released_by` (event ids) |
//! | Webhook | `USER#<user>` | `WEBHOOK#<webhook id>` | | | `data` |
//! | Idempotency claim | `IDEMPOTENCY#<user>` | `KEY#<Idempotency-Key>` | | | `order_id`, `fingerprint`, `expires_at` (epoch seconds, the table's TTL) |
//!
//! Every item also has `entity` (`order`, `event`, `event_id`, `inventory`, `reservation`,
//! `webhook`, `idempotency`) so that stream consumers and people reading the table can tell
//! items apart. The idempotency claim keeps user and key in separate key attributes so that no
//! user id or key containing `#` can collide with another pair.
//!
//! Access patterns: an order and its history are one partition (`ORDER#<id>`, read
//! consistently); a user's orders newest first and a user's recent events are `GSI1` queries on
//! `USER#<user>` with the `ORDER#` or `EVENT#` prefix; every inventory item by SKU is the `GSI1`
//! partition `INVENTORY`; unpublished events, oldest first, are the `GSI2` partition `OUTBOX`.
//! Global secondary indexes are eventually consistent on AWS, so a listing may briefly miss a
//! write that just succeeded; reads by key are strongly consistent.
//!
//! # Transactions and conditions
//!
//! Every state change is one `TransactWriteItems` together with its event item, the event's
//! outbox attributes and its id guard (`attribute_not_exists`), so there is no dual write. The
//! conditions are DynamoDB's: creating an order puts the order and the idempotency claim only if
//! absent (a failed claim is read back: same fingerprint replays the original order, another is
//! `IdempotencyKeyReused`); a transition requires `status = from`; a reservation puts the
//! reservation item only if absent and takes `stock = stock - q` only where `stock >= q`, for
//! every SKU in the same transaction, so it is all-or-nothing; a release moves the reservation
//! from `reserved` to `released` and puts the stock back in one transaction, so it happens once.
//! Cancellation reasons map to domain errors (with `ALL_OLD`, DynamoDB returns the item that
//! failed the condition; when it does not, the item is read). Transactions cancelled only by
//! concurrent transactions (`TransactionConflict`) or throttling are retried with jittered
//! backoff. At most 100 writes fit in one transaction: a reservation uses three plus one per
//! distinct SKU, and orders have at most 50 lines.
//!
//! # How the outbox reaches the bus
//!
//! On AWS the table's stream (new images) feeds the outbox-publisher Lambda, which publishes
//! every inserted event item (`INSERT` records with `entity = event`; the `data` attribute is
//! the event) to EventBridge and then calls [`Store::mark_published`], removing the item's
//! `GSI2` attributes (that change reaches the stream as a `MODIFY` record, which the publisher
//! ignores). The sparse `GSI2` outbox
//! index therefore holds exactly the events not yet published: it is how the local runtime
//! drains the outbox and how the outbox-publisher's sweep (every invocation publishes the events
//! still in it a minute after they occurred) finds events the stream consumer missed. Consumers
//! are idempotent on the event id, since an event can be published twice (stream and sweep).
//!
//! [`Store`]: eventforge_core::Store
//! [`Store::mark_published`]: eventforge_core::Store::mark_published

mod cursor;
mod error;
mod item;
#[cfg(feature = "moto")]
pub mod moto;
#[cfg(feature = "moto")]
mod serializer;
mod store;
mod table;
mod transaction;

pub use error::DynamoError;
pub use store::DynamoStore;
pub use table::create_table;
