//! [`DynamoStore`]: the [`Store`] trait over one DynamoDB table.

use crate::cursor;
use crate::error::DynamoError;
use crate::item::{self, Item, Key};
use crate::transaction::{self, MAX_TRANSACTION_ITEMS, Outcome, Part, Transaction, Write};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use eventforge_core::event::Event;
use eventforge_core::ids::{EventId, OrderId, Sku, UserId, WebhookId};
use eventforge_core::inventory::{InventoryItem, StockLine};
use eventforge_core::order::{Order, OrderStatus};
use eventforge_core::store::{
    CreateOutcome, IdempotencyClaim, MAX_PAGE_SIZE, MAX_RECENT_EVENTS, Page, ReleaseOutcome,
    ReserveOutcome, Store, StoreError, StoreResult, clamp_limit,
};
use eventforge_core::table_schema::{
    GlobalIndex, OUTBOX_INDEX, PARTITION_KEY, SORT_KEY, USER_INDEX,
};
use eventforge_core::webhook::Webhook;
use std::collections::HashMap;

/// The most keys one BatchGetItem call may ask for.
const BATCH_GET_LIMIT: usize = 100;
/// How often a read-then-conditional-write is tried when the item changes in between.
const OPTIMISTIC_ATTEMPTS: u32 = 8;

/// The [`Store`] over a DynamoDB table laid out as the crate documentation describes.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// A key-condition query: one partition of the table or of an index, items whose sort key starts
/// with `prefix`.
struct Query<'a> {
    index: Option<GlobalIndex>,
    partition: String,
    /// Every item of the partition when `None`.
    prefix: Option<&'a str>,
    newest_first: bool,
}

impl DynamoStore {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table: table_name.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, DynamoError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DynamoError::service("GetItem", e))?;
        Ok(output.item)
    }

    /// Consistent reads of many items; missing ones are left out, in no particular order.
    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, DynamoError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(Key::attributes).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| DynamoError::request("BatchGetItem", e))?,
            );
            let mut attempt = 0;
            while let Some(keys) = request.take() {
                attempt += 1;
                let mut output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| DynamoError::service("BatchGetItem", e))?;
                if let Some(items) = output
                    .responses
                    .as_mut()
                    .and_then(|responses| responses.remove(&self.table))
                {
                    found.extend(items);
                }
                request = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .filter(|rest| !rest.keys.is_empty());
                if request.is_some() {
                    if attempt >= OPTIMISTIC_ATTEMPTS {
                        return Err(DynamoError::Contention { attempts: attempt });
                    }
                    tokio::time::sleep(transaction::backoff(attempt)).await;
                }
            }
        }
        Ok(found)
    }

    /// One page of a query: at most `limit` items from `start` on, and where the next page starts.
    async fn query_page(
        &self,
        query: &Query<'_>,
        limit: Option<usize>,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), DynamoError> {
        let (pk, sk) = match query.index {
            Some(index) => (index.partition_key, index.sort_key),
            None => (PARTITION_KEY, SORT_KEY),
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk.to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), item::s(&query.partition))]);
        let condition = match query.prefix {
            Some(prefix) => {
                names.insert("#sk".to_owned(), sk.to_owned());
                values.insert(":prefix".to_owned(), item::s(prefix));
                "#pk = :pk AND begins_with(#sk, :prefix)"
            }
            None => "#pk = :pk",
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|index| index.name.to_owned()))
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!query.newest_first)
            // Global secondary indexes are eventually consistent and refuse consistent reads.
            .set_consistent_read(query.index.is_none().then_some(true))
            .set_limit(limit.map(|limit| i32::try_from(limit).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| DynamoError::service("Query", e))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }

    /// Up to `max` items of a query (every item when `max` is `None`), following pages.
    async fn query_all(
        &self,
        query: &Query<'_>,
        max: Option<usize>,
    ) -> Result<Vec<Item>, DynamoError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let remaining = max.map(|max| max - items.len());
            let (page, next) = self.query_page(query, remaining, start).await?;
            items.extend(page);
            match next {
                Some(next) if max.is_none_or(|max| items.len() < max) => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// Explains why a create was cancelled. `Ok(None)` means the idempotency claim vanished in
    /// between (its time-to-live ran out) and the create may be tried again.
    async fn explain_create(
        &self,
        order: &Order,
        claim: Option<&IdempotencyClaim>,
        mut failed: Vec<transaction::Failed>,
    ) -> StoreResult<Option<CreateOutcome>> {
        // The claim first: a retried request (same order, same claim) is a replay, even though
        // its order item exists too.
        failed.sort_by_key(|failure| failure.part != Part::Claim);
        for failure in failed {
            match failure.part {
                Part::Claim => {
                    let Some(claim) = claim else { continue };
                    let stored = match failure.old_item {
                        Some(item) => Some(item),
                        None => {
                            self.get(&Key::idempotency(&order.user_id, &claim.key))
                                .await?
                        }
                    };
                    let Some(stored) = stored else {
                        return Ok(None);
                    };
                    let (existing, fingerprint) = item::claim_from(&stored)?;
                    if fingerprint != claim.request_fingerprint {
                        return Err(StoreError::IdempotencyKeyReused { existing });
                    }
                    let original = self.get_order(existing).await?.ok_or_else(|| {
                        DynamoError::malformed(
                            Key::idempotency(&order.user_id, &claim.key).to_string(),
                            format!("the claim names order {existing}, which does not exist"),
                        )
                    })?;
                    return Ok(Some(CreateOutcome::Replayed(original)));
                }
                Part::Order => {
                    return Err(DynamoError::AlreadyExists(format!("order {}", order.id)).into());
                }
                Part::EventGuard(id) => return Err(DynamoError::DuplicateEvent(id).into()),
                _ => {}
            }
        }
        Err(DynamoError::malformed(
            Key::order(order.id).to_string(),
            "create was cancelled without a failed condition",
        )
        .into())
    }

    /// The domain error for a cancelled reservation, reading the inventory item when DynamoDB
    /// did not return it.
    async fn explain_reserve(
        &self,
        failed: Vec<transaction::Failed>,
    ) -> StoreResult<ReserveOutcome> {
        if failed.iter().any(|f| f.part == Part::Reservation) {
            return Ok(ReserveOutcome::AlreadyReserved);
        }
        for failure in failed {
            match failure.part {
                Part::Stock { sku, requested } => {
                    let current = match failure.old_item {
                        Some(item) => Some(item),
                        None => self.get(&Key::inventory(&sku)).await?,
                    };
                    let Some(current) = current else {
                        return Err(StoreError::UnknownSku(sku));
                    };
                    return Err(StoreError::InsufficientStock {
                        sku,
                        requested: u32::try_from(requested).unwrap_or(u32::MAX),
                        available: item::stock_of(&current)?,
                    });
                }
                Part::EventGuard(id) => return Err(DynamoError::DuplicateEvent(id).into()),
                _ => {}
            }
        }
        Err(DynamoError::malformed("(reservation)", "cancelled without a failed condition").into())
    }
}

