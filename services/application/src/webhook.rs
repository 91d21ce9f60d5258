//! The webhook processor: every event a user's webhooks ask for is POSTed to each of them,
//! signed with the webhook's secret (HMAC-SHA256 over `timestamp.body`, the same scheme
//! `/webhooks/ingest` checks), with a timeout and retries with backoff.
//!
//! SSRF: the URL was checked when it was registered, but a public name can later resolve to a
//! private address. So the host is resolved here, every address is checked with
//! `core::webhook::is_forbidden_ip`, and the request goes to a checked address only (the client
//! is pinned to it; redirects are not followed). Loopback is allowed only under
//! `UrlPolicy::AllowLoopback` (`cargo xtask dev --allow-loopback-webhooks`, tests).
//!
//! TLS trusts the system's certificate store (`SSL_CERT_FILE`, `SSL_CERT_DIR` or the
//! distribution's bundle: on Lambda's `provided.al2023`, `/etc/pki/tls/certs/ca-bundle.crt`),
//! read once per process at the first delivery: a webhook may be served by any public CA.
//!
//! Each URL's outcome is recorded as `webhook.delivered` or `webhook.failed`. A delivery that
//! succeeded is never repeated when the message comes again; if any delivery failed the message
//! fails, so SQS retries it (and its DLQ receives it after maxReceiveCount).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use eventforge_core::signature;
use eventforge_core::store::MAX_RECENT_EVENTS;
use eventforge_core::webhook::{UrlPolicy, is_forbidden_ip, validate_url};
use eventforge_core::{Clock, Event, EventId, EventType, Store, Webhook};
use serde_json::json;
use url::Url;

use crate::derived_event_id;
use crate::message::{ProcessError, Processor};
use eventforge_topology::Queue;

pub const TIMESTAMP_HEADER: &str = "x-eventforge-timestamp";
pub const SIGNATURE_HEADER: &str = "x-eventforge-signature";
pub const EVENT_ID_HEADER: &str = "x-eventforge-event-id";
pub const EVENT_TYPE_HEADER: &str = "x-eventforge-event-type";

/// How hard one delivery tries within one processing of the message.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Waited before the second attempt, doubled before each later one.
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The store is a type parameter for the Lambda zip's sake, as in `SagaDeps`.
pub struct WebhookDeps<S: Store + ?Sized = dyn Store> {
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    pub transport: Arc<dyn WebhookTransport>,
    pub policy: UrlPolicy,
    pub retry: RetryPolicy,
}

/// Why one delivery did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("refused destination: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

fn outcome_id(event: &Event, hook: &Webhook, outcome: &str) -> EventId {
    derived_event_id(format!("{}:{}", event.id, hook.id), outcome)
}

#[async_trait::async_trait]
impl<S: Store + ?Sized + 'static> Processor for WebhookDeps<S> {
    const QUEUE: Queue = Queue::Webhook;

    async fn process(&self, event: Event) -> Result<(), ProcessError> {
        process(self, event).await
    }
}

