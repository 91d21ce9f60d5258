//! Creating the table from the shared key schema, for tests and local tooling. On AWS the
//! `stacks` crate creates the same table from the same constants.

use crate::error::DynamoError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification,
};
use eventforge_core::table_schema::{
    GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY, TIME_TO_LIVE_ATTRIBUTE,
};
use std::time::{Duration, Instant};

/// How long a new table may take to become ACTIVE (on AWS, tables with indexes take tens of
/// seconds; emulators are immediate).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, DynamoError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| DynamoError::request("CreateTable", e))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, DynamoError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| DynamoError::request("CreateTable", e))
}

/// Creates the table (on-demand, every key attribute a string, both global indexes projecting
/// every attribute, a stream of new images), waits until it and its indexes are ACTIVE, then turns
/// on time-to-live on `expires_at`.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), DynamoError> {
    let mut attributes = vec![
        string_attribute(PARTITION_KEY)?,
        string_attribute(SORT_KEY)?,
    ];
    let mut indexes = Vec::new();
    for index in GLOBAL_INDEXES {
        attributes.push(string_attribute(index.partition_key)?);
        attributes.push(string_attribute(index.sort_key)?);
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition_key, KeyType::Hash)?)
                .key_schema(key(index.sort_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| DynamoError::request("CreateTable", e))?,
        );
    }
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .set_global_secondary_indexes(Some(indexes))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| DynamoError::request("CreateTable", e))?,
        )
        .send()
        .await
        .map_err(|e| DynamoError::service("CreateTable", e))?;
    wait_until_active(client, table_name).await?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TIME_TO_LIVE_ATTRIBUTE)
                .build()
                .map_err(|e| DynamoError::request("UpdateTimeToLive", e))?,
        )
        .send()
        .await
        .map_err(|e| DynamoError::service("UpdateTimeToLive", e))?;
    Ok(())
}

async fn wait_until_active(client: &Client, table_name: &str) -> Result<(), DynamoError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let described = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|e| DynamoError::service("DescribeTable", e))?;
        let table = described.table;
        let active = table.as_ref().is_some_and(|table| {
            table.table_status == Some(TableStatus::Active)
                && table
                    .global_secondary_indexes
                    .iter()
                    .flatten()
                    .all(|index| index.index_status == Some(IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if started.elapsed() > ACTIVE_TIMEOUT {
            return Err(DynamoError::TableNotActive {
                table: table_name.to_owned(),
                seconds: ACTIVE_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
