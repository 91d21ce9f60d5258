//! The application's logic, in one place: the [`commands`] a user gives (the API calls them),
//! the [`saga`]'s steps and the queue processors ([`message::Processor`]), each a plain async
//! function of its input and its dependencies (store, clock, payment provider, email sink,
//! receipt store, HTTP client). The API wraps the commands in HTTP; the Lambda binaries
//! (`eventforge-functions`) wrap the steps and processors with `lambda_runtime` and AWS clients;
//! `cargo xtask dev` runs them in-process through [`local::functions`] (feature `local`). The
//! rules the commands apply and the types they work on are the domain's (`eventforge-core`).
//!
//! Every step and processor is idempotent: the events it writes have ids derived from the order (or the
//! message) and the step, so a retried step or a redelivered message writes nothing twice, and
//! status changes only happen from the expected state.

pub mod commands;
pub mod email;
#[cfg(feature = "local")]
pub mod local;
pub mod message;
pub mod payment;
pub mod receipt;
pub mod saga;
pub mod webhook;

use eventforge_core::{EventId, OrderId};
use uuid::Uuid;

/// The id of the event `kind` about `subject` (an order, a message): the same on every retry.
pub(crate) fn derived_event_id(subject: impl std::fmt::Display, kind: &str) -> EventId {
    EventId(Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("eventforge:{subject}:{kind}").as_bytes(),
    ))
}

/// The id of the event `kind` about order `order`.
pub(crate) fn order_event_id(order: OrderId, kind: &str) -> EventId {
    derived_event_id(order, kind)
}
