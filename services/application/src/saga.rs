//! The saga's steps: ValidateOrder, ReserveInventory, ChargePayment, ConfirmOrder, and the
//! compensations ReleaseInventory and MarkOrderFailed.
//!
//! Each step receives the saga's state ([`SagaState`]: the `order.created` event record, with the
//! results of earlier steps under their own paths; see `eventforge_topology::saga`) and returns
//! its own result ([`StepOutput`]); [`Step::handle`] is where the JSON the state machine passes
//! becomes those types and back. A business outcome is an error whose type the state machine catches
//! ([`StepError::error_type`]); a store or provider failure is [`StepError::Transient`], which
//! the state machine retries with backoff. Every step is safe to run twice.

use std::sync::Arc;

use eventforge_core::inventory::StockLine;
use eventforge_core::store::{ReleaseOutcome, StoreError};
use eventforge_core::{Clock, Event, EventType, Order, OrderId, OrderStatus, Store};
use eventforge_topology::Function;
use eventforge_topology::saga::errors;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::order_event_id;
use crate::payment::{ChargeRequest, PaymentError, PaymentProvider};

mod state;

pub use state::{
    CaughtError, Payment, Release, Reservation, ReservationOutcome, SagaState, StatusChange,
    StepOutput,
};

/// What the steps work with. The store is a type parameter, not only `dyn Store`: a Lambda zip
/// names its concrete store, so the binary keeps the store methods the steps call and not the
/// other fourteen (a `dyn Store` keeps every method, through its vtable; BENCHMARKS.md,
/// "Functions: what is in a zip"). Hosts that serve more than the saga keep the default.
pub struct SagaDeps<S: Store + ?Sized = dyn Store> {
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentProvider>,
}

// By hand: the derive would ask for `S: Clone`, which a `dyn Store` is not.
impl<S: Store + ?Sized> Clone for SagaDeps<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            clock: self.clock.clone(),
            payments: self.payments.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("invalid order: {0}")]
    InvalidOrder(String),
    #[error("out of stock: {0}")]
    OutOfStock(String),
    #[error("payment declined: {0}")]
    PaymentDeclined(String),
    #[error("transient failure: {0}")]
    Transient(String),
}

impl StepError {
    /// The Lambda error type the state machine's Retry and Catch match on.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidOrder(_) => errors::INVALID_ORDER,
            Self::OutOfStock(_) => errors::OUT_OF_STOCK,
            Self::PaymentDeclined(_) => errors::PAYMENT_DECLINED,
            Self::Transient(_) => errors::TRANSIENT,
        }
    }
}

impl From<StoreError> for StepError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InsufficientStock { .. } => Self::OutOfStock(error.to_string()),
            StoreError::UnknownSku(_) | StoreError::OrderNotFound(_) => {
                Self::InvalidOrder(error.to_string())
            }
            other => Self::Transient(other.to_string()),
        }
    }
}

