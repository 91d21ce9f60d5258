//! The [Lambda Runtime API] on 127.0.0.1, so that a function binary built for Lambda runs here as
//! it runs on AWS: the binary polls for its next invocation, answers it or reports an error, and
//! stays up for the next one. The functions' tests and the cold-start benchmark start the real
//! binaries against it ([`FunctionProcess`]) and [`invoke`](RuntimeApi::invoke) them.
//!
//! Only the runtime side is emulated (next, response, error, init error); the invoke side is this
//! crate's API, not Lambda's HTTP Invoke API.
//!
//! [Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

use std::collections::HashMap;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

const API_VERSION: &str = "2018-06-01";
/// The deadline each invocation is given, as a Lambda timeout would.
const INVOCATION_DEADLINE: Duration = Duration::from_secs(60);
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the function reported an initialisation error: {0}")]
    InitError(Value),
    #[error("the function exited before answering the invocation")]
    Exited,
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// How the function answered one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    /// The error the function reported: `errorType` and `errorMessage`.
    Error {
        error_type: String,
        message: String,
    },
}

struct Pending {
    request_id: String,
    payload: Value,
    trace_header: Option<String>,
}

#[derive(Default)]
struct Shared {
    answers: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
    first_poll: Mutex<Option<Instant>>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>;

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    queue: Queue,
}

