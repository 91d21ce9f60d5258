//! Specifications of the States Language executor, one state type or feature at a time, and the
//! deployed saga's paths.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Reply, ScriptedHost};
use eventforge_local::TimeScale;
use eventforge_local::interpreter::{ExecutionContext, Interpreter, Outcome, StopSignal};
use eventforge_local::machine::Machine;
use serde_json::{Value, json};

fn context(input: Value) -> ExecutionContext {
    ExecutionContext {
        machine_name: "test".into(),
        execution_name: "run-1".into(),
        input,
        started_at: time::OffsetDateTime::now_utc(),
    }
}

async fn run(document: Value, host: Arc<ScriptedHost>, input: Value) -> (Outcome, Vec<String>) {
    let machine = Arc::new(Machine::from_json(&document, &BTreeMap::new()).expect("valid machine"));
    let interpreter = Interpreter::new(machine, host, TimeScale::uniform(0.001));
    interpreter
        .run(&context(input), &mut StopSignal::never())
        .await
}

fn saga() -> Arc<Machine> {
    Arc::new(
        Machine::from_definition(&eventforge_topology::saga::saga_definition())
            .expect("the deployed saga loads"),
    )
}

async fn run_saga(host: Arc<ScriptedHost>) -> (Outcome, Vec<String>) {
    let interpreter = Interpreter::new(saga(), host, TimeScale::uniform(0.0001));
    interpreter
        .run(
            &context(json!({"order_id": "o-1", "user_id": "u-1"})),
            &mut StopSignal::never(),
        )
        .await
}

#[tokio::test]
async fn pass_applies_input_path_parameters_result_path_and_output_path() {
    let document = json!({
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "InputPath": "$.order",
                "Parameters": {"id.$": "$.id", "kind": "pass", "who.$": "$$.Execution.Name"},
                "ResultPath": "$.shaped",
                "OutputPath": "$.shaped",
                "Next": "Fixed"
            },
            "Fixed": {"Type": "Pass", "Result": {"ok": true}, "ResultPath": "$.fixed", "End": true}
        }
    });
    let (outcome, _) = run(
        document,
        Arc::new(ScriptedHost::new()),
        json!({"order": {"id": 7}}),
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Succeeded(json!({"id": 7, "kind": "pass", "who": "run-1", "fixed": {"ok": true}}))
    );
}

#[tokio::test]
async fn a_task_gets_its_parameters_and_its_result_lands_at_result_path() {
    let document = json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "fn",
                "Parameters": {"x.$": "$.a.x"},
                "ResultSelector": {"value.$": "$.v"},
                "ResultPath": "$.result",
                "TimeoutSeconds": 5,
                "End": true
            }
        }
    });
    let host = Arc::new(ScriptedHost::new().always("fn", Reply::Ok(json!({"v": 42, "noise": 1}))));
    let (outcome, _) = run(document, host.clone(), json!({"a": {"x": 1}})).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded(json!({"a": {"x": 1}, "result": {"value": 42}}))
    );
    assert_eq!(host.calls_of("fn"), vec![json!({"x": 1})]);
}

#[tokio::test]
async fn a_null_result_path_keeps_the_input_and_a_null_output_path_gives_an_empty_object() {
    let document = json!({
        "StartAt": "Keep",
        "States": {
            "Keep": {"Type": "Task", "Resource": "fn", "ResultPath": null, "Next": "Drop"},
            "Drop": {"Type": "Pass", "OutputPath": null, "End": true}
        }
    });
    let host = Arc::new(ScriptedHost::new());
    let (outcome, visited) = run(document, host, json!({"a": 1})).await;
    assert_eq!(outcome, Outcome::Succeeded(json!({})));
    assert_eq!(visited, vec!["Keep", "Drop"]);
}

#[tokio::test]
async fn choice_takes_the_first_matching_rule_then_the_default() {
    let document = json!({
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"And": [
                        {"Variable": "$.total", "NumericGreaterThan": 100},
                        {"Variable": "$.currency", "StringEquals": "EUR"}
                    ], "Next": "Big"},
                    {"Variable": "$.express", "BooleanEquals": true, "Next": "Fast"},
                    {"Not": {"Variable": "$.note", "IsPresent": true}, "Next": "Quiet"},
                    {"Variable": "$.total", "NumericLessThanEqualsPath": "$.limit", "Next": "Within"}
                ],
                "Default": "Other"
            },
            "Big": {"Type": "Succeed"},
            "Fast": {"Type": "Succeed"},
            "Quiet": {"Type": "Succeed"},
            "Within": {"Type": "Succeed"},
            "Other": {"Type": "Succeed"}
        }
    });
    let cases = [
        (json!({"total": 150, "currency": "EUR", "note": 1}), "Big"),
        (
            json!({"total": 150, "currency": "USD", "express": true, "note": 1}),
            "Fast",
        ),
        (json!({"total": 150, "currency": "USD"}), "Quiet"),
        (json!({"total": 5, "limit": 10, "note": "x"}), "Within"),
        (json!({"total": 50, "limit": 10, "note": "x"}), "Other"),
    ];
    for (input, expected) in cases {
        let (_, visited) = run(
            document.clone(),
            Arc::new(ScriptedHost::new()),
            input.clone(),
        )
        .await;
        assert_eq!(visited, vec!["Route", expected], "for {input}");
    }
}

