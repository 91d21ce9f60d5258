//! Runs one state of a loaded machine: input and output processing, task invocation with
//! `TimeoutSeconds`, `Retry` with backoff and jitter, `Catch`, and the other state types. It holds
//! no execution state of its own: the [`crate::executor`] persists what each step returns.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use crate::host::{FunctionError, FunctionHost};
use crate::machine::{Condition, Machine, Operand, Operator, Retrier, State, TaskState, WaitState};
use crate::paths::{self, ContextObject, LazyContext, PathError};

/// Matches every error but the terminal `States.Runtime`.
pub const STATES_ALL: &str = "States.ALL";
/// Matches every error but `States.Timeout`.
pub const STATES_TASK_FAILED: &str = "States.TaskFailed";
pub const STATES_TIMEOUT: &str = "States.Timeout";
/// Input or output processing failed: the execution fails, no `Retry` or `Catch` applies.
pub const STATES_RUNTIME: &str = "States.Runtime";

/// Multiplies the durations the runtime waits, so tests run the deployed definitions without
/// waiting real seconds. Two factors: `delays` for waits that are pure delay (retry intervals,
/// `Wait` states, visibility timeouts of failed messages) and `timeouts` for limits on work
/// in progress (`TimeoutSeconds`, a consumer's batch time, the lease of a received message), which
/// must stay long enough for real handlers under load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale {
    pub delays: f64,
    pub timeouts: f64,
}

impl TimeScale {
    /// Seconds are seconds.
    pub const REAL: Self = Self {
        delays: 1.0,
        timeouts: 1.0,
    };

    /// Every duration multiplied by `factor`.
    pub const fn uniform(factor: f64) -> Self {
        Self {
            delays: factor,
            timeouts: factor,
        }
    }

    fn scaled(seconds: f64, factor: f64) -> Duration {
        Duration::from_secs_f64((seconds * factor.max(0.0)).clamp(0.0, 1e9))
    }

    pub fn delay(self, duration: Duration) -> Duration {
        Self::scaled(duration.as_secs_f64(), self.delays)
    }

    pub fn delay_seconds(self, seconds: f64) -> Duration {
        Self::scaled(seconds, self.delays)
    }

    pub fn timeout_seconds(self, seconds: f64) -> Duration {
        Self::scaled(seconds, self.timeouts)
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL
    }
}

/// Tells long waits to give up because the runtime is stopping.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// A signal that never fires.
    pub fn never() -> Self {
        let (sender, signal) = Self::new();
        drop(sender);
        signal
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once stopping was requested (never, if the sender is gone unfired).
    pub async fn stopped(&mut self) {
        loop {
            if *self.0.borrow_and_update() {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleeps `duration`; `false` when cut short by a stop.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.stopped() => false,
        }
    }
}

/// Facts about the execution, exposed to paths as the context object (`$$`).
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    pub machine_name: String,
    pub execution_name: String,
    pub input: Value,
    pub started_at: OffsetDateTime,
}

impl ExecutionContext {
    fn object(&self, state: &str, retry_count: u32) -> Value {
        let start = self.started_at.format(&Rfc3339).unwrap_or_default();
        json!({
            "Execution": {
                "Id": format!("arn:aws:states:local:000000000000:execution:{}:{}", self.machine_name, self.execution_name),
                "Name": self.execution_name,
                "Input": self.input,
                "StartTime": start,
            },
            "StateMachine": {
                "Id": format!("arn:aws:states:local:000000000000:stateMachine:{}", self.machine_name),
                "Name": self.machine_name,
            },
            "State": { "Name": state, "RetryCount": retry_count },
        })
    }
}

/// What running one state led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Next {
        state: String,
        output: Value,
    },
    Succeeded(Value),
    Failed {
        error: String,
        cause: String,
    },
    /// The runtime is stopping: the state did not finish and runs again on resume.
    Interrupted,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

/// Whether `error` is among `error_equals`, with the `States.ALL` / `States.TaskFailed` wildcards.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error != STATES_RUNTIME
        && error_equals.iter().any(|name| {
            name == error
                || name == STATES_ALL
                || (name == STATES_TASK_FAILED && error != STATES_TIMEOUT)
        })
}

