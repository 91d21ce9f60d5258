//! TransactWriteItems with the bookkeeping needed to explain a cancellation: every write carries
//! the [`Part`] it plays, so that a failed condition maps to the right domain error.

use crate::error::DynamoError;
use crate::item::{self, Item, Key};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use eventforge_core::event::Event;
use eventforge_core::ids::{EventId, Sku};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// DynamoDB's limit on the writes of one transaction.
pub(crate) const MAX_TRANSACTION_ITEMS: usize = 100;
/// How often a transaction cancelled by a concurrent one (or by throttling) is tried in all.
const ATTEMPTS: u32 = 12;

/// The role of one write in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Order,
    Event,
    EventGuard(EventId),
    Claim,
    Reservation,
    Stock { sku: Sku, requested: u64 },
}

/// A write whose condition failed, with the item as it was when the condition was evaluated
/// (DynamoDB returns it for `ReturnValuesOnConditionCheckFailure = ALL_OLD`; absent when there
/// was no item, and possibly absent on emulators).
#[derive(Debug)]
pub(crate) struct Failed {
    pub part: Part,
    pub old_item: Option<Item>,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Committed,
    /// Nothing was written because these conditions failed.
    Cancelled(Vec<Failed>),
}

/// One write of an expression-based transaction: names are `#name` placeholders, values
/// `:value` placeholders.
pub(crate) struct Write<'a> {
    pub condition: Option<&'a str>,
    pub names: &'a [(&'a str, &'a str)],
    pub values: Vec<(&'a str, AttributeValue)>,
}

impl Write<'_> {
    pub(crate) fn unconditional() -> Self {
        Write {
            condition: None,
            names: &[],
            values: Vec::new(),
        }
    }
}

impl<'a> Write<'a> {
    pub(crate) fn when(condition: &'a str) -> Self {
        Write {
            condition: Some(condition),
            names: &[],
            values: Vec::new(),
        }
    }

    pub(crate) fn names(mut self, names: &'a [(&'a str, &'a str)]) -> Self {
        self.names = names;
        self
    }

    pub(crate) fn value(mut self, placeholder: &'a str, value: AttributeValue) -> Self {
        self.values.push((placeholder, value));
        self
    }

    /// Asks for the item as it was when the condition failed, for conditional writes only.
    fn old_item_on_failure(&self) -> Option<ReturnValuesOnConditionCheckFailure> {
        self.condition
            .map(|_| ReturnValuesOnConditionCheckFailure::AllOld)
    }

    fn name_map(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(placeholder, name)| ((*placeholder).to_owned(), (*name).to_owned()))
                .collect()
        })
    }

    fn value_map(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(placeholder, value)| ((*placeholder).to_owned(), value.clone()))
                .collect()
        })
    }
}

pub(crate) struct Transaction<'t> {
    table: &'t str,
    items: Vec<TransactWriteItem>,
    parts: Vec<Part>,
}

impl<'t> Transaction<'t> {
    pub(crate) fn new(table: &'t str) -> Self {
        Self {
            table,
            items: Vec::new(),
            parts: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn put(
        &mut self,
        item: Item,
        write: Write<'_>,
        part: Part,
    ) -> Result<(), DynamoError> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(write.condition.map(str::to_owned))
            .set_expression_attribute_names(write.name_map())
            .set_expression_attribute_values(write.value_map())
            .set_return_values_on_condition_check_failure(write.old_item_on_failure())
            .build()
            .map_err(|e| DynamoError::request("TransactWriteItems", e))?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        self.parts.push(part);
        Ok(())
    }

    pub(crate) fn update(
        &mut self,
        key: &Key,
        expression: &str,
        write: Write<'_>,
        part: Part,
    ) -> Result<(), DynamoError> {
        let update = Update::builder()
            .table_name(self.table)
            .set_key(Some(key.attributes()))
            .update_expression(expression)
            .set_condition_expression(write.condition.map(str::to_owned))
            .set_expression_attribute_names(write.name_map())
            .set_expression_attribute_values(write.value_map())
            .set_return_values_on_condition_check_failure(write.old_item_on_failure())
            .build()
            .map_err(|e| DynamoError::request("TransactWriteItems", e))?;
        self.items
            .push(TransactWriteItem::builder().update(update).build());
        self.parts.push(part);
        Ok(())
    }

    /// Writes the event item (in the outbox) and the guard item that keeps its id unique.
    pub(crate) fn record_event(&mut self, event: &Event) -> Result<(), DynamoError> {
        self.put(
            item::event_item(event)?,
            Write::unconditional(),
            Part::Event,
        )?;
        self.put(
            item::event_guard_item(event)?,
            Write::when("attribute_not_exists(#pk)").names(&[("#pk", "PK")]),
            Part::EventGuard(event.id),
        )
    }

    /// Runs the transaction, trying again (with jittered exponential backoff) while it is
    /// cancelled only by concurrent transactions on the same items or by throttling.
    pub(crate) async fn run(self, client: &Client) -> Result<Outcome, DynamoError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = client
                .transact_write_items()
                .set_transact_items(Some(self.items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(Outcome::Committed),
                Err(error) => error,
            };
            let reasons = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                _ => return Err(DynamoError::service("TransactWriteItems", error)),
            };
            let failed: Vec<Failed> = reasons
                .iter()
                .zip(&self.parts)
                .filter(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"))
                .map(|(reason, part)| Failed {
                    part: part.clone(),
                    old_item: reason.item().cloned(),
                })
                .collect();
            if !failed.is_empty() {
                return Ok(Outcome::Cancelled(failed));
            }
            let transient = !reasons.is_empty()
                && reasons.iter().all(|reason| {
                    matches!(
                        reason.code(),
                        None | Some(
                            "None"
                                | "TransactionConflict"
                                | "ThrottlingError"
                                | "ProvisionedThroughputExceeded"
                        )
                    )
                });
            if !transient {
                return Err(DynamoError::service("TransactWriteItems", error));
            }
            if attempt >= ATTEMPTS {
                return Err(DynamoError::Contention { attempts: attempt });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

/// Sends a single-item write again while DynamoDB refuses it with
/// `TransactionConflictException` (the item is part of a transaction in progress), which the
/// SDK's own retries do not cover.
pub(crate) async fn retrying_conflicts<T, E, R, Fut>(
    send: impl Fn() -> Fut,
) -> Result<T, SdkError<E, R>>
where
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match send().await {
            Err(error)
                if attempt < ATTEMPTS && error.code() == Some("TransactionConflictException") =>
            {
                tokio::time::sleep(backoff(attempt)).await;
            }
            result => return result,
        }
    }
}

/// Exponential backoff from 10 ms, capped at 640 ms, with full jitter so that the writers that
/// collided do not collide again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 10u64 << attempt.min(6);
    let jitter = random_bits() % ceiling_ms.max(1);
    Duration::from_millis(jitter + 1)
}

/// A few random bits without a random-number dependency: the standard library's hasher is keyed
/// randomly per process and the clock varies between calls.
fn random_bits() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}
