//! The DynamoDB single-table key schema, shared by the storage backend and the `stacks` crate so
//! that the table the tests create and the table CloudFormation deploys cannot drift apart.
//!
//! Every key attribute is a string (`S`). The item layouts that use these keys are documented in
//! the `eventforge-store-dynamodb` crate.

/// A global secondary index with a string partition key and a string sort key, projecting all
/// attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalIndex {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// Partition key of the base table.
pub const PARTITION_KEY: &str = "PK";
/// Sort key of the base table.
pub const SORT_KEY: &str = "SK";

/// A user's orders (newest first) and a user's recent events feed.
pub const USER_INDEX: GlobalIndex = GlobalIndex {
    name: "GSI1",
    partition_key: "GSI1PK",
    sort_key: "GSI1SK",
};

/// The transactional outbox: a sparse index holding only events not yet published.
pub const OUTBOX_INDEX: GlobalIndex = GlobalIndex {
    name: "GSI2",
    partition_key: "GSI2PK",
    sort_key: "GSI2SK",
};

/// Every global secondary index of the table, in declaration order.
pub const GLOBAL_INDEXES: [GlobalIndex; 2] = [USER_INDEX, OUTBOX_INDEX];

/// Numeric epoch-seconds attribute after which DynamoDB's time-to-live deletes an item
/// (idempotency records).
pub const TIME_TO_LIVE_ATTRIBUTE: &str = "expires_at";
