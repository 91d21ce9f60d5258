//! The saga's state, typed: what the steps read from it and what each adds to it.
//!
//! The state machine passes JSON from step to step (`eventforge_topology::saga` describes the
//! flow); this module is the one place that JSON is read and written, so a step works with
//! fields, not with paths into a `serde_json::Value`. Fields the steps do not read (the rest of
//! the `order.created` event record) are ignored on the way in; the state machine keeps them.

use eventforge_core::inventory::StockLine;
use eventforge_core::store::ReserveOutcome;
use eventforge_core::{Currency, OrderId, OrderStatus, TraceContext};
use serde::{Deserialize, Deserializer, Serialize};

/// The saga's state as a step receives it: the `order.created` event record's `order_id` and
/// `trace`, the result of every step that ran before (under its result path), and the error a
/// Catch recorded at `$.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaState {
    pub order_id: OrderId,
    /// The span that placed the order; the saga's events continue its trace. A trace that does
    /// not parse is dropped rather than failing the order: tracing is best effort.
    #[serde(default, deserialize_with = "lenient_trace")]
    pub trace: Option<TraceContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Reservation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Release>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
}

impl SagaState {
    /// The state of a saga just started for `order`.
    pub fn new(order_id: OrderId, trace: Option<TraceContext>) -> Self {
        Self {
            order_id,
            trace,
            validation: None,
            reservation: None,
            payment: None,
            confirmation: None,
            release: None,
            failure: None,
            error: None,
        }
    }
}

fn lenient_trace<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TraceContext>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.and_then(|t| t.parse().ok()))
}

/// What a Catch records at `$.error`: the error type the step raised and its message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// The result of a step that moves the order on (validate, confirm, mark failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
}

/// The result of `reserve-inventory`: the lines it holds, and whether this run took them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub reserved: Vec<StockLine>,
    pub outcome: ReservationOutcome,
}

/// [`ReserveOutcome`], as the saga's state records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationOutcome {
    Reserved,
    AlreadyReserved,
}

impl From<ReserveOutcome> for ReservationOutcome {
    fn from(outcome: ReserveOutcome) -> Self {
        match outcome {
            ReserveOutcome::Reserved => Self::Reserved,
            ReserveOutcome::AlreadyReserved => Self::AlreadyReserved,
        }
    }
}

/// The result of `charge-payment`: the provider's charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub charge_id: String,
    pub amount_minor: u64,
    pub currency: Currency,
}

/// The result of `release-inventory`: the lines put back (none when nothing was held).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub released: Vec<StockLine>,
}

/// What a step adds to the state, under its own result path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StepOutput {
    Status(StatusChange),
    Reservation(Reservation),
    Payment(Payment),
    Release(Release),
}
