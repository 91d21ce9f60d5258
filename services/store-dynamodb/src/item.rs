//! The item layout: key formats and the conversions between domain values and DynamoDB items.
//! The crate-level documentation describes the layout as a table; this module is its only
//! implementation.

use crate::error::DynamoError;
use aws_sdk_dynamodb::types::AttributeValue;
use eventforge_core::event::Event;
use eventforge_core::ids::{EventId, OrderId, Sku, UserId, WebhookId};
use eventforge_core::inventory::{InventoryItem, StockLine};
use eventforge_core::order::{Order, OrderStatus};
use eventforge_core::store::IdempotencyClaim;
use eventforge_core::table_schema::{
    OUTBOX_INDEX, PARTITION_KEY, SORT_KEY, TIME_TO_LIVE_ATTRIBUTE, USER_INDEX,
};
use eventforge_core::webhook::Webhook;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The domain value, as JSON.
pub(crate) const DATA: &str = "data";
/// What kind of item this is: lets stream consumers and people reading the table tell items apart.
pub(crate) const ENTITY: &str = "entity";
pub(crate) const STATUS: &str = "status";
pub(crate) const UPDATED_AT: &str = "updated_at";
pub(crate) const RECEIPT_KEY: &str = "receipt_key";
pub(crate) const EVENT_TYPE: &str = "event_type";
pub(crate) const STOCK: &str = "stock";
pub(crate) const LINES: &str = "lines";
pub(crate) const STATE: &str = "state";
pub(crate) const ORDER_ID: &str = "order_id";
pub(crate) const FINGERPRINT: &str = "fingerprint";
pub(crate) const EVENT_PK: &str = "event_pk";
pub(crate) const EVENT_SK: &str = "event_sk";

pub(crate) const RESERVED: &str = "reserved";
pub(crate) const RELEASED: &str = "released";

/// GSI1 partition holding every inventory item, sorted by SKU (user partitions are `USER#...`).
pub(crate) const INVENTORY_PARTITION: &str = "INVENTORY";
/// GSI2 partition holding every unpublished event.
pub(crate) const OUTBOX_PARTITION: &str = "OUTBOX";

/// A primary key: partition and sort key values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub fn order(id: OrderId) -> Self {
        Self::new(order_partition(id), "ORDER")
    }

    pub fn reservation(id: OrderId) -> Self {
        Self::new(order_partition(id), "RESERVATION")
    }

    pub fn event_guard(id: EventId) -> Self {
        Self::new(format!("EVENTID#{id}"), "EVENTID")
    }

    pub fn inventory(sku: &Sku) -> Self {
        Self::new(format!("SKU#{sku}"), "ITEM")
    }

    pub fn webhook(user: &UserId, id: WebhookId) -> Self {
        Self::new(user_partition(user), format!("{WEBHOOK_PREFIX}{id}"))
    }

    pub fn idempotency(user: &UserId, key: &str) -> Self {
        // User and key sit in different key attributes, so no choice of either can collide with
        // another pair.
        Self::new(format!("IDEMPOTENCY#{user}"), format!("KEY#{key}"))
    }

    /// The key as the attributes of an item or a `Key` parameter.
    pub fn attributes(&self) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_owned(), s(&self.pk)),
            (SORT_KEY.to_owned(), s(&self.sk)),
        ])
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.pk, self.sk)
    }
}

pub(crate) const ORDER_PREFIX: &str = "ORDER#";
pub(crate) const EVENT_PREFIX: &str = "EVENT#";
pub(crate) const WEBHOOK_PREFIX: &str = "WEBHOOK#";
pub(crate) const SKU_PREFIX: &str = "SKU#";

pub(crate) fn order_partition(id: OrderId) -> String {
    format!("{ORDER_PREFIX}{id}")
}

pub(crate) fn user_partition(user: &UserId) -> String {
    format!("USER#{user}")
}