/// The saga's steps, each deployed as its [`Function`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ValidateOrder,
    ReserveInventory,
    ChargePayment,
    ConfirmOrder,
    ReleaseInventory,
    MarkOrderFailed,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::ValidateOrder,
        Step::ReserveInventory,
        Step::ChargePayment,
        Step::ConfirmOrder,
        Step::ReleaseInventory,
        Step::MarkOrderFailed,
    ];

    /// The step's function.
    pub const fn function(self) -> Function {
        match self {
            Step::ValidateOrder => Function::ValidateOrder,
            Step::ReserveInventory => Function::ReserveInventory,
            Step::ChargePayment => Function::ChargePayment,
            Step::ConfirmOrder => Function::ConfirmOrder,
            Step::ReleaseInventory => Function::ReleaseInventory,
            Step::MarkOrderFailed => Function::MarkOrderFailed,
        }
    }

    /// The step `function` runs, if it is a saga step.
    pub const fn of(function: Function) -> Option<Step> {
        match function {
            Function::ValidateOrder => Some(Step::ValidateOrder),
            Function::ReserveInventory => Some(Step::ReserveInventory),
            Function::ChargePayment => Some(Step::ChargePayment),
            Function::ConfirmOrder => Some(Step::ConfirmOrder),
            Function::ReleaseInventory => Some(Step::ReleaseInventory),
            Function::MarkOrderFailed => Some(Step::MarkOrderFailed),
            Function::EmailProcessor
            | Function::ReceiptProcessor
            | Function::WebhookProcessor
            | Function::OutboxPublisher => None,
        }
    }

    /// The name of the step's function (and of its binary and zip).
    pub fn function_name(self) -> &'static str {
        self.function().name()
    }

    /// Runs the step on the state the state machine passed, and returns the JSON it adds: the
    /// hosts' (Lambda, local runtime) entry point. A state that names no order is
    /// [`StepError::InvalidOrder`].
    pub async fn handle<S: Store + ?Sized>(
        self,
        deps: &SagaDeps<S>,
        state: &Value,
    ) -> Result<Value, StepError> {
        let state = SagaState::deserialize(state).map_err(|error| {
            StepError::InvalidOrder(format!("the saga input names no order: {error}"))
        })?;
        let output = self.run(deps, &state).await?;
        serde_json::to_value(output).map_err(|error| StepError::Transient(error.to_string()))
    }

    /// Runs the step on the saga's state.
    pub async fn run<S: Store + ?Sized>(
        self,
        deps: &SagaDeps<S>,
        state: &SagaState,
    ) -> Result<StepOutput, StepError> {
        match self {
            Step::ValidateOrder => validate_order(deps, state).await,
            Step::ReserveInventory => reserve_inventory(deps, state).await,
            Step::ChargePayment => charge_payment(deps, state).await,
            Step::ConfirmOrder => confirm_order(deps, state).await,
            Step::ReleaseInventory => release_inventory(deps, state).await,
            Step::MarkOrderFailed => mark_order_failed(deps, state).await,
        }
    }
}

impl<S: Store + ?Sized> SagaDeps<S> {
    async fn order(&self, id: OrderId) -> Result<Order, StepError> {
        self.store
            .get_order(id)
            .await?
            .ok_or_else(|| StepError::InvalidOrder(format!("order {id} does not exist")))
    }

    /// The event `event_type` of this step about `order`, with an id that is the same on every
    /// retry, in the order's trace.
    fn event(
        &self,
        order: &Order,
        state: &SagaState,
        event_type: EventType,
        detail: Value,
    ) -> Event {
        let mut event = Event::about_order(
            event_type.clone(),
            order.id,
            order.user_id.clone(),
            self.clock.now(),
            detail,
        )
        .caused_by(state.trace);
        event.id = order_event_id(order.id, event_type.as_str());
        event
    }
}

/// The result of a step that moved `order` on (or found it already moved).
fn status(order: &Order) -> StepOutput {
    StepOutput::Status(StatusChange {
        status: order.status,
    })
}

/// PENDING -> PROCESSING once the order still makes sense: it has lines and every SKU exists.
pub async fn validate_order<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    match order.status {
        OrderStatus::Pending => {}
        // A retry after the transition succeeded.
        OrderStatus::Processing => return Ok(status(&order)),
        finished => {
            return Err(StepError::InvalidOrder(format!(
                "order {} is already {finished}",
                order.id
            )));
        }
    }
    if order.items.is_empty() {
        return Err(StepError::InvalidOrder("the order has no lines".to_owned()));
    }
    let skus: Vec<_> = order.items.iter().map(|item| item.sku.clone()).collect();
    let known = deps.store.get_inventory(&skus).await?;
    if let Some(missing) = skus.iter().find(|sku| known.iter().all(|k| &k.sku != *sku)) {
        return Err(StepError::InvalidOrder(format!("no product {missing}")));
    }
    let event = deps.event(&order, state, EventType::ORDER_VALIDATED, json!({}));
    let order = deps
        .store
        .transition_order(
            order.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &event,
        )
        .await?;
    Ok(status(&order))
}