/// Quantities per SKU, in the order SKUs first appear: one transaction may touch an item once.
fn quantities_by_sku(lines: &[StockLine]) -> Vec<(Sku, u64)> {
    let mut totals: Vec<(Sku, u64)> = Vec::new();
    for line in lines {
        match totals.iter_mut().find(|(sku, _)| *sku == line.sku) {
            Some((_, total)) => *total += u64::from(line.quantity),
            None => totals.push((line.sku.clone(), u64::from(line.quantity))),
        }
    }
    totals
}

#[derive(Clone, Copy)]
enum StockChange {
    /// Only where that much stock is left.
    Take,
    PutBack,
}

/// One conditional stock update per SKU; the inventory item must exist either way.
fn change_stock(
    tx: &mut Transaction<'_>,
    quantities: Vec<(Sku, u64)>,
    change: StockChange,
) -> Result<(), DynamoError> {
    let (expression, condition) = match change {
        StockChange::Take => (
            "SET #stock = #stock - :q",
            "attribute_exists(#pk) AND #stock >= :q",
        ),
        StockChange::PutBack => ("SET #stock = #stock + :q", "attribute_exists(#pk)"),
    };
    for (sku, quantity) in quantities {
        tx.update(
            &Key::inventory(&sku),
            expression,
            Write::when(condition)
                .names(&[("#pk", PARTITION_KEY), ("#stock", item::STOCK)])
                .value(":q", item::n(quantity)),
            Part::Stock {
                sku,
                requested: quantity,
            },
        )?;
    }
    Ok(())
}