/// Milliseconds since the Unix epoch, zero-padded to 15 digits so that keys sort by time (15
/// digits reach past the year 9999, the last one `time` represents).
pub(crate) fn sortable_millis(at: OffsetDateTime) -> Result<String, DynamoError> {
    let millis = at.unix_timestamp_nanos() / 1_000_000;
    if millis < 0 {
        return Err(DynamoError::InstantBeforeEpoch(at));
    }
    Ok(format!("{millis:015}"))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn json<T: Serialize>(value: &T) -> Result<AttributeValue, DynamoError> {
    Ok(s(serde_json::to_string(value)?))
}

pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, DynamoError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(DynamoError::malformed(
            item_key_hint(item),
            format!("{name} is not a string"),
        )),
        None => Err(DynamoError::malformed(
            item_key_hint(item),
            format!("{name} is missing"),
        )),
    }
}

fn optional_string<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, DynamoError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => string(item, name).map(Some),
    }
}

pub(crate) fn number(item: &Item, name: &str) -> Result<u64, DynamoError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| {
            DynamoError::malformed(
                item_key_hint(item),
                format!("{name} is not a whole number: {value}"),
            )
        }),
        _ => Err(DynamoError::malformed(
            item_key_hint(item),
            format!("{name} is missing or not a number"),
        )),
    }
}

/// The item's key for error messages, or a placeholder when the key itself is malformed.
fn item_key_hint(item: &Item) -> String {
    match (item.get(PARTITION_KEY), item.get(SORT_KEY)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "(without a key)".to_owned(),
    }
}

fn parse_json<T: DeserializeOwned>(item: &Item, name: &str) -> Result<T, DynamoError> {
    serde_json::from_str(string(item, name)?)
        .map_err(|e| DynamoError::malformed(item_key_hint(item), format!("{name}: {e}")))
}

fn timestamp(at: OffsetDateTime) -> Result<String, DynamoError> {
    at.format(&Rfc3339)
        .map_err(|e| DynamoError::malformed("(new item)", format!("unformattable time: {e}")))
}

/// The order item. `data` holds the order as created; `status`, `updated_at` and `receipt_key`
/// are kept as attributes of their own so that updates are single-attribute writes conditioned
/// by DynamoDB, and they override the fields of `data` when the order is read.
pub(crate) fn order_item(order: &Order) -> Result<Item, DynamoError> {
    let mut item = Key::order(order.id).attributes();
    item.insert(ENTITY.into(), s("order"));
    item.insert(DATA.into(), json(order)?);
    item.insert(STATUS.into(), s(order.status.as_str()));
    item.insert(UPDATED_AT.into(), s(timestamp(order.updated_at)?));
    if let Some(receipt) = &order.receipt_key {
        item.insert(RECEIPT_KEY.into(), s(receipt));
    }
    item.insert(
        USER_INDEX.partition_key.into(),
        s(user_partition(&order.user_id)),
    );
    item.insert(
        USER_INDEX.sort_key.into(),
        s(format!(
            "{ORDER_PREFIX}{}#{}",
            sortable_millis(order.created_at)?,
            order.id
        )),
    );
    Ok(item)
}

pub(crate) fn order_from(item: &Item) -> Result<Order, DynamoError> {
    let mut order: Order = parse_json(item, DATA)?;
    order.status = string(item, STATUS)?
        .parse::<OrderStatus>()
        .map_err(|e| DynamoError::malformed(item_key_hint(item), e.to_string()))?;
    order.updated_at = OffsetDateTime::parse(string(item, UPDATED_AT)?, &Rfc3339)
        .map_err(|e| DynamoError::malformed(item_key_hint(item), format!("{UPDATED_AT}: {e}")))?;
    order.receipt_key = optional_string(item, RECEIPT_KEY)?.map(str::to_owned);
    Ok(order)
}

/// The value of `updated_at` as this crate stores it.
pub(crate) fn updated_at_value(at: OffsetDateTime) -> Result<AttributeValue, DynamoError> {
    Ok(s(timestamp(at)?))
}

/// Where an event item lives: with its order's items, or in a partition of its own.
pub(crate) fn event_key(event: &Event) -> Result<Key, DynamoError> {
    let pk = match event.order_id {
        Some(order) => order_partition(order),
        None => format!("{EVENT_PREFIX}{}", event.id),
    };
    Ok(Key::new(
        pk,
        format!(
            "{EVENT_PREFIX}{}#{}",
            sortable_millis(event.occurred_at)?,
            event.id
        ),
    ))
}