/// Takes every line out of stock, or nothing: short stock is [`StepError::OutOfStock`].
pub async fn reserve_inventory<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    let lines: Vec<StockLine> = order
        .items
        .iter()
        .map(|item| StockLine {
            sku: item.sku.clone(),
            quantity: item.quantity,
        })
        .collect();
    let event = deps.event(
        &order,
        state,
        EventType::INVENTORY_RESERVED,
        json!({ "lines": lines }),
    );
    let outcome = deps.store.reserve_stock(order.id, &lines, &event).await?;
    Ok(StepOutput::Reservation(Reservation {
        reserved: lines,
        outcome: outcome.into(),
    }))
}

/// Charges the order's total, keyed by the order id so a retry never charges twice. A decline is
/// recorded as `payment.declined` and raised as [`StepError::PaymentDeclined`].
pub async fn charge_payment<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    let request = ChargeRequest {
        idempotency_key: order.id.to_string(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
    };
    match deps.payments.charge(&request).await {
        Ok(charge) => {
            let payment = Payment {
                charge_id: charge.charge_id,
                amount_minor: charge.amount_minor,
                currency: order.currency.clone(),
            };
            let detail = json!(payment);
            let event = deps.event(&order, state, EventType::PAYMENT_CHARGED, detail);
            deps.store.append_event(&event).await?;
            Ok(StepOutput::Payment(payment))
        }
        Err(PaymentError::Declined(reason)) => {
            let detail = json!({ "reason": reason, "amount_minor": order.total_minor });
            let event = deps.event(&order, state, EventType::PAYMENT_DECLINED, detail);
            deps.store.append_event(&event).await?;
            Err(StepError::PaymentDeclined(reason))
        }
        Err(PaymentError::Unavailable(reason)) => Err(StepError::Transient(reason)),
    }
}

/// PROCESSING -> CONFIRMED; its `order.confirmed` event fans out to email, receipt and webhooks.
pub async fn confirm_order<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    if order.status == OrderStatus::Confirmed {
        return Ok(status(&order));
    }
    let detail = json!({ "total_minor": order.total_minor, "currency": order.currency });
    let event = deps.event(&order, state, EventType::ORDER_CONFIRMED, detail);
    let order = deps
        .store
        .transition_order(
            order.id,
            OrderStatus::Processing,
            OrderStatus::Confirmed,
            &event,
        )
        .await?;
    Ok(status(&order))
}

/// Compensation: puts back exactly what the order reserved, once.
pub async fn release_inventory<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    let event = deps.event(&order, state, EventType::INVENTORY_RELEASED, json!({}));
    let released = match deps.store.release_stock(order.id, &event).await? {
        ReleaseOutcome::Released(lines) => lines,
        ReleaseOutcome::NothingReserved => Vec::new(),
    };
    Ok(StepOutput::Release(Release { released }))
}