/// The wait before retry number `attempt + 1` (`attempt` retries done), before scaling.
pub fn retry_delay(retrier: &Retrier, attempt: u32, jitter: f64) -> Duration {
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut seconds = retrier.interval_seconds * retrier.backoff_rate.powi(exponent);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max);
    }
    if retrier.jitter_strategy.as_deref() == Some("FULL") {
        seconds *= jitter.clamp(0.0, 1.0);
    }
    Duration::from_secs_f64(seconds.clamp(0.0, 1e9))
}

fn runtime_error(error: PathError) -> Step {
    Step::Failed {
        error: STATES_RUNTIME.to_owned(),
        cause: error.0,
    }
}

fn flow(next: &Option<String>, output: Value) -> Step {
    match next {
        Some(state) => Step::Next {
            state: state.clone(),
            output,
        },
        None => Step::Succeeded(output),
    }
}

/// Runs the states of one machine against a [`FunctionHost`].
#[derive(Clone)]
pub struct Interpreter {
    machine: Arc<Machine>,
    host: Arc<dyn FunctionHost>,
    time: TimeScale,
}

impl Interpreter {
    pub fn new(machine: Arc<Machine>, host: Arc<dyn FunctionHost>, time: TimeScale) -> Self {
        Self {
            machine,
            host,
            time,
        }
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs an execution to its end in memory (no persistence), returning the outcome and the
    /// states entered in order.
    pub async fn run(
        &self,
        context: &ExecutionContext,
        stop: &mut StopSignal,
    ) -> (Outcome, Vec<String>) {
        let mut state = self.machine.document.start_at.clone();
        let mut input = context.input.clone();
        let mut visited = Vec::new();
        loop {
            visited.push(state.clone());
            match self.run_state(context, &state, input, stop).await {
                Step::Next {
                    state: next,
                    output,
                } => {
                    state = next;
                    input = output;
                }
                Step::Succeeded(output) => return (Outcome::Succeeded(output), visited),
                Step::Failed { error, cause } => {
                    return (Outcome::Failed { error, cause }, visited);
                }
                Step::Interrupted => {
                    return (
                        Outcome::Failed {
                            error: "Interrupted".into(),
                            cause: "the runtime stopped".into(),
                        },
                        visited,
                    );
                }
            }
        }
    }

    /// Runs the state `name` with `input`.
    pub async fn run_state(
        &self,
        context: &ExecutionContext,
        name: &str,
        input: Value,
        stop: &mut StopSignal,
    ) -> Step {
        let Some(state) = self.machine.state(name) else {
            return Step::Failed {
                error: STATES_RUNTIME.to_owned(),
                cause: format!("no state named {name}"),
            };
        };
        // The context object copies the execution's input: made only if a path reads it.
        let ctx = LazyContext::new(|| context.object(name, 0));
        match state {
            State::Task(task) => self.task(context, name, task, input, &ctx, stop).await,
            State::Pass(pass) => {
                let processed = (move || {
                    let effective = paths::select(&pass.input_path, &input, &ctx)?;
                    // Parameters are evaluated even when a Result replaces their value, as the
                    // interpreter always has: a bad path in them fails the state either way.
                    let effective = match &pass.parameters {
                        Some(parameters) => paths::template(parameters, &effective, &ctx)?,
                        None => effective.into_owned(),
                    };
                    let result = pass.result.clone().unwrap_or(effective);
                    let output = paths::place(&pass.result_path, input, result)?;
                    paths::select_owned(&pass.output_path, output, &ctx)
                })();
                match processed {
                    Ok(output) => flow(&pass.next, output),
                    Err(error) => runtime_error(error),
                }
            }
            State::Wait(wait) => {
                let effective = match paths::select_owned(&wait.input_path, input, &ctx) {
                    Ok(effective) => effective,
                    Err(error) => return runtime_error(error),
                };
                let duration = match wait_duration(wait, &effective, &ctx) {
                    Ok(duration) => duration,
                    Err(error) => return runtime_error(error),
                };
                if !stop.sleep(self.time.delay(duration)).await {
                    return Step::Interrupted;
                }
                match paths::select_owned(&wait.output_path, effective, &ctx) {
                    Ok(output) => flow(&wait.next, output),
                    Err(error) => runtime_error(error),
                }
            }
            State::Choice(choice) => {
                let effective = match paths::select_owned(&choice.input_path, input, &ctx) {
                    Ok(effective) => effective,
                    Err(error) => return runtime_error(error),
                };
                let rules = self
                    .machine
                    .choices
                    .get(name)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let next = rules
                    .iter()
                    .find(|(condition, _)| evaluate(condition, &effective, &ctx))
                    .map(|(_, next)| next.clone())
                    .or_else(|| choice.default.clone());
                let Some(next) = next else {
                    return Step::Failed {
                        error: "States.NoChoiceMatched".to_owned(),
                        cause: format!("no choice rule of {name} matched and it has no Default"),
                    };
                };
                match paths::select_owned(&choice.output_path, effective, &ctx) {
                    Ok(output) => Step::Next {
                        state: next,
                        output,
                    },
                    Err(error) => runtime_error(error),
                }
            }
            State::Succeed(succeed) => {
                let output =
                    paths::select_owned(&succeed.input_path, input, &ctx).and_then(|effective| {
                        paths::select_owned(&succeed.output_path, effective, &ctx)
                    });
                match output {
                    Ok(output) => Step::Succeeded(output),
                    Err(error) => runtime_error(error),
                }
            }
            State::Fail(fail) => Step::Failed {
                error: fail.error.clone().unwrap_or_default(),
                cause: fail.cause.clone().unwrap_or_default(),
            },
        }
    }

    async fn task(
        &self,
        context: &ExecutionContext,
        name: &str,
        task: &TaskState,
        input: Value,
        ctx: &dyn ContextObject,
        stop: &mut StopSignal,
    ) -> Step {
        let mut retries = vec![0u32; task.retry.len()];
        loop {
            if stop.is_stopped() {
                return Step::Interrupted;
            }
            // Made anew for each attempt rather than copied for it: a retry is rare, and a copy
            // of the saga's state for every invocation was a twentieth of the local saga's time.
            let effective = paths::select(&task.input_path, &input, ctx).and_then(|effective| {
                match &task.parameters {
                    Some(parameters) => paths::template(parameters, &effective, ctx),
                    None => Ok(effective.into_owned()),
                }
            });
            let effective = match effective {
                Ok(effective) => effective,
                Err(error) => return runtime_error(error),
            };
            let invocation = self.host.invoke(&task.resource, effective);
            let result = match task.timeout_seconds {
                Some(seconds) => {
                    match tokio::time::timeout(
                        self.time.timeout_seconds(seconds as f64),
                        invocation,
                    )
                    .await
                    {
                        Ok(result) => result,
                        Err(_) => Err(FunctionError::new(
                            STATES_TIMEOUT,
                            format!("{} did not answer within {seconds} s", task.resource),
                        )),
                    }
                }
                None => invocation.await,
            };
            let error = match result {
                Ok(result) => return task_output(task, input, result, ctx),
                Err(error) => error,
            };
            if let Some(index) = task
                .retry
                .iter()
                .position(|retrier| error_matches(&retrier.error_equals, &error.error_type))
            {
                let retrier = &task.retry[index];
                if retries[index] < retrier.max_attempts {
                    let delay = retry_delay(retrier, retries[index], rand::random::<f64>());
                    retries[index] += 1;
                    tracing::debug!(
                        execution = %context.execution_name,
                        state = name,
                        error = %error,
                        attempt = retries[index],
                        "retrying task"
                    );
                    if !stop.sleep(self.time.delay(delay)).await {
                        return Step::Interrupted;
                    }
                    continue;
                }
            }
            if let Some(catcher) = task
                .catch
                .iter()
                .find(|catcher| error_matches(&catcher.error_equals, &error.error_type))
            {
                let caught = json!({ "Error": error.error_type, "Cause": error.cause });
                return match paths::place(&catcher.result_path, input, caught) {
                    Ok(output) => Step::Next {
                        state: catcher.next.clone(),
                        output,
                    },
                    Err(error) => runtime_error(error),
                };
            }
            return Step::Failed {
                error: error.error_type,
                cause: error.cause,
            };
        }
    }
}

/// A Task's output from its `result`: `ResultSelector`, `ResultPath` into `input`, `OutputPath`.
fn task_output(task: &TaskState, input: Value, result: Value, ctx: &dyn ContextObject) -> Step {
    let output = (|| {
        let result = match &task.result_selector {
            Some(selector) => paths::template(selector, &result, ctx)?,
            None => result,
        };
        let output = paths::place(&task.result_path, input, result)?;
        paths::select_owned(&task.output_path, output, ctx)
    })();
    match output {
        Ok(output) => flow(&task.next, output),
        Err(error) => runtime_error(error),
    }
}

fn wait_duration(
    wait: &WaitState,
    input: &Value,
    ctx: &dyn ContextObject,
) -> Result<Duration, PathError> {
    let until = |text: &str| -> Result<Duration, PathError> {
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| PathError(format!("{text:?} is not an RFC 3339 timestamp: {e}")))?;
        let left = at - OffsetDateTime::now_utc();
        Ok(Duration::try_from(left).unwrap_or(Duration::ZERO))
    };
    if let Some(seconds) = wait.seconds {
        return Ok(Duration::from_secs_f64(seconds.max(0.0)));
    }
    if let Some(path) = &wait.seconds_path {
        let value = paths::read(path, input, ctx)?;
        let seconds = value
            .as_f64()
            .ok_or_else(|| PathError(format!("SecondsPath {path} is not a number")))?;
        return Ok(Duration::from_secs_f64(seconds.max(0.0)));
    }
    if let Some(timestamp) = &wait.timestamp {
        return until(timestamp);
    }
    if let Some(path) = &wait.timestamp_path {
        let value = paths::read(path, input, ctx)?;
        return until(value.as_str().unwrap_or_default());
    }
    Err(PathError(
        "a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath".into(),
    ))
}