/// The event item, in the user's feed (GSI1) if it has a user, and in the outbox (GSI2) until
/// published.
pub(crate) fn event_item(event: &Event) -> Result<Item, DynamoError> {
    let key = event_key(event)?;
    let millis = sortable_millis(event.occurred_at)?;
    let mut item = key.attributes();
    item.insert(ENTITY.into(), s("event"));
    item.insert(DATA.into(), json(event)?);
    item.insert(EVENT_TYPE.into(), s(event.event_type.as_str()));
    if let Some(user) = &event.user_id {
        item.insert(USER_INDEX.partition_key.into(), s(user_partition(user)));
        item.insert(
            USER_INDEX.sort_key.into(),
            s(format!("{EVENT_PREFIX}{millis}#{}", event.id)),
        );
    }
    item.insert(OUTBOX_INDEX.partition_key.into(), s(OUTBOX_PARTITION));
    item.insert(
        OUTBOX_INDEX.sort_key.into(),
        s(format!("{millis}#{}", event.id)),
    );
    Ok(item)
}

pub(crate) fn event_from(item: &Item) -> Result<Event, DynamoError> {
    parse_json(item, DATA)
}

/// The guard item that makes event ids unique; it also points at the event item so that an
/// event can be found from its id alone.
pub(crate) fn event_guard_item(event: &Event) -> Result<Item, DynamoError> {
    let target = event_key(event)?;
    let mut item = Key::event_guard(event.id).attributes();
    item.insert(ENTITY.into(), s("event_id"));
    item.insert(EVENT_PK.into(), s(target.pk));
    item.insert(EVENT_SK.into(), s(target.sk));
    Ok(item)
}

pub(crate) fn guarded_event_key(guard: &Item) -> Result<Key, DynamoError> {
    Ok(Key::new(string(guard, EVENT_PK)?, string(guard, EVENT_SK)?))
}

/// The inventory item. `stock` is authoritative (reservations change only it); `data` holds the
/// rest of the item as last put.
pub(crate) fn inventory_item(inventory: &InventoryItem) -> Result<Item, DynamoError> {
    let mut item = Key::inventory(&inventory.sku).attributes();
    item.insert(ENTITY.into(), s("inventory"));
    item.insert(DATA.into(), json(inventory)?);
    item.insert(STOCK.into(), n(inventory.stock));
    item.insert(USER_INDEX.partition_key.into(), s(INVENTORY_PARTITION));
    item.insert(
        USER_INDEX.sort_key.into(),
        s(format!("{SKU_PREFIX}{}", inventory.sku)),
    );
    Ok(item)
}

pub(crate) fn inventory_from(item: &Item) -> Result<InventoryItem, DynamoError> {
    let mut inventory: InventoryItem = parse_json(item, DATA)?;
    inventory.stock = stock_of(item)?;
    Ok(inventory)
}

pub(crate) fn stock_of(item: &Item) -> Result<u32, DynamoError> {
    let stock = number(item, STOCK)?;
    u32::try_from(stock).map_err(|_| {
        DynamoError::malformed(item_key_hint(item), format!("stock {stock} exceeds u32"))
    })
}

pub(crate) fn reservation_item(
    order_id: OrderId,
    lines: &[StockLine],
    event: &Event,
) -> Result<Item, DynamoError> {
    let mut item = Key::reservation(order_id).attributes();
    item.insert(ENTITY.into(), s("reservation"));
    item.insert(LINES.into(), json(&lines)?);
    item.insert(STATE.into(), s(RESERVED));
    item.insert("reserved_by".into(), s(event.id.to_string()));
    Ok(item)
}

pub(crate) fn reservation_lines(item: &Item) -> Result<Vec<StockLine>, DynamoError> {
    parse_json(item, LINES)
}

pub(crate) fn webhook_item(webhook: &Webhook) -> Result<Item, DynamoError> {
    let mut item = Key::webhook(&webhook.user_id, webhook.id).attributes();
    item.insert(ENTITY.into(), s("webhook"));
    item.insert(DATA.into(), json(webhook)?);
    Ok(item)
}

