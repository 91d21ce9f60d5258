//! The platform's functions: what each is called, what starts it and how long it may run.

use std::fmt;

use crate::Queue;

/// One function of the platform. Its [`name`](Function::name) is also the name of its binary
/// (`lambdas/functions/src/bin/<name>.rs`), of its zip asset and, prefixed by the stage, of the
/// deployed Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    ValidateOrder,
    ReserveInventory,
    ChargePayment,
    ConfirmOrder,
    ReleaseInventory,
    MarkOrderFailed,
    EmailProcessor,
    ReceiptProcessor,
    WebhookProcessor,
    OutboxPublisher,
}

/// What invokes a function besides the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A saga step, invoked by the state machine.
    Saga,
    /// The processor of one of the work queues.
    Queue(Queue),
    /// The table's stream (the outbox publisher).
    TableStream,
}

/// Saga steps answer quickly; their Task timeouts in the state machine are a little longer.
pub const SAGA_STEP_TIMEOUT_SECONDS: u32 = 10;

/// How long a processor may run per batch.
pub const PROCESSOR_TIMEOUT_SECONDS: u32 = 30;

/// The most instances of one queue processor at once (the event source mapping's
/// `MaximumConcurrency`): a processor stuck in a failure loop cannot take the account's whole
/// concurrency, and the other functions, including the saga's, keep theirs.
pub const PROCESSOR_MAX_CONCURRENCY: u32 = 5;

impl Function {
    /// Every function, saga steps first, in the order the stacks declare them.
    pub const ALL: [Function; 10] = [
        Function::ValidateOrder,
        Function::ReserveInventory,
        Function::ChargePayment,
        Function::ConfirmOrder,
        Function::ReleaseInventory,
        Function::MarkOrderFailed,
        Function::EmailProcessor,
        Function::ReceiptProcessor,
        Function::WebhookProcessor,
        Function::OutboxPublisher,
    ];

    /// The kebab-case name: binary, zip and (prefixed) Lambda function.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ValidateOrder => "validate-order",
            Self::ReserveInventory => "reserve-inventory",
            Self::ChargePayment => "charge-payment",
            Self::ConfirmOrder => "confirm-order",
            Self::ReleaseInventory => "release-inventory",
            Self::MarkOrderFailed => "mark-order-failed",
            Self::EmailProcessor => "email-processor",
            Self::ReceiptProcessor => "receipt-processor",
            Self::WebhookProcessor => "webhook-processor",
            Self::OutboxPublisher => "outbox-publisher",
        }
    }

    /// The function named `name`, if the platform has one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|function| function.name() == name)
    }

    pub const fn description(self) -> &'static str {
        match self {
            Self::ValidateOrder => "Saga: validate an order",
            Self::ReserveInventory => "Saga: reserve stock for an order",
            Self::ChargePayment => "Saga: charge the payment, idempotently",
            Self::ConfirmOrder => "Saga: confirm an order",
            Self::ReleaseInventory => "Saga compensation: release reserved stock",
            Self::MarkOrderFailed => "Saga compensation: mark an order failed",
            Self::EmailProcessor => "Sends order emails",
            Self::ReceiptProcessor => "Renders PDF receipts",
            Self::WebhookProcessor => "Delivers signed webhooks",
            Self::OutboxPublisher => "Publishes outbox events from the table stream to the bus",
        }
    }

    pub const fn trigger(self) -> Trigger {
        match self {
            Self::ValidateOrder
            | Self::ReserveInventory
            | Self::ChargePayment
            | Self::ConfirmOrder
            | Self::ReleaseInventory
            | Self::MarkOrderFailed => Trigger::Saga,
            Self::EmailProcessor => Trigger::Queue(Queue::Email),
            Self::ReceiptProcessor => Trigger::Queue(Queue::Receipt),
            Self::WebhookProcessor => Trigger::Queue(Queue::Webhook),
            Self::OutboxPublisher => Trigger::TableStream,
        }
    }

    /// The Lambda timeout.
    pub const fn timeout_seconds(self) -> u32 {
        match self.trigger() {
            Trigger::Saga => SAGA_STEP_TIMEOUT_SECONDS,
            Trigger::Queue(_) => PROCESSOR_TIMEOUT_SECONDS,
            Trigger::TableStream => 30,
        }
    }

    /// The function as plain data.
    pub const fn spec(self) -> FunctionSpec {
        FunctionSpec {
            name: self.name(),
            description: self.description(),
            timeout_seconds: self.timeout_seconds(),
            trigger: self.trigger(),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One function of the platform as plain data (see [`Function`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Also the name of its binary and of its zip asset.
    pub name: &'static str,
    pub description: &'static str,
    pub timeout_seconds: u32,
    pub trigger: Trigger,
}

/// Every function of the platform, as [`Function::ALL`].
pub fn functions() -> Vec<FunctionSpec> {
    Function::ALL.into_iter().map(Function::spec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_its_function() {
        for function in Function::ALL {
            assert_eq!(Function::from_name(function.name()), Some(function));
        }
        assert_eq!(Function::from_name("no-such-function"), None);
    }
}