/// `*` matches any run of characters; `\*` is a literal star.
fn string_matches(pattern: &str, text: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '\\')) => {
                if let (Some(part), Some(next)) = (parts.last_mut(), chars.next()) {
                    part.push(next);
                }
            }
            '*' => parts.push(String::new()),
            other => {
                if let Some(part) = parts.last_mut() {
                    part.push(other);
                }
            }
        }
    }
    wildcard(&parts, text)
}

/// Whether `text` is parts[0] * parts[1] * ... * parts[n-1].
pub(crate) fn wildcard(parts: &[String], text: &str) -> bool {
    match parts {
        [] => text.is_empty(),
        [only] => text == only,
        [first, middle @ .., last] => {
            let Some(rest) = text.strip_prefix(first.as_str()) else {
                return false;
            };
            if rest.len() < last.len() || !rest.ends_with(last.as_str()) {
                return false;
            }
            let mut rest = &rest[..rest.len() - last.len()];
            for part in middle {
                match rest.find(part.as_str()) {
                    Some(at) => rest = &rest[at + part.len()..],
                    None => return false,
                }
            }
            true
        }
    }
}

fn timestamp(value: &Value) -> Option<OffsetDateTime> {
    value
        .as_str()
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
}

/// Evaluates a Choice condition; a variable or operand path that selects nothing compares false.
pub fn evaluate(condition: &Condition, input: &Value, ctx: &dyn ContextObject) -> bool {
    match condition {
        Condition::And(all) => all.iter().all(|c| evaluate(c, input, ctx)),
        Condition::Or(any) => any.iter().any(|c| evaluate(c, input, ctx)),
        Condition::Not(inner) => !evaluate(inner, input, ctx),
        Condition::Compare {
            variable,
            operator,
            operand,
        } => {
            let value = paths::read(variable, input, ctx).ok();
            let expected = match operand {
                Operand::Literal(literal) => Some(literal.clone()),
                Operand::Path(path) => paths::read(path, input, ctx).ok(),
            };
            if *operator == Operator::IsPresent {
                return expected.and_then(|e| e.as_bool()) == Some(value.is_some());
            }
            let (Some(value), Some(expected)) = (value, expected) else {
                return false;
            };
            compare(*operator, &value, &expected)
        }
    }
}

