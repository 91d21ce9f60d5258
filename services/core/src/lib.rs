//! The EventForge domain: orders, their events, inventory, webhooks, validation and the `Store`
//! trait every storage backend implements.
//!
//! This crate knows nothing of AWS, HTTP or SQL. It must not depend on the AWS SDK, axum,
//! rusqlite or any runtime: backends and transports depend on it, never the other way round.
//! The commands that use these rules (place an order, register a webhook) are the application's:
//! `eventforge_application::commands`.

pub mod clock;
pub mod event;
pub mod ids;
pub mod inventory;
pub mod order;
pub mod roles;
pub mod schema;
pub mod signature;
pub mod store;
pub mod table_schema;
pub mod trace;
pub mod validation;
pub mod webhook;

pub use clock::{Clock, SystemClock};
pub use event::{Event, EventType};
pub use ids::{EventId, OrderId, Sku, UserId, WebhookId};
pub use inventory::InventoryItem;
pub use order::{Currency, Order, OrderItem, OrderStatus};
pub use store::{Store, StoreError};
pub use trace::TraceContext;
pub use webhook::Webhook;
