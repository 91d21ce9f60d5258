//! The outbox publisher: every event item the store inserts reaches the table's stream, and
//! from there the bus, as the same EventBridge event the local runtime delivers (the source of
//! `eventforge_topology::event_source`, detail-type the event type, detail the event record).
//! The event's trace goes along as the X-Ray `TraceHeader`, so the saga and the processors
//! continue the order's trace.
//!
//! Published events leave the outbox index ([`Store::mark_published`]). A record whose event
//! could not be put is reported as a batch item failure; Lambda then retries from it, and since
//! every consumer is idempotent on the event id, publishing again what already went out is
//! harmless.
//!
//! The stream alone could still lose an event: its record expires after 24 hours, and the event
//! source mapping gives up on a batch after its retries. So every invocation also sweeps the
//! outbox: events still unpublished [`SWEEP_AFTER`] after they occurred are published with the
//! batch. An event stuck that way goes out with the next write to the table.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use eventforge_core::{Event, EventId, Store};
use eventforge_topology::event_source;
use serde_dynamo::AttributeValue;
use time::OffsetDateTime;

/// At most this many entries fit one PutEvents call.
const PUT_EVENTS_LIMIT: usize = 10;
/// How long an event may sit in the outbox before a sweep publishes it: far longer than the
/// stream takes to deliver its record (well under a second), so a sweep rarely races the stream
/// (and a race only publishes an event twice, which consumers ignore).
pub const SWEEP_AFTER: Duration = Duration::from_secs(60);
/// The oldest outbox events one invocation sweeps.
const SWEEP_LIMIT: usize = 25;

/// Where events go.
#[derive(Clone)]
pub struct Bus {
    pub client: aws_sdk_eventbridge::Client,
    pub name: String,
}

/// An outbox event to publish: from a stream record (with its sequence number, to retry from)
/// or swept from the outbox (none: a failure waits for the next sweep).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedEvent {
    pub sequence_number: Option<String>,
    pub event: Event,
}

fn string<'a>(item: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// The newly inserted event items of `records`, oldest first. Other items (orders, stock,
/// reservations) and other changes (the removal of the outbox attributes is a `MODIFY`) are
/// not events to publish. An event item whose record cannot be read is logged and left out:
/// no retry would make it readable.
pub fn outbox_events(records: &[EventRecord]) -> Vec<StreamedEvent> {
    records
        .iter()
        .filter(|record| record.event_name == "INSERT")
        .filter_map(|record| {
            let image = &record.change.new_image;
            if string(image, "entity") != Some("event") {
                return None;
            }
            let sequence_number = record.change.sequence_number.clone();
            let parsed = string(image, "data")
                .ok_or_else(|| "no data attribute".to_owned())
                .and_then(|data| serde_json::from_str::<Event>(data).map_err(|e| e.to_string()));
            match parsed {
                Ok(event) => Some(StreamedEvent {
                    sequence_number,
                    event,
                }),
                Err(error) => {
                    tracing::error!(?sequence_number, %error, "an event item of the stream is unreadable; it is not published");
                    None
                }
            }
        })
        .collect()
}

/// The PutEvents entry of `event`.
pub fn entry(bus: &Bus, event: &Event) -> PutEventsRequestEntry {
    let detail = serde_json::to_string(event).unwrap_or_default();
    PutEventsRequestEntry::builder()
        .event_bus_name(&bus.name)
        .source(event_source(event.event_type.is_platform_owned()))
        .detail_type(event.event_type.as_str())
        .detail(detail)
        .set_trace_header(event.trace.map(|trace| trace.xray_header()))
        .build()
}

/// The outbox events that occurred [`SWEEP_AFTER`] or longer before `now` and are not among
/// `streamed`. A store failure sweeps nothing: the next invocation tries again.
async fn swept_events<S: Store + ?Sized>(
    store: &S,
    streamed: &[StreamedEvent],
    now: OffsetDateTime,
) -> Vec<StreamedEvent> {
    let pending = match store.outbox_pending(SWEEP_LIMIT).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(%error, "the outbox could not be swept; the next invocation tries again");
            return Vec::new();
        }
    };
    pending
        .into_iter()
        .filter(|event| now - event.occurred_at >= SWEEP_AFTER)
        .filter(|event| !streamed.iter().any(|s| s.event.id == event.id))
        .map(|event| {
            tracing::warn!(event_id = %event.id, occurred_at = %event.occurred_at, "publishing an event the stream did not deliver");
            StreamedEvent {
                sequence_number: None,
                event,
            }
        })
        .collect()
}

/// Publishes the outbox events of `records`, and those the stream missed, and marks them
/// published; answers with the records to retry.
pub async fn publish<S: Store + ?Sized>(
    bus: &Bus,
    store: &S,
    records: &[EventRecord],
    now: OffsetDateTime,
) -> DynamoDbEventResponse {
    let mut events = outbox_events(records);
    let swept = swept_events(store, &events, now).await;
    events.extend(swept);
    let mut failed = Vec::new();
    let mut published: Vec<EventId> = Vec::new();
    for chunk in events.chunks(PUT_EVENTS_LIMIT) {
        let entries = chunk
            .iter()
            .map(|streamed| entry(bus, &streamed.event))
            .collect();
        match bus
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                // Results come in the order of the entries; a failed one has an error code.
                let results = output.entries();
                for (index, streamed) in chunk.iter().enumerate() {
                    match results.get(index).and_then(|r| r.error_code()) {
                        None if index < results.len() => published.push(streamed.event.id),
                        code => {
                            tracing::warn!(event_id = %streamed.event.id, error = ?code, "the bus refused the event; it will be retried");
                            failed.extend(streamed.sequence_number.clone());
                        }
                    }
                }
            }
            Err(error) => {
                let error = aws_sdk_eventbridge::error::DisplayErrorContext(error);
                tracing::warn!(%error, "PutEvents failed; the batch will be retried");
                failed.extend(chunk.iter().filter_map(|s| s.sequence_number.clone()));
            }
        }
    }
    if !published.is_empty()
        && let Err(error) = store.mark_published(&published).await
    {
        // The events are on the bus; a later sweep publishes them again, which consumers
        // ignore, and then marks them.
        tracing::warn!(%error, "published events could not be marked published");
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}