fn compare(operator: Operator, value: &Value, expected: &Value) -> bool {
    use Operator::*;
    let is = |test: bool| expected.as_bool() == Some(test);
    match operator {
        IsNull => is(value.is_null()),
        IsNumeric => is(value.is_number()),
        IsString => is(value.is_string()),
        IsBoolean => is(value.is_boolean()),
        IsTimestamp => is(timestamp(value).is_some()),
        IsPresent => is(true),
        BooleanEquals => value.is_boolean() && value == expected,
        StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(text), Some(pattern)) => string_matches(pattern, text),
            _ => false,
        },
        StringEquals
        | StringLessThan
        | StringGreaterThan
        | StringLessThanEquals
        | StringGreaterThanEquals => match (value.as_str(), expected.as_str()) {
            (Some(a), Some(b)) => ordering_holds(operator, a.cmp(b)),
            _ => false,
        },
        NumericEquals
        | NumericLessThan
        | NumericGreaterThan
        | NumericLessThanEquals
        | NumericGreaterThanEquals => match (value.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a
                .partial_cmp(&b)
                .is_some_and(|o| ordering_holds(operator, o)),
            _ => false,
        },
        TimestampEquals
        | TimestampLessThan
        | TimestampGreaterThan
        | TimestampLessThanEquals
        | TimestampGreaterThanEquals => match (timestamp(value), timestamp(expected)) {
            (Some(a), Some(b)) => ordering_holds(operator, a.cmp(&b)),
            _ => false,
        },
    }
}