/// A Runtime API server; stops when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    invocations: mpsc::UnboundedSender<Pending>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Result<Self, EmulatorError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(EmulatorError::Listen)?;
        let address = listener.local_addr().map_err(EmulatorError::Listen)?;
        let (invocations, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let state = AppState {
            shared: shared.clone(),
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
        };
        let app = Router::new()
            .route(
                &format!("/{API_VERSION}/runtime/invocation/next"),
                get(next),
            )
            .route(
                &format!("/{API_VERSION}/runtime/invocation/{{id}}/response"),
                post(response),
            )
            .route(
                &format!("/{API_VERSION}/runtime/invocation/{{id}}/error"),
                post(error),
            )
            .route(
                &format!("/{API_VERSION}/runtime/init/error"),
                post(init_error),
            )
            .with_state(state);
        let server = tokio::spawn(async move {
            // The listener only fails when the process runs out of descriptors; the invocation
            // waiting on it then times out with a clear error.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            shared,
            invocations,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The environment Lambda gives a function named `function_name`, pointing at this API.
    pub fn environment(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// When the function first asked for an invocation: the end of its initialisation.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.shared.first_poll)
    }

    /// Hands `payload` to the function and waits for its answer. `trace_header` is what Lambda
    /// passes as `Lambda-Runtime-Trace-Id` (an X-Ray header).
    pub async fn invoke(
        &self,
        payload: Value,
        trace_header: Option<String>,
        within: Duration,
    ) -> Result<Outcome, EmulatorError> {
        if let Some(report) = lock(&self.shared.init_error).clone() {
            return Err(EmulatorError::InitError(report));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        lock(&self.shared.answers).insert(request_id.clone(), answer);
        let pending = Pending {
            request_id,
            payload,
            trace_header,
        };
        self.invocations
            .send(pending)
            .map_err(|_| EmulatorError::Exited)?;
        match tokio::time::timeout(within, answered).await {
            Err(_) => Err(EmulatorError::TimedOut(within)),
            Ok(Ok(outcome)) => Ok(outcome),
            // The answer was dropped: the function failed to initialise.
            Ok(Err(_)) => Err(match lock(&self.shared.init_error).clone() {
                Some(report) => EmulatorError::InitError(report),
                None => EmulatorError::Exited,
            }),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler cannot leave these maps half-updated: every use is one call.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(state): State<AppState>) -> Response {
    lock(&state.shared.first_poll).get_or_insert_with(Instant::now);
    let Some(pending) = state.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now() + INVOCATION_DEADLINE;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:local"),
    );
    if let Some(trace) = pending.trace_header {
        set("lambda-runtime-trace-id", trace);
    }
    (headers, axum::Json(pending.payload)).into_response()
}

fn answer(state: &AppState, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&state.shared.answers).remove(id) {
        Some(sender) => {
            let _ = sender.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    // A function may answer with any bytes; those that are not JSON are kept as a string.
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    answer(&state, &id, Outcome::Response(value))
}

async fn error(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let report: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |name: &str| {
        report
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let outcome = Outcome::Error {
        error_type: field("errorType"),
        message: field("errorMessage"),
    };
    answer(&state, &id, outcome)
}

async fn init_error(State(state): State<AppState>, body: axum::body::Bytes) -> StatusCode {
    let report = serde_json::from_slice(&body).unwrap_or(Value::Null);
    *lock(&state.shared.init_error) = Some(report);
    // Nothing will be answered: fail every waiting invocation now rather than at its timeout.
    lock(&state.shared.answers).clear();
    StatusCode::ACCEPTED
}

/// Set to show the output of the function processes the emulator starts (hidden otherwise).
pub const SHOW_LOGS_VARIABLE: &str = "EVENTFORGE_FUNCTION_LOGS";

/// A function binary running against a [`RuntimeApi`]; killed when dropped.
pub struct FunctionProcess {
    child: tokio::process::Child,
    spawned_at: Instant,
}

impl FunctionProcess {
    /// Starts `binary` as the function `function_name`, with Lambda's environment plus
    /// `environment` (the function's own variables and AWS endpoint settings).
    pub fn spawn<K, V>(
        api: &RuntimeApi,
        binary: &Path,
        function_name: &str,
        environment: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, EmulatorError>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let output = || {
            if std::env::var_os(SHOW_LOGS_VARIABLE).is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            }
        };
        let spawned_at = Instant::now();
        let child = tokio::process::Command::new(binary)
            .envs(api.environment(function_name))
            .envs(environment)
            .stdin(std::process::Stdio::null())
            .stdout(output())
            .stderr(output())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                binary: binary.display().to_string(),
                source,
            })?;
        Ok(Self { child, spawned_at })
    }

    /// When the process was started.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Whether the process has ended (a function never ends by itself).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    /// Plays the function's side of the protocol with plain HTTP, as a runtime client does.
    async fn poll(api: &RuntimeApi) -> (String, reqwest::header::HeaderMap, Value) {
        let next = reqwest::get(format!("http://{}{NEXT}", api.address()))
            .await
            .expect("next");
        let headers = next.headers().clone();
        let id = headers["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("id")
            .to_owned();
        (id, headers, next.json().await.expect("payload"))
    }

    fn post(api: &RuntimeApi, path: String, body: Value) -> impl Future<Output = ()> + use<> {
        let url = format!("http://{}/2018-06-01/runtime/{path}", api.address());
        async move {
            let status = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("post")
                .status();
            assert_eq!(status, 202);
        }
    }

    #[tokio::test]
    async fn an_invocation_reaches_the_function_with_its_trace_and_gets_its_response() {
        let api = RuntimeApi::start().await.expect("api");
        let function = async {
            let (id, headers, payload) = poll(&api).await;
            assert_eq!(headers["lambda-runtime-trace-id"], "Root=1-abc");
            assert!(headers.contains_key("lambda-runtime-deadline-ms"));
            post(
                &api,
                format!("invocation/{id}/response"),
                json!({ "echo": payload }),
            )
            .await;
        };
        let invocation = api.invoke(
            json!({ "n": 1 }),
            Some("Root=1-abc".to_owned()),
            Duration::from_secs(5),
        );
        let (outcome, ()) = tokio::join!(invocation, function);
        assert_eq!(
            outcome.expect("answered"),
            Outcome::Response(json!({ "echo": { "n": 1 } }))
        );
        assert!(api.first_poll().is_some());
    }

    #[tokio::test]
    async fn a_reported_error_keeps_its_type_and_message() {
        let api = RuntimeApi::start().await.expect("api");
        let function = async {
            let (id, _, _) = poll(&api).await;
            let report = json!({ "errorType": "PaymentDeclined", "errorMessage": "too much" });
            post(&api, format!("invocation/{id}/error"), report).await;
        };
        let invocation = api.invoke(json!({}), None, Duration::from_secs(5));
        let (outcome, ()) = tokio::join!(invocation, function);
        let expected = Outcome::Error {
            error_type: "PaymentDeclined".to_owned(),
            message: "too much".to_owned(),
        };
        assert_eq!(outcome.expect("answered"), expected);
    }

    #[tokio::test]
    async fn an_initialisation_error_fails_the_waiting_invocation_at_once() {
        let api = RuntimeApi::start().await.expect("api");
        let report = json!({ "errorType": "Config", "errorMessage": "TABLE_NAME is not set" });
        let function = post(&api, "init/error".to_owned(), report);
        let invocation = api.invoke(json!({}), None, Duration::from_secs(30));
        let (outcome, ()) = tokio::join!(invocation, function);
        match outcome {
            Err(EmulatorError::InitError(report)) => {
                assert_eq!(report["errorMessage"], "TABLE_NAME is not set")
            }
            other => panic!("expected the init error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unanswered_invocation_times_out() {
        let api = RuntimeApi::start().await.expect("api");
        let outcome = api
            .invoke(json!({}), None, Duration::from_millis(100))
            .await;
        assert!(matches!(outcome, Err(EmulatorError::TimedOut(_))));
    }
}
