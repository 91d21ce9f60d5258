//! The order saga, as the Amazon States Language definition Step Functions runs on AWS and the
//! local runtime executes unchanged.
//!
//! Validate -> ReserveInventory -> ChargePayment -> Confirm. A failure after the reservation
//! releases the stock, then marks the order failed; an invalid order or missing stock marks it
//! failed directly. Transient Lambda errors and timeouts are retried with jittered exponential
//! backoff; business errors (named by the [`errors`] constants, which the functions raise as their
//! error type) are caught. A compensation that still fails after its retries fails the execution,
//! which the `ExecutionsFailed` alarm reports.
//!
//! Data flow: the execution input is the `detail` of the `order.created` event (the platform's
//! event record; see [`crate::RuleSpec::input_path`]). Every step receives the whole
//! state and its result is added under its own path: `$.validation`, `$.reservation`,
//! `$.payment`, `$.confirmation`; compensations add `$.release` and `$.failure`. A caught error
//! is recorded at `$.error` (`Error` and `Cause`), so `mark-order-failed` can say why. A step
//! signals a business outcome by failing with the Lambda `errorType` set to one of [`errors`].

use states_language::{
    ALL_ERRORS, Catcher, Definition, Fail, Json, Retrier, State, Succeed, TRANSIENT_ERRORS, Task,
    Transition,
};

use crate::{Function, SAGA_STEP_TIMEOUT_SECONDS};

/// The saga's name in the platform (its physical name is prefixed by the stage).
pub const SAGA_NAME: &str = "order-saga";

/// The business errors the saga steps raise (as the Lambda error type) and the saga catches.
pub mod errors {
    pub const INVALID_ORDER: &str = "InvalidOrder";
    pub const OUT_OF_STOCK: &str = "OutOfStock";
    pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
    /// Not a business outcome: the store or a provider failed and a retry may succeed. Retried
    /// like Lambda's own transient errors.
    pub const TRANSIENT: &str = "Transient";
}

/// What every Task retries: Lambda's transient errors, timeouts, and the steps' own
/// [`errors::TRANSIENT`].
fn retried_errors() -> Vec<&'static str> {
    let mut retried = TRANSIENT_ERRORS.to_vec();
    retried.push(errors::TRANSIENT);
    retried
}

/// A Task waits this long for its function: the function's own timeout plus start-up slack.
const TASK_TIMEOUT_SECONDS: u32 = SAGA_STEP_TIMEOUT_SECONDS + 5;

fn step(function: &str, next: Transition, result_path: &str) -> Task {
    Task::lambda(function, TASK_TIMEOUT_SECONDS, next)
        .result_path(result_path)
        .retry(Retrier::backoff(&retried_errors(), 1, 3))
}

/// The order saga.
pub fn saga_definition() -> Definition {
    let release = "ReleaseInventory";
    let mark_failed = "MarkOrderFailed";
    let caught = "$.error";
    let states = vec![
        (
            "ValidateOrder",
            step(
                Function::ValidateOrder.name(),
                Transition::next("ReserveInventory"),
                "$.validation",
            )
            .catch(Catcher::new(&[errors::INVALID_ORDER], mark_failed, caught))
            .catch(Catcher::new(&[ALL_ERRORS], mark_failed, caught)),
        ),
        (
            "ReserveInventory",
            // Reservation is one conditional transaction: when stock is short nothing was
            // reserved, so there is nothing to release.
            step(
                Function::ReserveInventory.name(),
                Transition::next("ChargePayment"),
                "$.reservation",
            )
            .catch(Catcher::new(&[errors::OUT_OF_STOCK], mark_failed, caught))
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            "ChargePayment",
            step(
                Function::ChargePayment.name(),
                Transition::next("ConfirmOrder"),
                "$.payment",
            )
            .catch(Catcher::new(&[errors::PAYMENT_DECLINED], release, caught))
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            "ConfirmOrder",
            step(
                Function::ConfirmOrder.name(),
                Transition::next("OrderConfirmed"),
                "$.confirmation",
            )
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            release,
            // Compensations retry longer: giving up leaves stock reserved.
            Task::lambda(
                Function::ReleaseInventory.name(),
                TASK_TIMEOUT_SECONDS,
                Transition::next(mark_failed),
            )
            .result_path("$.release")
            .retry(Retrier::backoff(&retried_errors(), 2, 6))
            .catch(Catcher::new(
                &[ALL_ERRORS],
                "CompensationFailed",
                "$.compensationError",
            )),
        ),
        (
            mark_failed,
            Task::lambda(
                Function::MarkOrderFailed.name(),
                TASK_TIMEOUT_SECONDS,
                Transition::next("OrderFailed"),
            )
            .result_path("$.failure")
            .retry(Retrier::backoff(&retried_errors(), 2, 6))
            .catch(Catcher::new(
                &[ALL_ERRORS],
                "CompensationFailed",
                "$.compensationError",
            )),
        ),
    ];
    let mut states: Vec<(String, State)> = states
        .into_iter()
        .map(|(name, task)| (name.to_owned(), State::Task(task)))
        .collect();
    states.push((
        "OrderConfirmed".to_owned(),
        State::Succeed(Succeed {
            comment: Some("The order is paid and confirmed".to_owned()),
        }),
    ));
    // A rejected order is a handled outcome, not a failed execution.
    states.push((
        "OrderFailed".to_owned(),
        State::Succeed(Succeed {
            comment: Some("The order was rejected and compensated".to_owned()),
        }),
    ));
    states.push((
        "CompensationFailed".to_owned(),
        State::Fail(Fail {
            error: "CompensationFailed".to_owned(),
            cause: "A compensating step kept failing; the order needs an operator".to_owned(),
        }),
    ));
    Definition {
        comment: "EventForge order saga: validate, reserve, charge, confirm; compensate on failure"
            .to_owned(),
        start_at: "ValidateOrder".to_owned(),
        states,
    }
}

/// The saga's ASL document, exactly as deployed, with `${...FunctionArn}` placeholders; see
/// [`Definition::substitutions`] for the function behind each.
pub fn saga_asl() -> Json {
    saga_definition().to_json()
}