/// Compensation: the order becomes FAILED with the reason the saga caught (`$.error`).
pub async fn mark_order_failed<S: Store + ?Sized>(
    deps: &SagaDeps<S>,
    state: &SagaState,
) -> Result<StepOutput, StepError> {
    let order = deps.order(state.order_id).await?;
    if order.status == OrderStatus::Failed {
        return Ok(status(&order));
    }
    if order.status == OrderStatus::Confirmed {
        return Err(StepError::InvalidOrder(format!(
            "order {} is confirmed and cannot fail",
            order.id
        )));
    }
    let caught = state.error.clone().unwrap_or_default();
    let detail = json!({ "error": caught.error, "reason": caught.cause });
    let event = deps.event(&order, state, EventType::ORDER_FAILED, detail);
    let order = deps
        .store
        .transition_order(order.id, order.status, OrderStatus::Failed, &event)
        .await?;
    Ok(status(&order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::inventory::StockLine;
    use eventforge_topology::saga::saga_definition;
    use eventforge_topology::{Trigger, functions};
    use states_language::State;

    #[test]
    fn the_steps_are_exactly_the_saga_functions_the_stacks_deploy() {
        let deployed: Vec<&str> = functions()
            .into_iter()
            .filter(|f| f.trigger == Trigger::Saga)
            .map(|f| f.name)
            .collect();
        let steps: Vec<&str> = Step::ALL.iter().map(|s| s.function_name()).collect();
        assert_eq!(steps, deployed);
    }

    /// Every path the saga writes a result or a caught error to, as a top-level field name.
    fn written_paths() -> Vec<String> {
        let mut paths = Vec::new();
        for (_, state) in saga_definition().states {
            if let State::Task(task) = state {
                paths.extend(task.result_path.clone());
                paths.extend(task.catch.iter().filter_map(|c| c.result_path.clone()));
            }
        }
        let mut fields: Vec<String> = paths
            .iter()
            .map(|p| p.strip_prefix("$.").expect("a top-level path").to_owned())
            .collect();
        fields.sort();
        fields.dedup();
        fields
    }

    fn full_state() -> SagaState {
        let line = StockLine {
            sku: "SKU-1".parse().unwrap(),
            quantity: 2,
        };
        SagaState {
            validation: Some(StatusChange {
                status: OrderStatus::Processing,
            }),
            reservation: Some(Reservation {
                reserved: vec![line.clone()],
                outcome: ReservationOutcome::Reserved,
            }),
            payment: Some(Payment {
                charge_id: "ch_1".to_owned(),
                amount_minor: 500,
                currency: "EUR".parse().unwrap(),
            }),
            confirmation: Some(StatusChange {
                status: OrderStatus::Confirmed,
            }),
            release: Some(Release {
                released: vec![line],
            }),
            failure: Some(StatusChange {
                status: OrderStatus::Failed,
            }),
            error: Some(CaughtError {
                error: Some("OutOfStock".to_owned()),
                cause: Some("short".to_owned()),
            }),
            ..SagaState::new(OrderId::generate(), None)
        }
    }

    #[test]
    fn the_typed_state_has_a_field_for_every_path_the_saga_writes() {
        let written = written_paths();
        let state = serde_json::to_value(full_state()).unwrap();
        for path in &written {
            // `compensationError` is only written on the way to the Fail state: no step reads it.
            if path == "compensationError" {
                continue;
            }
            assert!(state.get(path).is_some(), "SagaState has no field {path}");
        }
        let fields: Vec<&String> = state.as_object().unwrap().keys().collect();
        for field in fields {
            let input = ["order_id", "trace"].contains(&field.as_str());
            assert!(
                input || written.contains(field),
                "SagaState.{field} is neither input nor written by the saga"
            );
        }
    }

    #[test]
    fn the_state_reads_back_what_it_wrote_and_ignores_the_rest_of_the_event_record() {
        let state = full_state();
        let mut json = serde_json::to_value(&state).unwrap();
        json["event_type"] = json!("order.created");
        json["detail"] = json!({ "anything": [1, 2] });
        assert_eq!(SagaState::deserialize(&json).unwrap(), state);
    }

    #[test]
    fn an_unreadable_trace_is_dropped_not_fatal() {
        let json = json!({ "order_id": OrderId::generate(), "trace": "not a traceparent" });
        assert_eq!(SagaState::deserialize(&json).unwrap().trace, None);
    }

    #[test]
    fn step_outputs_serialise_as_the_bare_result() {
        let output = StepOutput::Status(StatusChange {
            status: OrderStatus::Confirmed,
        });
        assert_eq!(
            serde_json::to_value(output).unwrap(),
            json!({ "status": "CONFIRMED" })
        );
        let reservation = StepOutput::Reservation(Reservation {
            reserved: Vec::new(),
            outcome: ReservationOutcome::AlreadyReserved,
        });
        assert_eq!(
            serde_json::to_value(reservation).unwrap(),
            json!({ "reserved": [], "outcome": "AlreadyReserved" })
        );
    }
}
