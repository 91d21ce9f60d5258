//! The email processor: a message to the customer when an order is confirmed or fails.
//!
//! The message is built with `lettre` (RFC 5322) and handed to an [`EmailSink`]: SES on AWS, an
//! outbox folder of `.eml` files locally. Customers are addressed by their user id at
//! [`RECIPIENT_DOMAIN`] because the order platform stores no email addresses (Cognito does);
//! the AWS binary swaps in the address from the user pool.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use eventforge_core::{Clock, Event, EventType, Store};
use lettre::message::{Mailbox, Message, header::ContentType};
use serde_json::json;

use crate::derived_event_id;
use crate::message::ProcessError;

pub const RECIPIENT_DOMAIN: &str = "customers.eventforge.local";
pub const SENDER: &str = "EventForge <orders@eventforge.local>";

/// One email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Names the file (locally) and deduplicates: the id of the event the email is about.
    pub id: String,
    pub to: String,
    pub subject: String,
    /// The whole message, headers included (RFC 5322).
    pub raw: Vec<u8>,
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
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        let path = self.dir.join(format!("{}.eml", email.id));
        // Write then rename: a reader never sees half an email.
        let partial = path.with_extension("eml.partial");
        tokio::fs::write(&partial, &email.raw)
            .await
            .map_err(failed)?;
        tokio::fs::rename(&partial, &path).await.map_err(failed)
    }
}

#[derive(Clone)]
pub struct EmailDeps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sink: Arc<dyn EmailSink>,
}

/// The email for `event`, if it is one customers get an email about.
pub fn compose(event: &Event) -> Result<Option<OutgoingEmail>, ProcessError> {
    let (Some(order_id), Some(user)) = (event.order_id, event.user_id.as_ref()) else {
        return Ok(None);
    };
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
        return Ok(None);
    };
    let to = format!("{}@{RECIPIENT_DOMAIN}", sanitise_local_part(&user.0));
    let invalid = |e: String| ProcessError::Failed(format!("cannot build the email: {e}"));
    let message = Message::builder()
        .from(
            SENDER
                .parse::<Mailbox>()
                .map_err(|e| invalid(e.to_string()))?,
        )
        .to(to.parse::<Mailbox>().map_err(|e| invalid(e.to_string()))?)
        .subject(subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Some(OutgoingEmail {
        id: event.id.to_string(),
        to,
        subject,
        raw: message.formatted(),
    }))
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

/// Sends the email `event` calls for (if any) and records `email.sent`. A redelivered message
/// whose `email.sent` is already recorded sends nothing: the customer gets one email per event.
/// (A crash between sending and recording can still send twice; SES has no idempotency key.)
pub async fn process(deps: &EmailDeps, event: Event) -> Result<(), ProcessError> {
    let Some(email) = compose(&event)? else {
        return Ok(());
    };
    // `compose` returns an email only for events about an order of a user.
    let (Some(order_id), Some(user)) = (event.order_id, event.user_id.clone()) else {
        return Ok(());
    };
    let sent_id = derived_event_id(event.id, "email.sent");
    let history = deps.store.order_history(order_id).await?;
    if history.iter().any(|recorded| recorded.id == sent_id) {
        return Ok(());
    }
    deps.sink.send(&email).await?;
    let mut sent = Event::about_order(
        EventType::EMAIL_SENT,
        order_id,
        user,
        deps.clock.now(),
        json!({ "to": email.to, "subject": email.subject, "about": event.event_type }),
    )
    .caused_by(event.trace);
    sent.id = sent_id;
    deps.store.append_event(&sent).await?;
    Ok(())
}
