//! Workflow: the order saga as a Step Functions state machine, and the rule that starts it.
//!
//! Validate -> ReserveInventory -> ChargePayment -> Confirm. A failure after the reservation
//! releases the stock, then marks the order failed; an invalid order or missing stock marks it
//! failed directly. Transient Lambda errors and timeouts are retried with jittered exponential
//! backoff; business errors (named by the [`errors`] constants, which the functions raise as their
//! error type) are caught. A compensation that still fails after its retries fails the execution,
//! which the `ExecutionsFailed` alarm reports.
//!
//! Data flow: the execution input is the `detail` of the `order.created` event (the platform's
//! event record; see [`super::messaging::RuleSpec::input_path`]). Every step receives the whole
//! state and its result is added under its own path: `$.validation`, `$.reservation`,
//! `$.payment`, `$.confirmation`; compensations add `$.release` and `$.failure`. A caught error
//! is recorded at `$.error` (`Error` and `Cause`), so `mark-order-failed` can say why. A step
//! signals a business outcome by failing with the Lambda `errorType` set to one of [`errors`].

use std::collections::BTreeMap;

use typed_cloudformation::asl::{
    ALL_ERRORS, Catcher, Definition, Fail, Retrier, State, Succeed, TRANSIENT_ERRORS, Task,
    Transition, placeholder,
};
use typed_cloudformation::generated::{events, logs, stepfunctions};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::iam::{Grants, Unscoped, add_role};
use typed_cloudformation::stack::ResourceOptions;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::Json;

use super::components::LOGS_ENCRYPTED_BY_CLOUDWATCH;
use super::functions::SAGA_STEP_TIMEOUT_SECONDS;
use super::messaging::{RuleSpec, RuleTarget, rules};
use super::{Built, Config, functions, messaging};

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
                "validate-order",
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
                "reserve-inventory",
                Transition::next("ChargePayment"),
                "$.reservation",
            )
            .catch(Catcher::new(&[errors::OUT_OF_STOCK], mark_failed, caught))
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            "ChargePayment",
            step(
                "charge-payment",
                Transition::next("ConfirmOrder"),
                "$.payment",
            )
            .catch(Catcher::new(&[errors::PAYMENT_DECLINED], release, caught))
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            "ConfirmOrder",
            step(
                "confirm-order",
                Transition::next("OrderConfirmed"),
                "$.confirmation",
            )
            .catch(Catcher::new(&[ALL_ERRORS], release, caught)),
        ),
        (
            release,
            // Compensations retry longer: giving up leaves stock reserved.
            Task::lambda(
                "release-inventory",
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
                "mark-order-failed",
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

pub struct Outputs {
    pub state_machine: Handle<stepfunctions::StateMachine>,
}

pub fn stack(
    app: &App,
    config: &Config,
    functions: &functions::Outputs,
    messaging: &messaging::Outputs,
) -> Built<Outputs> {
    let mut stack = app.new_stack("workflow", "EventForge workflow: the order saga");
    let definition = saga_definition();
    let log_group = stack.add_with(
        "SagaLogGroup",
        logs::LogGroup::new()
            .log_group_name(format!(
                "/aws/vendedlogs/states/{}-{SAGA_NAME}",
                config.prefix()
            ))
            .retention_in_days(config.log_retention_days),
        ResourceOptions::delete().accept(&[LOGS_ENCRYPTED_BY_CLOUDWATCH]),
    );

    // The role may invoke exactly the functions the definition's tasks name.
    let mut grants = Grants::new();
    let mut substitutions = BTreeMap::new();
    let invoked: Vec<_> = definition
        .invoked_functions()
        .into_iter()
        .filter_map(|name| functions.functions.get(name.as_str()).map(|f| (name, f)))
        .collect();
    for (name, function) in &invoked {
        substitutions.insert(placeholder(name), function.arn().to_json());
    }
    grants.allow(
        &["lambda:InvokeFunction"],
        invoked.iter().map(|(_, function)| function.arn()).collect(),
    );
    grants.allow_unscoped(Unscoped::LogDelivery);
    grants.allow_unscoped(Unscoped::XRayTracing);
    let role = add_role(
        &mut stack,
        "SagaRole",
        "states.amazonaws.com",
        "Runs the order saga",
        &grants,
    );

    let state_machine = stack.add(
        "Saga",
        stepfunctions::StateMachine::new(role.arn())
            .state_machine_name(format!("{}-{SAGA_NAME}", config.prefix()))
            .state_machine_type("STANDARD")
            .definition(definition.to_json())
            .definition_substitutions(substitutions)
            .logging_configuration(
                stepfunctions::state_machine::LoggingConfiguration::new()
                    .level("ALL")
                    .include_execution_data(true)
                    .destinations(vec![
                        stepfunctions::state_machine::LogDestination::new()
                            .cloud_watch_logs_log_group(
                                stepfunctions::state_machine::CloudWatchLogsLogGroup::new()
                                    .log_group_arn(log_group.arn()),
                            ),
                    ]),
            )
            .tracing_configuration(
                stepfunctions::state_machine::TracingConfiguration::new().enabled(true),
            ),
    );

    // The trigger rule lives with its target: its role needs the state machine's ARN.
    let mut starter = Grants::new();
    starter.allow(&["states:StartExecution"], vec![state_machine.reference()]);
    let events_role = add_role(
        &mut stack,
        "SagaTriggerRole",
        "events.amazonaws.com",
        "Lets EventBridge start the order saga",
        &starter,
    );
    for rule in rules() {
        for target in &rule.targets {
            if *target != RuleTarget::StateMachine(SAGA_NAME) {
                continue;
            }
            let mut rule_target = events::rule::Target::new(state_machine.reference(), SAGA_NAME)
                .role_arn(events_role.arn());
            if let Some(path) = RuleSpec::input_path(target) {
                rule_target = rule_target.input_path(path);
            }
            stack.add(
                &format!(
                    "{}Rule",
                    typed_cloudformation::naming::upper_camel(rule.name)
                ),
                events::Rule::new()
                    .description(rule.description)
                    .event_bus_name(messaging.bus.name())
                    .event_pattern(rule.pattern())
                    .targets(vec![rule_target]),
            );
        }
    }
    Built {
        stack,
        outputs: Outputs { state_machine },
    }
}