pub(crate) fn webhook_from(item: &Item) -> Result<Webhook, DynamoError> {
    parse_json(item, DATA)
}

pub(crate) fn idempotency_item(user: &UserId, claim: &IdempotencyClaim, order_id: OrderId) -> Item {
    let mut item = Key::idempotency(user, &claim.key).attributes();
    item.insert(ENTITY.into(), s("idempotency"));
    item.insert(ORDER_ID.into(), s(order_id.to_string()));
    item.insert(FINGERPRINT.into(), s(&claim.request_fingerprint));
    item.insert(
        TIME_TO_LIVE_ATTRIBUTE.into(),
        n(claim.expires_at.unix_timestamp()),
    );
    item
}

/// The order a claim item points at, and the fingerprint of the request that made it.
pub(crate) fn claim_from(item: &Item) -> Result<(OrderId, String), DynamoError> {
    let order = string(item, ORDER_ID)?
        .parse::<OrderId>()
        .map_err(|e| DynamoError::malformed(item_key_hint(item), format!("{ORDER_ID}: {e}")))?;
    Ok((order, string(item, FINGERPRINT)?.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::event::EventType;
    use time::macros::datetime;

    fn sample_order() -> Order {
        Order {
            id: OrderId::generate(),
            user_id: UserId("user#with#hashes".into()),
            items: vec![],
            currency: "EUR".parse().expect("currency"),
            total_minor: 0,
            status: OrderStatus::Pending,
            created_at: datetime!(2026-11-24 12:00:00.123 +02:00),
            updated_at: datetime!(2026-11-24 12:00:00.123 +02:00),
            idempotency_key: Some("k".into()),
            receipt_key: None,
        }
    }

    #[test]
    fn sort_keys_order_by_time_as_strings() {
        let early = sortable_millis(datetime!(2001-09-09 01:46:39 UTC)).expect("key");
        let late = sortable_millis(datetime!(2001-09-09 01:46:40 UTC)).expect("key");
        assert!(early < late, "{early} < {late}");
        assert_eq!(late.len(), 15);
        assert!(sortable_millis(datetime!(9999-12-31 23:59:59.999 UTC)).is_ok());
        assert!(sortable_millis(datetime!(1969-12-31 23:59:59 UTC)).is_err());
    }

    #[test]
    fn an_order_round_trips_through_its_item() {
        let order = sample_order();
        let item = order_item(&order).expect("item");
        assert_eq!(order_from(&item).expect("order"), order);
    }

    #[test]
    fn the_mutable_attributes_override_the_stored_data() {
        let order = sample_order();
        let mut item = order_item(&order).expect("item");
        item.insert(STATUS.into(), s("CONFIRMED"));
        item.insert(RECEIPT_KEY.into(), s("receipts/1.pdf"));
        let read = order_from(&item).expect("order");
        assert_eq!(read.status, OrderStatus::Confirmed);
        assert_eq!(read.receipt_key.as_deref(), Some("receipts/1.pdf"));
    }

    #[test]
    fn events_without_an_order_or_user_get_their_own_partition_and_no_feed_entry() {
        let event = Event {
            id: EventId::generate(),
            event_type: EventType::PAYMENT_CHARGED,
            order_id: None,
            user_id: None,
            occurred_at: datetime!(2026-11-24 12:00:00 UTC),
            detail: serde_json::json!({}),
            trace: None,
        };
        let item = event_item(&event).expect("item");
        assert_eq!(
            item.get(PARTITION_KEY),
            Some(&s(format!("EVENT#{}", event.id)))
        );
        assert!(!item.contains_key(USER_INDEX.partition_key));
        assert_eq!(item.get(OUTBOX_INDEX.partition_key), Some(&s("OUTBOX")));
        assert_eq!(event_from(&item).expect("event"), event);
    }

    #[test]
    fn idempotency_keys_cannot_collide_across_users() {
        let a = Key::idempotency(&UserId("a#b".into()), "c");
        let b = Key::idempotency(&UserId("a".into()), "b#c");
        assert_ne!(a, b);
    }
}
