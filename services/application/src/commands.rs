//! The commands a user gives the platform: place an order, read one, register a webhook. Each
//! takes its dependencies explicitly and knows nothing of HTTP (the API is their caller); the
//! order's types and the rules a request must meet are the domain's (`eventforge_core::order`,
//! `eventforge_core::validation`, `eventforge_core::webhook`).

use eventforge_core::event::truncate_to_millis;
use eventforge_core::store::{CreateOutcome, IdempotencyClaim, StoreError};
use eventforge_core::validation::{
    self, CreateOrderRequest, MAX_IDEMPOTENCY_KEY_CHARS, ValidationErrors,
    is_well_formed_idempotency_key,
};
use eventforge_core::webhook::{
    self, DEFAULT_WEBHOOK_EVENTS, MAX_WEBHOOK_EVENT_TYPES, RegisterWebhookRequest, UrlPolicy,
    WebhookUrlError,
};
use eventforge_core::{
    Clock, Event, EventType, Order, OrderId, OrderStatus, Store, TraceContext, UserId, Webhook,
    WebhookId,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a replayed Idempotency-Key returns the original order.
pub const IDEMPOTENCY_TTL: time::Duration = time::Duration::hours(24);
/// Most webhooks one user may register.
pub const MAX_WEBHOOKS_PER_USER: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("the order is invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    #[error(
        "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
    )]
    MalformedIdempotencyKey,
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates and prices the request, then writes the order as PENDING with its `order.created`
/// event. With an Idempotency-Key, a repeat of the same request returns the first order. `trace`
/// is the span of the request: the order's whole trace descends from it.
pub async fn place_order(
    store: &dyn Store,
    clock: &dyn Clock,
    user: &UserId,
    request: &CreateOrderRequest,
    idempotency_key: Option<&str>,
    trace: Option<TraceContext>,
) -> Result<CreateOutcome, OrderError> {
    let now = truncate_to_millis(clock.now());
    let claim = idempotency_key
        .map(|key| {
            is_well_formed_idempotency_key(key)
                .then(|| IdempotencyClaim {
                    key: key.to_owned(),
                    request_fingerprint: fingerprint(request),
                    expires_at: now + IDEMPOTENCY_TTL,
                })
                .ok_or(OrderError::MalformedIdempotencyKey)
        })
        .transpose()?;
    let lines = validation::check_shape(request)?;
    let inventory = store.get_inventory(&lines.skus()).await?;
    let priced = validation::price(&lines, &inventory)?;
    let order = Order {
        id: OrderId::generate(),
        user_id: user.clone(),
        items: priced.items,
        currency: priced.currency,
        total_minor: priced.total_minor,
        status: OrderStatus::Pending,
        created_at: now,
        updated_at: now,
        idempotency_key: claim.as_ref().map(|c| c.key.clone()),
        receipt_key: None,
    };
    let created = Event::about_order(
        EventType::ORDER_CREATED,
        order.id,
        user.clone(),
        now,
        serde_json::json!({
            "items": order.items,
            "currency": order.currency,
            "total_minor": order.total_minor,
        }),
    )
    .caused_by(trace);
    Ok(store.create_order(&order, &created, claim.as_ref()).await?)
}

fn fingerprint(request: &CreateOrderRequest) -> String {
    // Serialising a struct is deterministic, so equal requests give equal fingerprints.
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

/// The order and its history, if it belongs to `user`. Another user's order is reported as not
/// found so that its existence is not revealed.
pub async fn order_of_user(
    store: &dyn Store,
    user: &UserId,
    id: OrderId,
) -> Result<(Order, Vec<Event>), OrderError> {
    store
        .order_with_history(id)
        .await?
        .filter(|(order, _)| &order.user_id == user)
        .ok_or(OrderError::NotFound)
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Url(#[from] WebhookUrlError),
    #[error("event_types must name 1 to {MAX_WEBHOOK_EVENT_TYPES} event types")]
    EventTypeCount,
    #[error("a user may register at most {MAX_WEBHOOKS_PER_USER} webhooks; delete one first")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers a webhook with a new signing secret.
pub async fn register_webhook(
    store: &dyn Store,
    clock: &dyn Clock,
    user: &UserId,
    request: &RegisterWebhookRequest,
    policy: UrlPolicy,
) -> Result<Webhook, WebhookError> {
    let url = webhook::validate_url(&request.url, policy)?;
    let event_types = request
        .event_types
        .clone()
        .unwrap_or_else(|| DEFAULT_WEBHOOK_EVENTS.to_vec());
    if !(1..=MAX_WEBHOOK_EVENT_TYPES).contains(&event_types.len()) {
        return Err(WebhookError::EventTypeCount);
    }
    if store.list_webhooks(user).await?.len() >= MAX_WEBHOOKS_PER_USER {
        return Err(WebhookError::TooMany);
    }
    let webhook = Webhook {
        id: WebhookId::generate(),
        user_id: user.clone(),
        url: url.to_string(),
        event_types,
        secret: new_signing_secret(),
        created_at: truncate_to_millis(clock.now()),
    };
    store.create_webhook(&webhook).await?;
    Ok(webhook)
}

fn new_signing_secret() -> String {
    // Two random UUIDs carry 244 bits from the operating system's generator.
    format!(
        "whsec_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}
