//! A proxy on 127.0.0.1 in front of an AWS emulator (moto_server) that makes it fail as AWS
//! does, for tests of the deployer under AWS's faults:
//! - **throttling**: a share of calls, chosen by a seeded generator, is answered with the
//!   service's own throttling error (`Throttling`, `ThrottlingException`,
//!   `TooManyRequestsException`, `SlowDown`, `RequestLimitExceeded`) and never reaches the
//!   emulator;
//! - **slow stack operations**: moto applies a stack synchronously, CloudFormation takes
//!   minutes. `CreateStack`, `UpdateStack` and `DeleteStack` on a slow stack are held for a
//!   while, during which the stack shows `*_IN_PROGRESS`; the operation completes even when the
//!   caller is killed meanwhile, as it would on AWS;
//! - **failing creations**: moto cannot fail and roll back a creation. A creation of a failing
//!   stack is shown afterwards as CloudFormation leaves one: `ROLLBACK_COMPLETE`, with a
//!   `CREATE_FAILED` event naming the resource and the reason, until the stack is deleted.
//!
//! Every call is recorded ([`Call`]) with the fault it met, so a test can count what was injected
//! and what the deployer did (which stacks it created, which objects it uploaded).
//!
//! Hand-written rather than a general proxy library: the faults are the point, and each needs
//! the AWS protocol's own error shapes ([`answers`]).

pub mod answers;
pub mod call;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use answers::FailedResource;
pub use call::{Call, Fault};

/// The faults to inject; the default injects none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The share of calls (0 to 1) answered with a throttling error.
    pub throttle_share: f64,
    /// Seeds the choice of throttled calls, so a run can be repeated.
    pub seed: u64,
    /// The first calls of each service are throttled, whatever the share: every service the
    /// run uses meets throttling at least this often.
    pub throttle_first_calls: u32,
    /// How long each operation on these stacks takes, by stack name.
    pub slow_stacks: BTreeMap<String, Duration>,
    /// Creations of these stacks fail on this resource, by stack name.
    pub failing_creations: BTreeMap<String, FailedResource>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot start the proxy's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// A running proxy, stopped when dropped.
pub struct FaultProxy {
    endpoint: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    state: Mutex<ProxyState>,
}

struct ProxyState {
    faults: Faults,
    random: StdRng,
    calls: Vec<Call>,
    /// Calls seen per service, for [`Faults::throttle_first_calls`].
    seen_per_service: BTreeMap<String, u32>,
    /// What a stack shows instead of the emulator's status, by stack name.
    overlays: BTreeMap<String, Overlay>,
}

#[derive(Debug, Clone)]
struct Overlay {
    status: String,
    reason: Option<String>,
    /// When the overlay ends; `None`: until the stack is deleted.
    until: Option<Instant>,
    failure: Option<FailedResource>,
}