/// Delivers `event` to each of its user's webhooks that want it.
pub async fn process<S: Store + ?Sized>(
    deps: &WebhookDeps<S>,
    event: Event,
) -> Result<(), ProcessError> {
    let Some(user) = event.user_id.clone() else {
        return Ok(());
    };
    let hooks: Vec<Webhook> = deps
        .store
        .list_webhooks(&user)
        .await?
        .into_iter()
        .filter(|hook| hook.wants(&event.event_type))
        .collect();
    if hooks.is_empty() {
        return Ok(());
    }
    // Outcomes are recorded on the order's history, or (for an ingested event about no order)
    // on the user's feed, where the newest ones are.
    let recorded = match event.order_id {
        Some(order) => deps.store.order_history(order).await?,
        None => deps.store.recent_events(&user, MAX_RECENT_EVENTS).await?,
    };
    let done: Vec<EventId> = recorded.into_iter().map(|e| e.id).collect();
    let mut failures = Vec::new();
    for hook in hooks {
        if done.contains(&outcome_id(&event, &hook, "webhook.delivered")) {
            continue;
        }
        let (outcome, kind, detail) = match deliver(deps, &hook, &event).await {
            Ok((status, attempts)) => (
                outcome_id(&event, &hook, "webhook.delivered"),
                EventType::WEBHOOK_DELIVERED,
                json!({ "webhook_id": hook.id, "url": hook.url, "status": status, "attempts": attempts, "about": event.event_type }),
            ),
            Err((error, attempts)) => {
                // The observability stack's metric filter counts these lines
                // (`stacks::platform::observability::WEBHOOK_FAILED_FILTER`).
                tracing::warn!(outcome = "webhook.failed", webhook_id = %hook.id, url = %hook.url, %error, attempts, "webhook delivery failed");
                failures.push(format!("{}: {error}", hook.url));
                (
                    outcome_id(&event, &hook, "webhook.failed"),
                    EventType::WEBHOOK_FAILED,
                    json!({ "webhook_id": hook.id, "url": hook.url, "error": error.to_string(), "attempts": attempts, "about": event.event_type }),
                )
            }
        };
        let record = Event {
            id: outcome,
            event_type: kind,
            order_id: event.order_id,
            user_id: Some(user.clone()),
            occurred_at: eventforge_core::event::truncate_to_millis(deps.clock.now()),
            detail,
            trace: event.trace,
        };
        deps.store.append_event(&record).await?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ProcessError::Failed(format!(
            "webhook deliveries failed: {}",
            failures.join("; ")
        )))
    }
}

/// POSTs the signed event to `hook` with retries: the status and attempts, or the last error.
async fn deliver<S: Store + ?Sized>(
    deps: &WebhookDeps<S>,
    hook: &Webhook,
    event: &Event,
) -> Result<(u16, u32), (DeliveryError, u32)> {
    let body = serde_json::to_vec(event).map_err(|e| (DeliveryError::Failed(e.to_string()), 0))?;
    let mut backoff = deps.retry.first_backoff;
    let mut last = DeliveryError::Failed("no attempt made".to_owned());
    for attempt in 1..=deps.retry.attempts.max(1) {
        match attempt_once(deps, hook, event, &body).await {
            Ok(status) => return Ok((status, attempt)),
            // A refused destination stays refused: retrying cannot help.
            Err(refused @ DeliveryError::Refused(_)) => return Err((refused, attempt)),
            Err(error) => last = error,
        }
        if attempt < deps.retry.attempts {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err((last, deps.retry.attempts.max(1)))
}

async fn attempt_once<S: Store + ?Sized>(
    deps: &WebhookDeps<S>,
    hook: &Webhook,
    event: &Event,
    body: &[u8],
) -> Result<u16, DeliveryError> {
    let url =
        validate_url(&hook.url, deps.policy).map_err(|e| DeliveryError::Refused(e.to_string()))?;
    let host = host_name(&url)
        .ok_or_else(|| DeliveryError::Refused("no host".to_owned()))?
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| DeliveryError::Refused("no port".to_owned()))?;
    let address = checked_address(&host, port, deps.policy).await?;
    let timestamp = deps.clock.now().unix_timestamp();
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (
            SIGNATURE_HEADER,
            signature::sign(hook.secret.as_bytes(), timestamp, body),
        ),
        (EVENT_ID_HEADER, event.id.to_string()),
        (EVENT_TYPE_HEADER, event.event_type.as_str().to_owned()),
    ];
    if let Some(trace) = event.trace {
        headers.push(("traceparent", trace.child().traceparent()));
    }
    let status = deps
        .transport
        .post(Delivery {
            url,
            address,
            headers,
            body: body.to_vec(),
            timeout: deps.retry.timeout,
        })
        .await?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(DeliveryError::Failed(format!("answered HTTP {status}")))
    }
}

/// One delivery's POST: to `address`, the address `url`'s host was checked to resolve to.
#[derive(Debug)]
pub struct Delivery {
    pub url: Url,
    pub address: SocketAddr,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// For the connection, TLS and the response's head.
    pub timeout: Duration,
}

