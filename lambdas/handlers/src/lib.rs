//! The saga steps and the queue processors, each a plain async function of its input and its
//! dependencies (store, clock, payment provider, email sink, receipt store, HTTP client). The
//! Lambda binaries wrap them with `lambda_runtime` and AWS clients; `cargo xtask dev` runs them
//! in-process through [`local::functions`] (feature `local`).
//!
//! Every handler is idempotent: the events it writes have ids derived from the order (or the
//! message) and the step, so a retried step or a redelivered message writes nothing twice, and
//! status changes only happen from the expected state.

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
