//! The saga's steps: ValidateOrder, ReserveInventory, ChargePayment, ConfirmOrder, and the
//! compensations ReleaseInventory and MarkOrderFailed.
//!
//! Each step receives the saga's state (the `order.created` event record, with the results of
//! earlier steps under their own paths; see `eventforge_topology::saga`) and returns its own
//! result. A business outcome is an error whose type the state machine catches
//! ([`StepError::error_type`]); a store or provider failure is [`StepError::Transient`], which
//! the state machine retries with backoff. Every step is safe to run twice.

use std::sync::Arc;

use eventforge_core::inventory::StockLine;
use eventforge_core::store::{ReleaseOutcome, StoreError};
use eventforge_core::{Clock, Event, EventType, Order, OrderId, OrderStatus, Store, TraceContext};
use eventforge_topology::Function;
use eventforge_topology::saga::errors;
use serde_json::{Value, json};

use crate::order_event_id;
use crate::payment::{ChargeRequest, PaymentError, PaymentProvider};

/// What the steps work with.
#[derive(Clone)]
pub struct SagaDeps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentProvider>,
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

    /// Runs the step on the saga's state.
    pub async fn run(self, deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
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

/// The part of the saga's state every step reads.
struct SagaInput {
    order_id: OrderId,
    trace: Option<TraceContext>,
}

impl SagaInput {
    fn read(state: &Value) -> Result<Self, StepError> {
        let order_id = state
            .get("order_id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| StepError::InvalidOrder("the saga input names no order".to_owned()))?;
        let trace = state
            .get("trace")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok());
        Ok(Self { order_id, trace })
    }
}

impl SagaDeps {
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
        input: &SagaInput,
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
        .caused_by(input.trace);
        event.id = order_event_id(order.id, event_type.as_str());
        event
    }
}

/// PENDING -> PROCESSING once the order still makes sense: it has lines and every SKU exists.
pub async fn validate_order(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
    match order.status {
        OrderStatus::Pending => {}
        // A retry after the transition succeeded.
        OrderStatus::Processing => return Ok(json!({ "status": order.status })),
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
    let event = deps.event(&order, &input, EventType::ORDER_VALIDATED, json!({}));
    let order = deps
        .store
        .transition_order(
            order.id,
            OrderStatus::Pending,
            OrderStatus::Processing,
            &event,
        )
        .await?;
    Ok(json!({ "status": order.status }))
}

/// Takes every line out of stock, or nothing: short stock is [`StepError::OutOfStock`].
pub async fn reserve_inventory(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
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
        &input,
        EventType::INVENTORY_RESERVED,
        json!({ "lines": lines }),
    );
    let outcome = deps.store.reserve_stock(order.id, &lines, &event).await?;
    Ok(json!({ "reserved": lines, "outcome": format!("{outcome:?}") }))
}

/// Charges the order's total, keyed by the order id so a retry never charges twice. A decline is
/// recorded as `payment.declined` and raised as [`StepError::PaymentDeclined`].
pub async fn charge_payment(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
    let request = ChargeRequest {
        idempotency_key: order.id.to_string(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
    };
    match deps.payments.charge(&request).await {
        Ok(charge) => {
            let detail = json!({
                "charge_id": charge.charge_id,
                "amount_minor": charge.amount_minor,
                "currency": order.currency,
            });
            let event = deps.event(&order, &input, EventType::PAYMENT_CHARGED, detail.clone());
            deps.store.append_event(&event).await?;
            Ok(detail)
        }
        Err(PaymentError::Declined(reason)) => {
            let detail = json!({ "reason": reason, "amount_minor": order.total_minor });
            let event = deps.event(&order, &input, EventType::PAYMENT_DECLINED, detail);
            deps.store.append_event(&event).await?;
            Err(StepError::PaymentDeclined(reason))
        }
        Err(PaymentError::Unavailable(reason)) => Err(StepError::Transient(reason)),
    }
}

/// PROCESSING -> CONFIRMED; its `order.confirmed` event fans out to email, receipt and webhooks.
pub async fn confirm_order(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
    if order.status == OrderStatus::Confirmed {
        return Ok(json!({ "status": order.status }));
    }
    let detail = json!({ "total_minor": order.total_minor, "currency": order.currency });
    let event = deps.event(&order, &input, EventType::ORDER_CONFIRMED, detail);
    let order = deps
        .store
        .transition_order(
            order.id,
            OrderStatus::Processing,
            OrderStatus::Confirmed,
            &event,
        )
        .await?;
    Ok(json!({ "status": order.status }))
}

/// Compensation: puts back exactly what the order reserved, once.
pub async fn release_inventory(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
    let event = deps.event(&order, &input, EventType::INVENTORY_RELEASED, json!({}));
    Ok(match deps.store.release_stock(order.id, &event).await? {
        ReleaseOutcome::Released(lines) => json!({ "released": lines }),
        ReleaseOutcome::NothingReserved => json!({ "released": [] }),
    })
}

/// Compensation: the order becomes FAILED with the reason the saga caught (`$.error`).
pub async fn mark_order_failed(deps: &SagaDeps, state: &Value) -> Result<Value, StepError> {
    let input = SagaInput::read(state)?;
    let order = deps.order(input.order_id).await?;
    if order.status == OrderStatus::Failed {
        return Ok(json!({ "status": order.status }));
    }
    if order.status == OrderStatus::Confirmed {
        return Err(StepError::InvalidOrder(format!(
            "order {} is confirmed and cannot fail",
            order.id
        )));
    }
    let error = state.get("error");
    let detail = json!({
        "error": error.and_then(|e| e.get("Error")).cloned().unwrap_or(Value::Null),
        "reason": error.and_then(|e| e.get("Cause")).cloned().unwrap_or(Value::Null),
    });
    let event = deps.event(&order, &input, EventType::ORDER_FAILED, detail);
    let order = deps
        .store
        .transition_order(order.id, order.status, OrderStatus::Failed, &event)
        .await?;
    Ok(json!({ "status": order.status }))
}

#[cfg(test)]
mod tests {
    use super::Step;
    use eventforge_topology::{Trigger, functions};

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
}
