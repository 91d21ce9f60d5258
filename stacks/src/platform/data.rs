//! Data: the single DynamoDB table, built from the key schema in `eventforge_core::table_schema`
//! so the deployed table and the one the store tests create cannot drift apart; and the receipts
//! bucket.

use eventforge_core::table_schema::{
    GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY, TIME_TO_LIVE_ATTRIBUTE,
};
use serde_json::json;

use typed_cloudformation::generated::dynamodb::{self, table};
use typed_cloudformation::generated::s3;
use typed_cloudformation::stack::{Accepted, ResourceOptions};
use typed_cloudformation::synth::App;

use super::components::{AccessLogs, Bucket, Table, private_bucket};
use super::{Built, Config};

pub struct Outputs {
    pub table: Table,
    pub receipts: Bucket,
}

/// Every key attribute of the table and its indexes, once each, in declaration order.
fn key_attributes() -> Vec<&'static str> {
    let mut attributes = vec![PARTITION_KEY, SORT_KEY];
    for index in GLOBAL_INDEXES {
        for attribute in [index.partition_key, index.sort_key] {
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
    }
    attributes
}

pub fn table_properties() -> dynamodb::Table {
    dynamodb::Table::new(json!([
        { "AttributeName": PARTITION_KEY, "KeyType": "HASH" },
        { "AttributeName": SORT_KEY, "KeyType": "RANGE" },
    ]))
    .billing_mode("PAY_PER_REQUEST")
    .attribute_definitions(
        key_attributes()
            .into_iter()
            .map(|name| table::AttributeDefinition::new(name, "S"))
            .collect::<Vec<_>>(),
    )
    .global_secondary_indexes(
        GLOBAL_INDEXES
            .iter()
            .map(|index| {
                table::GlobalSecondaryIndex::new(
                    index.name,
                    vec![
                        table::GlobalSecondaryIndexKeySchema::new(index.partition_key, "HASH"),
                        table::GlobalSecondaryIndexKeySchema::new(index.sort_key, "RANGE"),
                    ],
                    table::Projection::new().projection_type("ALL"),
                )
            })
            .collect::<Vec<_>>(),
    )
    .point_in_time_recovery_specification(
        table::PointInTimeRecoverySpecification::new().point_in_time_recovery_enabled(true),
    )
    // The outbox publisher reads new items from the stream.
    .stream_specification(table::StreamSpecification::new("NEW_IMAGE"))
    .time_to_live_specification(
        table::TimeToLiveSpecification::new(true).attribute_name(TIME_TO_LIVE_ATTRIBUTE),
    )
}

/// The orders' keys: DynamoDB's own encryption, not a key of ours.
const TABLE_ENCRYPTED_BY_DYNAMODB: Accepted = Accepted {
    check: "CKV_AWS_119",
    reason: "DynamoDB encrypts the table at rest with an AWS-owned key. A customer-managed key \
             adds a KMS request to every uncached read and write, and a key disabled or scheduled \
             for deletion makes every order unreadable: a new way to lose the data that protects \
             nothing the table's IAM grants do not.",
};

pub fn stack(app: &App, config: &Config, access_logs: &AccessLogs) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "data",
        "EventForge data: the single table and the receipts bucket",
    );
    let table = stack.add_with(
        "Table",
        table_properties().table_name(config.table_name()),
        ResourceOptions::retain().accept(&[TABLE_ENCRYPTED_BY_DYNAMODB]),
    );
    // Versioned: a receipt overwritten or deleted by mistake (or by a bug in the processor) can be
    // recovered for 30 days.
    let (receipts, no_logs) = access_logs.bucket(
        private_bucket()
            .versioning_configuration(s3::bucket::VersioningConfiguration::new("Enabled"))
            .lifecycle_configuration(s3::bucket::LifecycleConfiguration::new(vec![
                s3::bucket::Rule::new("Enabled")
                    .id("expire-replaced-receipts")
                    .noncurrent_version_expiration(s3::bucket::NoncurrentVersionExpiration::new(
                        30,
                    )),
            ])),
        "receipts",
    );
    let receipts = stack.add_with(
        "ReceiptsBucket",
        receipts,
        ResourceOptions::retain().accept(&no_logs),
    );
    Built {
        stack,
        outputs: Outputs {
            table: Table {
                handle: table,
                index_names: GLOBAL_INDEXES.iter().map(|index| index.name).collect(),
            },
            receipts: Bucket { handle: receipts },
        },
    }
}