#[tokio::test]
async fn a_choice_without_match_or_default_fails_the_execution() {
    let document = json!({
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "y", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    });
    let (outcome, _) = run(document, Arc::new(ScriptedHost::new()), json!({"x": "z"})).await;
    assert!(matches!(outcome, Outcome::Failed { error, .. } if error == "States.NoChoiceMatched"));
}

#[tokio::test]
async fn wait_durations_are_scaled_by_the_time_scale() {
    let document = json!({
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 60, "Next": "Nap2"},
            "Nap2": {"Type": "Wait", "SecondsPath": "$.seconds", "End": true}
        }
    });
    let started = Instant::now();
    let (outcome, _) = run(
        document,
        Arc::new(ScriptedHost::new()),
        json!({"seconds": 30}),
    )
    .await;
    assert_eq!(outcome, Outcome::Succeeded(json!({"seconds": 30})));
    // 90 s of waits at a scale of 1/1000.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(85) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn fail_ends_the_execution_with_its_error_and_cause() {
    let document = json!({
        "StartAt": "Stop",
        "States": {"Stop": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}
    });
    let (outcome, _) = run(document, Arc::new(ScriptedHost::new()), json!({})).await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            error: "Broken".into(),
            cause: "on purpose".into()
        }
    );
}

fn retrying_task(retry: Value, catch: Value) -> Value {
    json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task", "Resource": "fn", "TimeoutSeconds": 1,
                "ResultPath": "$.result", "Retry": retry, "Catch": catch, "Next": "Done"
            },
            "Handle": {"Type": "Pass", "End": true},
            "Done": {"Type": "Succeed"}
        }
    })
}

#[tokio::test]
async fn a_step_that_fails_transiently_n_times_succeeds_by_retry() {
    let document = retrying_task(
        json!([{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}]),
        json!([]),
    );
    let host = ScriptedHost::new()
        .then("fn", Reply::Err("Lambda.ServiceException", "blip"))
        .then("fn", Reply::Err("Lambda.ServiceException", "blip"))
        .then("fn", Reply::Err("Lambda.ServiceException", "blip"))
        .then("fn", Reply::Ok(json!("finally")));
    let host = Arc::new(host);
    let started = Instant::now();
    let (outcome, _) = run(document, host.clone(), json!({"order": 7})).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded(json!({"order": 7, "result": "finally"}))
    );
    assert_eq!(
        host.calls_of("fn"),
        vec![json!({"order": 7}); 4],
        "one call and three retries, each given the same input"
    );
    // Backoff 1 + 2 + 4 s, at a scale of 1/1000.
    assert!(started.elapsed() >= Duration::from_millis(7));
}

#[tokio::test]
async fn retries_stop_at_max_attempts_and_the_catcher_records_error_and_cause() {
    let document = retrying_task(
        json!([{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2}]),
        json!([{"ErrorEquals": ["States.ALL"], "Next": "Handle", "ResultPath": "$.error"}]),
    );
    let host = Arc::new(ScriptedHost::new().always("fn", Reply::Err("Boom", "it broke")));
    let (outcome, visited) = run(document, host.clone(), json!({"keep": 1})).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded(json!({"keep": 1, "error": {"Error": "Boom", "Cause": "it broke"}}))
    );
    assert_eq!(visited, vec!["Call", "Handle"]);
    assert_eq!(host.calls_of("fn").len(), 3);
}

#[tokio::test]
async fn a_business_error_is_not_retried_by_a_retrier_for_other_errors() {
    let document = retrying_task(
        json!([{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 5}]),
        json!([{"ErrorEquals": ["PaymentDeclined"], "Next": "Handle"}]),
    );
    let host = Arc::new(ScriptedHost::new().always("fn", Reply::Err("PaymentDeclined", "card")));
    let (outcome, _) = run(document, host.clone(), json!({})).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded(json!({"Error": "PaymentDeclined", "Cause": "card"})),
        "a catcher without ResultPath replaces the input with the error"
    );
    assert_eq!(host.calls_of("fn").len(), 1);
}