/// Sends deliveries. What every transport owes the SSRF check: the connection goes to
/// `Delivery::address` only, the certificate is checked against the URL's host name, and
/// redirects are not followed.
#[async_trait::async_trait]
pub trait WebhookTransport: Send + Sync {
    /// The status the receiver answered with, or why there was none.
    async fn post(&self, delivery: Delivery) -> Result<u16, DeliveryError>;
}

/// Deliveries with reqwest, TLS from the system's store ([`delivery_tls`]): the local runtime's.
pub struct ReqwestTransport;

#[async_trait::async_trait]
impl WebhookTransport for ReqwestTransport {
    async fn post(&self, delivery: Delivery) -> Result<u16, DeliveryError> {
        let failed = |e: reqwest::Error| DeliveryError::Failed(e.to_string());
        let host = host_name(&delivery.url).unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(delivery_tls()?.as_ref().clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(delivery.timeout)
            // Connect to the address that was checked, whatever DNS says by now.
            .resolve(&host, delivery.address)
            .build()
            .map_err(failed)?;
        let mut request = client.post(delivery.url).body(delivery.body);
        for (name, value) in delivery.headers {
            request = request.header(name, value);
        }
        Ok(request.send().await.map_err(failed)?.status().as_u16())
    }
}

/// The TLS configuration of deliveries: the system's certificate store, read at the first
/// delivery and kept for the life of the process (reading and parsing it takes milliseconds).
/// A store with no usable certificate fails every HTTPS delivery, saying so.
pub fn delivery_tls() -> Result<Arc<rustls::ClientConfig>, DeliveryError> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (usable, _) = roots.add_parsable_certificates(found.certs);
        if usable == 0 {
            return Err(format!(
                "no CA certificate in the system's store to check the webhook's certificate with \
                 (install the CA certificates or set SSL_CERT_FILE){}",
                found
                    .errors
                    .first()
                    .map(|error| format!(": {error}"))
                    .unwrap_or_default()
            ));
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|error| error.to_string())
    })
    .clone()
    .map_err(DeliveryError::Failed)
}

/// The URL's host as a resolver and a certificate name it: an IPv6 literal without its brackets.
fn host_name(url: &Url) -> Option<&str> {
    url.host_str()
        .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
}

fn allowed(ip: IpAddr, policy: UrlPolicy) -> bool {
    !is_forbidden_ip(ip) || (policy == UrlPolicy::AllowLoopback && ip.is_loopback())
}

/// The first address of `host` that a webhook may reach; refused when every address is
/// forbidden (or the name does not resolve).
async fn checked_address(
    host: &str,
    port: u16,
    policy: UrlPolicy,
) -> Result<SocketAddr, DeliveryError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| DeliveryError::Failed(format!("cannot resolve {host}: {e}")))?
        .collect();
    addresses
        .iter()
        .copied()
        .find(|address| allowed(address.ip(), policy))
        .ok_or_else(|| {
            DeliveryError::Refused(format!(
                "{host} resolves to {} only: private, loopback, link-local or metadata addresses",
                addresses
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_is_refused_after_resolution_unless_explicitly_allowed() {
        let refused = checked_address("localhost", 8080, UrlPolicy::PublicHttpsOnly).await;
        assert!(
            matches!(refused, Err(DeliveryError::Refused(_))),
            "{refused:?}"
        );
        let allowed = checked_address("localhost", 8080, UrlPolicy::AllowLoopback).await;
        assert!(allowed.is_ok_and(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn the_metadata_address_is_refused_even_when_loopback_is_allowed() {
        let refused = checked_address("169.254.169.254", 80, UrlPolicy::AllowLoopback).await;
        assert!(
            matches!(refused, Err(DeliveryError::Refused(_))),
            "{refused:?}"
        );
        let private = checked_address("10.0.0.8", 443, UrlPolicy::AllowLoopback).await;
        assert!(
            matches!(private, Err(DeliveryError::Refused(_))),
            "{private:?}"
        );
    }
}
