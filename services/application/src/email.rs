//! The email processor: a message to the customer when an order is confirmed or fails.
//!
//! The message (subject and plain text) is handed to an [`EmailSink`]: SES on AWS, which sends
//! it from the verified sender identity, or an outbox folder of `.eml` files locally, written
//! with `lettre` (RFC 5322). Only the folder needs the whole message: building it in the Lambda
//! carried lettre's address and IDNA code into the email function's zip for nothing. The order platform stores no email addresses; the
//! customer's address comes from a [`Recipients`] directory when the email is sent: on AWS the
//! user pool (the customer's verified email, looked up by the order's user id), locally
//! [`ExampleAddresses`]. A customer without a verified address gets no email: the order's
//! history records `email.skipped` with the reason, and the message is not retried.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use eventforge_core::{Clock, Event, EventType, Store, UserId};
use lettre::message::{Mailbox, Message, header::ContentType};
use serde_json::json;

use crate::derived_event_id;
use crate::message::{ProcessError, Processor};
use eventforge_topology::Queue;

pub const SENDER: &str = "EventForge <orders@eventforge.local>";

/// Where a customer's email goes, as the user directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The customer's verified address.
    Verified(String),
    /// No address to send to, and why: no such user, no email, or an unverified one.
    Unreachable(String),
}

/// The directory of customers' addresses, by user id (the token's `sub`).
#[async_trait]
pub trait Recipients: Send + Sync {
    /// A failure to ask (the directory is unreachable) is an error and the message comes again;
    /// a customer without an address is [`Recipient::Unreachable`], which it will stay.
    async fn recipient(&self, user: &UserId) -> Result<Recipient, ProcessError>;
}

/// The local platform's directory: every user is `<user id>@example.com`. RFC 2606 reserves
/// `example.com` for examples, so no such address reaches anyone, and the `.eml` files of the
/// outbox folder show which user an email was for.
pub struct ExampleAddresses;

/// The domain of [`ExampleAddresses`].
pub const EXAMPLE_DOMAIN: &str = "example.com";

#[async_trait]
impl Recipients for ExampleAddresses {
    async fn recipient(&self, user: &UserId) -> Result<Recipient, ProcessError> {
        Ok(Recipient::Verified(format!(
            "{}@{EXAMPLE_DOMAIN}",
            sanitise_local_part(&user.0)
        )))
    }
}

/// One email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Names the file (locally) and deduplicates: the id of the event the email is about.
    pub id: String,
    pub to: String,
    pub subject: String,
    /// The body, plain text.
    pub text: String,
}

impl OutgoingEmail {
    /// The whole message from [`SENDER`], headers included (RFC 5322): what a mail server's
    /// outbox holds. An address that is not one is an error.
    pub fn rfc5322(&self) -> Result<Vec<u8>, ProcessError> {
        let invalid = |e: String| ProcessError::Failed(format!("cannot build the email: {e}"));
        let message = Message::builder()
            .from(
                SENDER
                    .parse::<Mailbox>()
                    .map_err(|e| invalid(e.to_string()))?,
            )
            .to(self
                .to
                .parse::<Mailbox>()
                .map_err(|e| invalid(e.to_string()))?)
            .subject(self.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(self.text.clone())
            .map_err(|e| invalid(e.to_string()))?;
        Ok(message.formatted())
    }
}

#[async_trait]
pub trait EmailSink: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), ProcessError>;
}

/// Writes each email as `<id>.eml` in a folder, as a mail server's outbox would hold it.
pub struct OutboxFolder {
    dir: PathBuf,
}

impl OutboxFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl EmailSink for OutboxFolder {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), ProcessError> {
        let failed =
            |e: std::io::Error| ProcessError::Failed(format!("{}: {e}", self.dir.display()));
        let message = email.rfc5322()?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        let path = self.dir.join(format!("{}.eml", email.id));
        // Write then rename: a reader never sees half an email.
        let partial = path.with_extension("eml.partial");
        tokio::fs::write(&partial, &message).await.map_err(failed)?;
        tokio::fs::rename(&partial, &path).await.map_err(failed)
    }
}