fn ordering_holds(operator: Operator, ordering: std::cmp::Ordering) -> bool {
    use Operator::*;
    use std::cmp::Ordering::*;
    match operator {
        StringEquals | NumericEquals | TimestampEquals => ordering == Equal,
        StringLessThan | NumericLessThan | TimestampLessThan => ordering == Less,
        StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => ordering == Greater,
        StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => {
            ordering != Greater
        }
        StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
            ordering != Less
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: f64, rate: f64, max_delay: Option<f64>, jitter: Option<&str>) -> Retrier {
        Retrier {
            error_equals: vec![STATES_ALL.into()],
            interval_seconds: interval,
            max_attempts: 5,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            jitter_strategy: jitter.map(str::to_owned),
            comment: None,
        }
    }

    #[test]
    fn backoff_grows_by_the_rate_and_stops_at_the_max_delay() {
        let r = retrier(1.0, 2.0, Some(5.0), None);
        let delays: Vec<f64> = (0..5)
            .map(|n| retry_delay(&r, n, 1.0).as_secs_f64())
            .collect();
        assert_eq!(delays, vec![1.0, 2.0, 4.0, 5.0, 5.0]);
    }

    #[test]
    fn full_jitter_scales_the_delay_by_a_random_fraction() {
        let r = retrier(2.0, 2.0, None, Some("FULL"));
        assert_eq!(retry_delay(&r, 1, 0.25), Duration::from_secs(1));
        assert_eq!(retry_delay(&r, 1, 0.0), Duration::ZERO);
    }

    #[test]
    fn wildcards_in_error_equals() {
        let all = vec![STATES_ALL.to_owned()];
        let task_failed = vec![STATES_TASK_FAILED.to_owned()];
        assert!(error_matches(&all, "PaymentDeclined"));
        assert!(error_matches(&all, STATES_TIMEOUT));
        assert!(!error_matches(&all, STATES_RUNTIME));
        assert!(error_matches(&task_failed, "Lambda.ServiceException"));
        assert!(!error_matches(&task_failed, STATES_TIMEOUT));
        assert!(error_matches(&["OutOfStock".to_owned()], "OutOfStock"));
        assert!(!error_matches(
            &["OutOfStock".to_owned()],
            "PaymentDeclined"
        ));
    }

    #[test]
    fn string_matches_supports_stars_and_escapes() {
        assert!(string_matches("log-*.txt", "log-2024.txt"));
        assert!(string_matches("*", ""));
        assert!(string_matches("a*b*c", "a-b-c"));
        assert!(!string_matches("a*b*c", "a-c"));
        assert!(string_matches(r"a\*", "a*"));
        assert!(!string_matches(r"a\*", "ab"));
    }

    #[test]
    fn time_scale_multiplies_durations() {
        let scale = TimeScale {
            delays: 0.001,
            timeouts: 0.5,
        };
        assert_eq!(scale.delay_seconds(2.0), Duration::from_millis(2));
        assert_eq!(scale.timeout_seconds(2.0), Duration::from_secs(1));
        assert_eq!(TimeScale::REAL.delay_seconds(2.0), Duration::from_secs(2));
    }
}
