//! The order saga, read as a specification: where each outcome leads.

use eventforge_topology::saga::{errors, saga_asl, saga_definition};
use eventforge_topology::{Queue, RuleTarget, queues, rules};
use states_language::{State, TRANSIENT_ERRORS, Task, Transition};

fn task(name: &str) -> Task {
    let definition = saga_definition();
    match definition.states.iter().find(|(n, _)| n == name) {
        Some((_, State::Task(task))) => task.clone(),
        _ => panic!("{name} is not a task"),
    }
}

/// Where `state` goes when it raises `error`.
fn on_error(state: &str, error: &str) -> String {
    task(state)
        .catch
        .iter()
        .find(|c| {
            c.error_equals
                .iter()
                .any(|e| e == error || e == "States.ALL")
        })
        .map(|c| c.next.clone())
        .unwrap_or_else(|| panic!("{state} does not catch {error}"))
}

fn next(state: &str) -> String {
    match task(state).transition {
        Transition::Next(next) => next,
        Transition::End(_) => panic!("{state} ends"),
    }
}

#[test]
fn the_saga_is_structurally_valid() {
    saga_definition().validate().unwrap();
}

#[test]
fn the_happy_path_is_validate_reserve_charge_confirm() {
    assert_eq!(saga_definition().start_at, "ValidateOrder");
    assert_eq!(next("ValidateOrder"), "ReserveInventory");
    assert_eq!(next("ReserveInventory"), "ChargePayment");
    assert_eq!(next("ChargePayment"), "ConfirmOrder");
    assert_eq!(next("ConfirmOrder"), "OrderConfirmed");
}

#[test]
fn an_invalid_order_is_marked_failed_without_compensation() {
    assert_eq!(
        on_error("ValidateOrder", errors::INVALID_ORDER),
        "MarkOrderFailed"
    );
}

#[test]
fn missing_stock_reserves_nothing_so_the_order_is_marked_failed_directly() {
    assert_eq!(
        on_error("ReserveInventory", errors::OUT_OF_STOCK),
        "MarkOrderFailed"
    );
}

#[test]
fn payment_failure_releases_the_reservation_then_marks_the_order_failed() {
    assert_eq!(
        on_error("ChargePayment", errors::PAYMENT_DECLINED),
        "ReleaseInventory"
    );
    assert_eq!(
        on_error("ChargePayment", "States.TaskFailed"),
        "ReleaseInventory"
    );
    assert_eq!(next("ReleaseInventory"), "MarkOrderFailed");
    assert_eq!(next("MarkOrderFailed"), "OrderFailed");
}

#[test]
fn any_failure_after_the_reservation_compensates() {
    for state in ["ChargePayment", "ConfirmOrder"] {
        assert_eq!(on_error(state, "States.ALL"), "ReleaseInventory", "{state}");
    }
}

#[test]
fn every_task_has_a_timeout_and_retries_transient_errors_with_backoff() {
    for (name, state) in &saga_definition().states {
        if let State::Task(task) = state {
            assert!(task.timeout_seconds > 0, "{name}");
            let retrier = task
                .retry
                .first()
                .unwrap_or_else(|| panic!("{name} never retries"));
            for error in TRANSIENT_ERRORS {
                assert!(
                    retrier.error_equals.iter().any(|e| e == error),
                    "{name} does not retry {error}"
                );
            }
            assert!(retrier.backoff_rate > 1.0, "{name} retries without backoff");
        }
    }
}

#[test]
fn business_errors_are_caught_never_retried() {
    for (name, state) in &saga_definition().states {
        if let State::Task(task) = state {
            for retrier in &task.retry {
                for business in [
                    errors::INVALID_ORDER,
                    errors::OUT_OF_STOCK,
                    errors::PAYMENT_DECLINED,
                ] {
                    assert!(
                        !retrier.error_equals.iter().any(|e| e == business),
                        "{name} retries {business}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_asl_document_names_each_function_through_a_substitution_placeholder() {
    let asl = saga_asl();
    assert_eq!(
        asl["States"]["ChargePayment"]["Resource"],
        "${ChargePaymentFunctionArn}"
    );
    let substitutions = saga_definition().substitutions();
    assert_eq!(substitutions["ChargePaymentFunctionArn"], "charge-payment");
    assert_eq!(substitutions.len(), 6);
}

#[test]
fn order_created_starts_the_saga_and_confirmed_orders_fan_out_to_all_three_queues() {
    let rules = rules();
    let targets_of = |event: &str| -> Vec<RuleTarget> {
        rules
            .iter()
            .filter(|rule| rule.event_types.contains(&event))
            .flat_map(|rule| rule.targets.clone())
            .collect()
    };
    assert!(targets_of("order.created").contains(&RuleTarget::StateMachine("order-saga")));
    let confirmed = targets_of("order.confirmed");
    for queue in [Queue::Email, Queue::Receipt, Queue::Webhook] {
        assert!(confirmed.contains(&RuleTarget::Queue(queue)), "{queue}");
    }
}

#[test]
fn every_queue_has_a_dead_letter_queue_after_a_bounded_number_of_receives() {
    let settings = queues();
    assert_eq!(
        settings.iter().map(|q| q.name).collect::<Vec<_>>(),
        ["email", "receipt", "webhook"]
    );
    for queue in settings {
        assert!(
            (1..=10).contains(&queue.max_receive_count),
            "{}",
            queue.name
        );
        assert!(queue.dlq_retention_seconds > queue.message_retention_seconds);
    }
}