/// The store is a type parameter for the Lambda zip's sake, as in `SagaDeps`.
pub struct EmailDeps<S: Store + ?Sized = dyn Store> {
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    pub sink: Arc<dyn EmailSink>,
    pub recipients: Arc<dyn Recipients>,
}

/// Whether customers get an email about `event`.
fn is_emailed(event: &Event) -> bool {
    event.order_id.is_some()
        && event.user_id.is_some()
        && (event.event_type == EventType::ORDER_CONFIRMED
            || event.event_type == EventType::ORDER_FAILED)
}

/// The email for `event` to the address `to`, if it is one customers get an email about.
pub fn compose(event: &Event, to: &str) -> Option<OutgoingEmail> {
    let order_id = event.order_id.filter(|_| is_emailed(event))?;
    let (subject, text) = if event.event_type == EventType::ORDER_CONFIRMED {
        (
            format!("Your order {order_id} is confirmed"),
            format!(
                "Thank you for your order.\n\nOrder {order_id} is confirmed: total {} {}.\nYour PDF receipt will be in your dashboard shortly.\n",
                crate::receipt::amount(event.detail["total_minor"].as_u64().unwrap_or(0)),
                event.detail["currency"].as_str().unwrap_or(""),
            ),
        )
    } else if event.event_type == EventType::ORDER_FAILED {
        (
            format!("Your order {order_id} could not be completed"),
            format!(
                "We are sorry: order {order_id} failed ({}). Nothing was charged and any reserved stock was released.\n",
                event.detail["reason"].as_str().unwrap_or("no reason given"),
            ),
        )
    } else {
        return None;
    };
    Some(OutgoingEmail {
        id: event.id.to_string(),
        to: to.to_owned(),
        subject,
        text,
    })
}

/// User ids are Cognito subs (UUIDs) or dev names; anything else becomes `-`.
fn sanitise_local_part(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[async_trait]
impl<S: Store + ?Sized + 'static> Processor for EmailDeps<S> {
    const QUEUE: Queue = Queue::Email;

    async fn process(&self, event: Event) -> Result<(), ProcessError> {
        process(self, event).await
    }
}

/// Sends the email `event` calls for (if any) to the customer's verified address and records
/// `email.sent`; records `email.skipped` with the reason when the customer has none. A
/// redelivered message whose outcome is already recorded does nothing: the customer gets one
/// email per event. (A crash between sending and recording can still send twice; SES has no
/// idempotency key.)
pub async fn process<S: Store + ?Sized>(
    deps: &EmailDeps<S>,
    event: Event,
) -> Result<(), ProcessError> {
    if !is_emailed(&event) {
        return Ok(());
    }
    let (Some(order_id), Some(user)) = (event.order_id, event.user_id.clone()) else {
        return Ok(());
    };
    let sent_id = derived_event_id(event.id, "email.sent");
    let skipped_id = derived_event_id(event.id, "email.skipped");
    let history = deps.store.order_history(order_id).await?;
    if history
        .iter()
        .any(|recorded| recorded.id == sent_id || recorded.id == skipped_id)
    {
        return Ok(());
    }
    let (mut outcome, id) = match deps.recipients.recipient(&user).await? {
        Recipient::Verified(to) => {
            let Some(email) = compose(&event, &to) else {
                return Ok(());
            };
            deps.sink.send(&email).await?;
            let detail =
                json!({ "to": email.to, "subject": email.subject, "about": event.event_type });
            (
                Event::about_order(
                    EventType::EMAIL_SENT,
                    order_id,
                    user,
                    deps.clock.now(),
                    detail,
                ),
                sent_id,
            )
        }
        Recipient::Unreachable(reason) => {
            tracing::warn!(%order_id, reason, "no email sent: the customer has no verified address");
            let detail = json!({ "reason": reason, "about": event.event_type });
            (
                Event::about_order(
                    EventType::EMAIL_SKIPPED,
                    order_id,
                    user,
                    deps.clock.now(),
                    detail,
                ),
                skipped_id,
            )
        }
    };
    outcome = outcome.caused_by(event.trace);
    outcome.id = id;
    deps.store.append_event(&outcome).await?;
    Ok(())
}