/// What to do with one call.
enum Decision {
    Forward,
    Throttle,
    Slow(Duration),
    FailCreation(FailedResource),
    AlreadyDeleting,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:<port>`) on a free port of 127.0.0.1.
    pub fn start(upstream: &str, faults: Faults) -> Result<Self, ProxyError> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(ProxyError::Listen)?;
        listener.set_nonblocking(true).map_err(ProxyError::Listen)?;
        let endpoint = format!(
            "http://{}",
            listener.local_addr().map_err(ProxyError::Listen)?
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            state: Mutex::new(ProxyState {
                random: StdRng::seed_from_u64(faults.seed),
                faults,
                calls: Vec::new(),
                seen_per_service: BTreeMap::new(),
                overlays: BTreeMap::new(),
            }),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(Self {
            endpoint,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Where clients reach the emulator through the proxy.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the faults (the generator is seeded again); what stacks show now stays.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.shared.lock();
        state.random = StdRng::seed_from_u64(faults.seed);
        state.seen_per_service.clear();
        state.faults = faults;
    }

    /// Every call so far, in the order they arrived.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Waits until the calls so far satisfy `done`; `false` when `timeout` passed first.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Call]) -> bool) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if done(&self.shared.lock().calls) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ProxyState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn decide(&self, call: &Call) -> Decision {
        let mut state = self.lock();
        let now = Instant::now();
        state
            .overlays
            .retain(|_, overlay| overlay.until.is_none_or(|until| until > now));
        if !call.service.is_empty() {
            let first_calls = state.faults.throttle_first_calls;
            let seen = state
                .seen_per_service
                .entry(call.service.clone())
                .or_default();
            *seen += 1;
            let among_first = *seen <= first_calls;
            let share = state.faults.throttle_share;
            if among_first || (share > 0.0 && state.random.gen_bool(share.min(1.0))) {
                return Decision::Throttle;
            }
        }
        let Some(stack) = call
            .stack
            .as_deref()
            .filter(|_| call.service == "cloudformation")
        else {
            return Decision::Forward;
        };
        let stack = stack_name(stack);
        match call.action.as_str() {
            "DeleteStack"
                if state
                    .overlays
                    .get(stack)
                    .is_some_and(|overlay| overlay.status == "DELETE_IN_PROGRESS") =>
            {
                Decision::AlreadyDeleting
            }
            "CreateStack" if state.faults.failing_creations.contains_key(stack) => {
                Decision::FailCreation(state.faults.failing_creations[stack].clone())
            }
            "CreateStack" | "UpdateStack" | "DeleteStack" => {
                match state.faults.slow_stacks.get(stack) {
                    Some(duration) => Decision::Slow(*duration),
                    None => {
                        if call.action == "DeleteStack" {
                            // A deleted stack shows what the emulator has again.
                            state.overlays.remove(stack);
                        }
                        Decision::Forward
                    }
                }
            }
            _ => Decision::Forward,
        }
    }

    fn show(&self, stack: &str, overlay: Overlay) {
        self.lock().overlays.insert(stack.to_owned(), overlay);
    }

    async fn forward(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path_and_query().map_or("/", |path| path.as_str());
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in headers {
            if name != header::HOST && name != header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(error) => {
                return (StatusCode::BAD_GATEWAY, format!("fault proxy: {error}")).into_response();
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }

    /// A stack operation that takes `duration`: a creation or update is applied at once and
    /// shown in progress until it ends; a deletion shows in progress and is applied at the end.
    async fn slow(
        self: Arc<Self>,
        action: String,
        stack: String,
        duration: Duration,
        request: (Method, Uri, HeaderMap, Bytes),
    ) -> Response {
        let (method, uri, headers, body) = request;
        let in_progress = |status: &str| Overlay {
            status: status.to_owned(),
            reason: None,
            until: Some(Instant::now() + duration),
            failure: None,
        };
        if action == "DeleteStack" {
            self.show(&stack, in_progress("DELETE_IN_PROGRESS"));
            tokio::time::sleep(duration).await;
            let response = self.forward(method, &uri, &headers, body).await;
            self.lock().overlays.remove(&stack);
            return response;
        }
        let response = self.forward(method, &uri, &headers, body).await;
        if response.status().is_success() {
            let status = if action == "CreateStack" {
                "CREATE_IN_PROGRESS"
            } else {
                "UPDATE_IN_PROGRESS"
            };
            self.show(&stack, in_progress(status));
            tokio::time::sleep(duration).await;
        }
        response
    }
}

/// The stack name of a name or a stack ARN (`arn:...:stack/<name>/<uuid>`).
fn stack_name(name_or_id: &str) -> &str {
    if name_or_id.starts_with("arn:") {
        name_or_id.split('/').nth(1).unwrap_or(name_or_id)
    } else {
        name_or_id
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::BAD_REQUEST, "fault proxy: unreadable body").into_response();
    };
    let mut call = Call::classify(&parts.method, &parts.uri, &parts.headers, &body);
    let request = (parts.method, parts.uri, parts.headers, body);
    let decision = shared.decide(&call);
    call.fault = match &decision {
        Decision::Forward => None,
        Decision::Throttle => Some(Fault::Throttled),
        Decision::Slow(_) => Some(Fault::Slowed),
        Decision::FailCreation(_) => Some(Fault::FailedCreation),
        Decision::AlreadyDeleting => Some(Fault::AlreadyDeleting),
    };
    // Recorded as it arrives: a test waits for a slowed operation to start, not to end.
    shared.lock().calls.push(call.clone());
    let stack = stack_name(call.stack.as_deref().unwrap_or_default()).to_owned();
    match decision {
        Decision::Throttle => answers::throttled(&call.service),
        Decision::AlreadyDeleting => answers::delete_stack_accepted(),
        Decision::Slow(duration) => {
            // Spawned: the operation completes even when the caller goes away meanwhile.
            let operation = tokio::spawn(shared.clone().slow(
                call.action.clone(),
                stack,
                duration,
                request,
            ));
            operation
                .await
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Decision::FailCreation(failed) => {
            let (method, uri, headers, body) = request;
            let response = shared.forward(method, &uri, &headers, body).await;
            if response.status().is_success() {
                shared.show(
                    &stack,
                    Overlay {
                        status: "ROLLBACK_COMPLETE".to_owned(),
                        reason: Some(format!(
                            "The following resource(s) failed to create: [{}]. Rollback requested by user.",
                            failed.logical_id
                        )),
                        until: None,
                        failure: Some(failed),
                    },
                );
            }
            response
        }
        Decision::Forward => {
            let (method, uri, headers, body) = request;
            let response = shared.forward(method, &uri, &headers, body).await;
            if call.service == "cloudformation" {
                overlaid(&shared, &call, response).await
            } else {
                response
            }
        }
    }
}

/// A CloudFormation describe response as the stacks' overlays make it.
async fn overlaid(shared: &Shared, call: &Call, response: Response) -> Response {
    if call.action != "DescribeStacks" && call.action != "DescribeStackEvents" {
        return response;
    }
    let overlays = shared.lock().overlays.clone();
    if overlays.is_empty() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut xml = String::from_utf8_lossy(&body).into_owned();
    if call.action == "DescribeStacks" {
        for (stack, overlay) in &overlays {
            xml =
                answers::with_stack_status(&xml, stack, &overlay.status, overlay.reason.as_deref());
        }
    } else if let Some(stack) = call.stack.as_deref().map(stack_name)
        && let Some(failure) = overlays
            .get(stack)
            .and_then(|overlay| overlay.failure.as_ref())
    {
        xml = answers::with_failure_event(&xml, stack, failure);
    }
    Response::from_parts(parts, Body::from(xml))
}