#[tokio::test]
async fn a_task_that_outlives_timeout_seconds_fails_with_states_timeout() {
    let document = retrying_task(
        // TaskFailed does not cover timeouts: no retry happens.
        json!([{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}]),
        json!([{"ErrorEquals": ["States.Timeout"], "Next": "Handle", "ResultPath": "$.error"}]),
    );
    let host = Arc::new(ScriptedHost::new().always("fn", Reply::Hang));
    let (outcome, _) = run(document, host.clone(), json!({})).await;
    let Outcome::Succeeded(output) = outcome else {
        panic!("caught");
    };
    assert_eq!(output["error"]["Error"], "States.Timeout");
    assert_eq!(host.calls_of("fn").len(), 1);
}

#[tokio::test]
async fn an_uncaught_error_fails_the_execution_with_it() {
    let document = retrying_task(json!([]), json!([]));
    let host = Arc::new(ScriptedHost::new().always("fn", Reply::Err("Nope", "no")));
    let (outcome, _) = run(document, host, json!({})).await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            error: "Nope".into(),
            cause: "no".into()
        }
    );
}

#[tokio::test]
async fn a_path_selecting_nothing_fails_with_states_runtime_even_under_a_catch_all() {
    let document = json!({
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "fn", "InputPath": "$.missing",
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "End": true},
            "Done": {"Type": "Succeed"}
        }
    });
    let (outcome, _) = run(document, Arc::new(ScriptedHost::new()), json!({})).await;
    assert!(matches!(outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));
}

// The deployed saga, step by step.

#[tokio::test]
async fn the_saga_confirms_an_order_through_validate_reserve_charge_confirm() {
    let host = Arc::new(ScriptedHost::new());
    let (outcome, visited) = run_saga(host.clone()).await;
    assert_eq!(
        visited,
        vec![
            "ValidateOrder",
            "ReserveInventory",
            "ChargePayment",
            "ConfirmOrder",
            "OrderConfirmed"
        ]
    );
    let Outcome::Succeeded(output) = outcome else {
        panic!("succeeded");
    };
    for (path, function) in [
        ("validation", "validate-order"),
        ("reservation", "reserve-inventory"),
        ("payment", "charge-payment"),
        ("confirmation", "confirm-order"),
    ] {
        assert_eq!(output[path]["function"], function);
    }
    // Every step receives the whole state so far: the order's fields and earlier results.
    assert_eq!(host.calls_of("confirm-order")[0]["order_id"], "o-1");
    assert_eq!(
        host.calls_of("confirm-order")[0]["payment"]["function"],
        "charge-payment"
    );
}

#[tokio::test]
async fn a_declined_payment_releases_the_stock_then_marks_the_order_failed() {
    let host = Arc::new(ScriptedHost::new().always(
        "charge-payment",
        Reply::Err("PaymentDeclined", "card declined"),
    ));
    let (outcome, visited) = run_saga(host.clone()).await;
    assert_eq!(
        visited,
        vec![
            "ValidateOrder",
            "ReserveInventory",
            "ChargePayment",
            "ReleaseInventory",
            "MarkOrderFailed",
            "OrderFailed"
        ]
    );
    assert_eq!(
        host.calls_of("charge-payment").len(),
        1,
        "business errors are not retried"
    );
    assert_eq!(
        host.calls_of("mark-order-failed")[0]["error"],
        json!({"Error": "PaymentDeclined", "Cause": "card declined"})
    );
    assert!(matches!(outcome, Outcome::Succeeded(_)));
}

#[tokio::test]
async fn missing_stock_marks_the_order_failed_without_a_release() {
    let host = Arc::new(
        ScriptedHost::new().always("reserve-inventory", Reply::Err("OutOfStock", "none left")),
    );
    let (_, visited) = run_saga(host).await;
    assert_eq!(
        visited,
        vec![
            "ValidateOrder",
            "ReserveInventory",
            "MarkOrderFailed",
            "OrderFailed"
        ]
    );
}

#[tokio::test]
async fn transient_lambda_errors_in_the_saga_are_retried_with_backoff() {
    let host = Arc::new(
        ScriptedHost::new()
            .then(
                "charge-payment",
                Reply::Err("Lambda.TooManyRequestsException", "throttled"),
            )
            .then("charge-payment", Reply::Err("States.Timeout", "slow")),
    );
    let (_, visited) = run_saga(host.clone()).await;
    assert_eq!(visited.last().map(String::as_str), Some("OrderConfirmed"));
    assert_eq!(host.calls_of("charge-payment").len(), 3);
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_fails_the_execution() {
    let host = Arc::new(
        ScriptedHost::new()
            .always("confirm-order", Reply::Err("Boom", "x"))
            .always(
                "release-inventory",
                Reply::Err("Lambda.ServiceException", "down"),
            ),
    );
    let (outcome, visited) = run_saga(host.clone()).await;
    assert_eq!(
        visited.last().map(String::as_str),
        Some("CompensationFailed")
    );
    assert!(matches!(outcome, Outcome::Failed { error, .. } if error == "CompensationFailed"));
    assert_eq!(
        host.calls_of("release-inventory").len(),
        7,
        "one call and six retries"
    );
}