fn guard_failure(failed: &[transaction::Failed]) -> Option<EventId> {
    failed.iter().find_map(|f| match f.part {
        Part::EventGuard(id) => Some(id),
        _ => None,
    })
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_order(
        &self,
        order: &Order,
        created: &Event,
        idempotency: Option<&IdempotencyClaim>,
    ) -> StoreResult<CreateOutcome> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = Transaction::new(&self.table);
            let not_there =
                || Write::when("attribute_not_exists(#pk)").names(&[("#pk", PARTITION_KEY)]);
            tx.put(item::order_item(order)?, not_there(), Part::Order)?;
            tx.record_event(created)?;
            if let Some(claim) = idempotency {
                let claim_item = item::idempotency_item(&order.user_id, claim, order.id);
                tx.put(claim_item, not_there(), Part::Claim)?;
            }
            match tx.run(&self.client).await? {
                Outcome::Committed => return Ok(CreateOutcome::Created(order.clone())),
                Outcome::Cancelled(failed) => {
                    if let Some(outcome) = self.explain_create(order, idempotency, failed).await? {
                        return Ok(outcome);
                    }
                    if attempt >= OPTIMISTIC_ATTEMPTS {
                        return Err(DynamoError::Contention { attempts: attempt }.into());
                    }
                }
            }
        }
    }

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        Ok(self
            .get(&Key::order(id))
            .await?
            .map(|item| item::order_from(&item))
            .transpose()?)
    }

    async fn order_history(&self, id: OrderId) -> StoreResult<Vec<Event>> {
        let query = Query {
            index: None,
            partition: item::order_partition(id),
            prefix: Some(item::EVENT_PREFIX),
            newest_first: false,
        };
        let items = self.query_all(&query, None).await?;
        Ok(items
            .iter()
            .map(item::event_from)
            .collect::<Result<_, _>>()?)
    }

    async fn order_with_history(&self, id: OrderId) -> StoreResult<Option<(Order, Vec<Event>)>> {
        // The order's partition holds the order item, its events and its reservation: one
        // consistent query reads them all, events first (their sort keys sort before `ORDER`).
        let query = Query {
            index: None,
            partition: item::order_partition(id),
            prefix: None,
            newest_first: false,
        };
        let items = self.query_all(&query, None).await?;
        let order_key = Key::order(id);
        let mut order = None;
        let mut history = Vec::new();
        for found in &items {
            let sort_key = item::string(found, SORT_KEY)?;
            if sort_key == order_key.sk {
                order = Some(item::order_from(found)?);
            } else if sort_key.starts_with(item::EVENT_PREFIX) {
                history.push(item::event_from(found)?);
            }
        }
        Ok(order.map(|order| (order, history)))
    }

    async fn list_orders(
        &self,
        user: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Order>> {
        let limit = clamp_limit(limit, MAX_PAGE_SIZE);
        let partition = item::user_partition(user);
        let start = cursor
            .map(|cursor| cursor::decode(cursor, &partition))
            .transpose()?;
        let query = Query {
            index: Some(USER_INDEX),
            partition,
            prefix: Some(item::ORDER_PREFIX),
            newest_first: true,
        };
        // One more than asked: a next page exists only if that one came back.
        let (mut items, last) = self.query_page(&query, Some(limit + 1), start).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor::encode).transpose()?
        } else {
            // Without the extra item a LastEvaluatedKey means the page was cut short by
            // DynamoDB's 1 MB page limit: continue where it stopped.
            last.as_ref().map(cursor::encode).transpose()?
        };
        let items = items
            .iter()
            .map(item::order_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn transition_order(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        event: &Event,
    ) -> StoreResult<Order> {
        let key = Key::order(id);
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            // The read only explains failures and builds the answer; the write is conditioned by
            // DynamoDB on the status still being `from`.
            let Some(current) = self.get_order(id).await? else {
                return Err(StoreError::OrderNotFound(id));
            };
            if current.status != from {
                return Err(StoreError::StatusConflict {
                    id,
                    expected: from,
                    actual: current.status,
                });
            }
            let mut tx = Transaction::new(&self.table);
            tx.update(
                &key,
                "SET #status = :to, #updated = :updated",
                Write::when("attribute_exists(#pk) AND #status = :from")
                    .names(&[
                        ("#pk", PARTITION_KEY),
                        ("#status", item::STATUS),
                        ("#updated", item::UPDATED_AT),
                    ])
                    .value(":to", item::s(to.as_str()))
                    .value(":from", item::s(from.as_str()))
                    .value(":updated", item::updated_at_value(event.occurred_at)?),
                Part::Order,
            )?;
            tx.record_event(event)?;
            match tx.run(&self.client).await? {
                Outcome::Committed => {
                    return Ok(Order {
                        status: to,
                        updated_at: event.occurred_at,
                        ..current
                    });
                }
                Outcome::Cancelled(failed) => {
                    if let Some(id) = guard_failure(&failed) {
                        return Err(DynamoError::DuplicateEvent(id).into());
                    }
                    // The order changed between the read and the write: read it again.
                }
            }
        }
        Err(DynamoError::Contention {
            attempts: OPTIMISTIC_ATTEMPTS,
        }
        .into())
    }

    async fn reserve_stock(
        &self,
        order_id: OrderId,
        lines: &[StockLine],
        event: &Event,
    ) -> StoreResult<ReserveOutcome> {
        let quantities = quantities_by_sku(lines);
        let mut tx = Transaction::new(&self.table);
        tx.put(
            item::reservation_item(order_id, lines, event)?,
            Write::when("attribute_not_exists(#pk)").names(&[("#pk", PARTITION_KEY)]),
            Part::Reservation,
        )?;
        tx.record_event(event)?;
        let max = MAX_TRANSACTION_ITEMS - tx.len();
        if quantities.len() > max {
            return Err(DynamoError::TooManySkus {
                skus: quantities.len(),
                max,
            }
            .into());
        }
        change_stock(&mut tx, quantities, StockChange::Take)?;
        match tx.run(&self.client).await? {
            Outcome::Committed => Ok(ReserveOutcome::Reserved),
            Outcome::Cancelled(failed) => self.explain_reserve(failed).await,
        }
    }

    async fn release_stock(&self, order_id: OrderId, event: &Event) -> StoreResult<ReleaseOutcome> {
        let key = Key::reservation(order_id);
        let Some(reservation) = self.get(&key).await? else {
            return Ok(ReleaseOutcome::NothingReserved);
        };
        if item::string(&reservation, item::STATE)? != item::RESERVED {
            return Ok(ReleaseOutcome::NothingReserved);
        }
        let lines = item::reservation_lines(&reservation)?;
        let mut tx = Transaction::new(&self.table);
        tx.update(
            &key,
            "SET #state = :released, #by = :event",
            Write::when("#state = :reserved")
                .names(&[("#state", item::STATE), ("#by", "released_by")])
                .value(":released", item::s(item::RELEASED))
                .value(":reserved", item::s(item::RESERVED))
                .value(":event", item::s(event.id.to_string())),
            Part::Reservation,
        )?;
        tx.record_event(event)?;
        change_stock(&mut tx, quantities_by_sku(&lines), StockChange::PutBack)?;
        match tx.run(&self.client).await? {
            Outcome::Committed => Ok(ReleaseOutcome::Released(lines)),
            Outcome::Cancelled(failed) => {
                if failed.iter().any(|f| f.part == Part::Reservation) {
                    // Released concurrently by someone else: this call released nothing.
                    return Ok(ReleaseOutcome::NothingReserved);
                }
                if let Some(id) = guard_failure(&failed) {
                    return Err(DynamoError::DuplicateEvent(id).into());
                }
                match failed.into_iter().find_map(|f| match f.part {
                    Part::Stock { sku, .. } => Some(sku),
                    _ => None,
                }) {
                    Some(sku) => Err(StoreError::UnknownSku(sku)),
                    None => Err(DynamoError::malformed(
                        key.to_string(),
                        "release cancelled without a failed condition",
                    )
                    .into()),
                }
            }
        }
    }

    async fn append_event(&self, event: &Event) -> StoreResult<()> {
        let mut tx = Transaction::new(&self.table);
        tx.record_event(event)?;
        match tx.run(&self.client).await? {
            // A failed guard means the event is already recorded: appending it again is a no-op.
            Outcome::Committed | Outcome::Cancelled(_) => Ok(()),
        }
    }

    async fn recent_events(&self, user: &UserId, limit: usize) -> StoreResult<Vec<Event>> {
        let query = Query {
            index: Some(USER_INDEX),
            partition: item::user_partition(user),
            prefix: Some(item::EVENT_PREFIX),
            newest_first: true,
        };
        let limit = clamp_limit(limit, MAX_RECENT_EVENTS);
        let items = self.query_all(&query, Some(limit)).await?;
        Ok(items
            .iter()
            .map(item::event_from)
            .collect::<Result<_, _>>()?)
    }

    async fn put_inventory(&self, inventory: &InventoryItem) -> StoreResult<()> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::inventory_item(inventory)?));
        transaction::retrying_conflicts(|| request.clone().send())
            .await
            .map_err(|e| DynamoError::service("PutItem", e))?;
        Ok(())
    }

    async fn get_inventory(&self, skus: &[Sku]) -> StoreResult<Vec<InventoryItem>> {
        let mut unique: Vec<&Sku> = skus.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.into_iter().map(Key::inventory).collect();
        let items = self.batch_get(keys).await?;
        Ok(items
            .iter()
            .map(item::inventory_from)
            .collect::<Result<_, _>>()?)
    }

    async fn list_inventory(&self) -> StoreResult<Vec<InventoryItem>> {
        let query = Query {
            index: Some(USER_INDEX),
            partition: item::INVENTORY_PARTITION.to_owned(),
            prefix: Some(item::SKU_PREFIX),
            newest_first: false,
        };
        let items = self.query_all(&query, None).await?;
        Ok(items
            .iter()
            .map(item::inventory_from)
            .collect::<Result<_, _>>()?)
    }

    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::webhook_item(webhook)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY);
        let result = transaction::retrying_conflicts(|| request.clone().send()).await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(DynamoError::AlreadyExists(format!("webhook {}", webhook.id)).into())
            }
            Err(e) => Err(DynamoError::service("PutItem", e).into()),
        }
    }

    async fn list_webhooks(&self, user: &UserId) -> StoreResult<Vec<Webhook>> {
        let query = Query {
            index: None,
            partition: item::user_partition(user),
            prefix: Some(item::WEBHOOK_PREFIX),
            newest_first: false,
        };
        let items = self.query_all(&query, None).await?;
        let mut webhooks: Vec<Webhook> = items
            .iter()
            .map(item::webhook_from)
            .collect::<Result<_, _>>()?;
        webhooks.sort_by_key(|webhook| (webhook.created_at, webhook.id));
        Ok(webhooks)
    }

    async fn delete_webhook(&self, user: &UserId, id: WebhookId) -> StoreResult<()> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Key::webhook(user, id).attributes()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY);
        let result = transaction::retrying_conflicts(|| request.clone().send()).await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::WebhookNotFound(id))
            }
            Err(e) => Err(DynamoError::service("DeleteItem", e).into()),
        }
    }

    async fn attach_receipt(&self, order_id: OrderId, key: &str, event: &Event) -> StoreResult<()> {
        let mut tx = Transaction::new(&self.table);
        tx.update(
            &Key::order(order_id),
            "SET #receipt = :receipt",
            Write::when("attribute_exists(#pk)")
                .names(&[("#pk", PARTITION_KEY), ("#receipt", item::RECEIPT_KEY)])
                .value(":receipt", item::s(key)),
            Part::Order,
        )?;
        tx.record_event(event)?;
        match tx.run(&self.client).await? {
            Outcome::Committed => Ok(()),
            Outcome::Cancelled(failed) => {
                if failed.iter().any(|f| f.part == Part::Order) {
                    return Err(StoreError::OrderNotFound(order_id));
                }
                match guard_failure(&failed) {
                    Some(id) => Err(DynamoError::DuplicateEvent(id).into()),
                    None => Err(DynamoError::malformed(
                        Key::order(order_id).to_string(),
                        "receipt cancelled without a failed condition",
                    )
                    .into()),
                }
            }
        }
    }

    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = Query {
            index: Some(OUTBOX_INDEX),
            partition: item::OUTBOX_PARTITION.to_owned(),
            prefix: None,
            newest_first: false,
        };
        let items = self.query_all(&query, Some(limit)).await?;
        Ok(items
            .iter()
            .map(item::event_from)
            .collect::<Result<_, _>>()?)
    }

    async fn mark_published(&self, ids: &[EventId]) -> StoreResult<()> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let guards = self
            .batch_get(unique.into_iter().map(Key::event_guard).collect())
            .await?;
        for guard in guards {
            let event_key = item::guarded_event_key(&guard)?;
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(event_key.attributes()))
                .update_expression("REMOVE #outbox_pk, #outbox_sk")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#outbox_pk", OUTBOX_INDEX.partition_key)
                .expression_attribute_names("#outbox_sk", OUTBOX_INDEX.sort_key);
            let result = transaction::retrying_conflicts(|| request.clone().send()).await;
            match result {
                Ok(_) => {}
                // The guard outlived its event (never the case for what this crate writes).
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(e) => return Err(DynamoError::service("UpdateItem", e).into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: u32) -> StockLine {
        StockLine {
            sku: sku.parse().expect("sku"),
            quantity,
        }
    }

    #[test]
    fn repeated_skus_become_one_write_with_the_summed_quantity() {
        let totals = quantities_by_sku(&[line("B", 1), line("A", 2), line("B", u32::MAX)]);
        assert_eq!(
            totals,
            vec![
                ("B".parse().expect("sku"), 1 + u64::from(u32::MAX)),
                ("A".parse().expect("sku"), 2)
            ]
        );
    }
}
