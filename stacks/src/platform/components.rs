//! The platform's building blocks: a resource (or a few) plus the permissions that using it
//! requires. Each `grant_*` adds exactly the actions that use needs on exactly its ARNs.

use typed_cloudformation::generated::cloudfront::distribution as cf;
use typed_cloudformation::generated::{dynamodb, events, logs, s3, sqs};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::iam::{Grants, Unscoped};
use typed_cloudformation::stack::Accepted;
use typed_cloudformation::sub;
use typed_cloudformation::value::{Value, select, split};

/// Every log group keeps CloudWatch Logs' own encryption.
pub const LOGS_ENCRYPTED_BY_CLOUDWATCH: Accepted = Accepted {
    check: "CKV_AWS_158",
    reason: "CloudWatch Logs encrypts every log group at rest with its own key. A customer-managed \
             key needs a key policy admitting logs.<region>.amazonaws.com and costs per key and \
             request; the logs hold ids and outcomes, no secrets or card data.",
};

/// Where prod's S3 server access logs and CloudFront standard logs go. Dev has no log bucket:
/// its data is test data, and a bucket of logs nobody reads is cost without use.
#[derive(Debug, Clone)]
pub struct AccessLogs {
    pub bucket: Option<Handle<s3::Bucket>>,
}

const NO_ACCESS_LOGS_IN_DEV: &str = "Dev holds test data only; prod writes access logs to its \
                                     access-log bucket (the stage decides, Config::access_logs).";

impl AccessLogs {
    /// `bucket` with server access logging under `prefix` when there is a log bucket; otherwise
    /// the finding it then accepts.
    pub fn bucket(&self, bucket: s3::Bucket, prefix: &str) -> (s3::Bucket, Vec<Accepted>) {
        match &self.bucket {
            Some(logs) => (
                bucket.logging_configuration(
                    s3::bucket::LoggingConfiguration::new()
                        .destination_bucket_name(logs.reference())
                        .log_file_prefix(format!("s3/{prefix}/")),
                ),
                Vec::new(),
            ),
            None => (
                bucket,
                vec![Accepted {
                    check: "CKV_AWS_18",
                    reason: NO_ACCESS_LOGS_IN_DEV,
                }],
            ),
        }
    }

    /// A distribution with standard logging under `prefix` when there is a log bucket;
    /// otherwise the finding it then accepts.
    pub fn distribution(
        &self,
        distribution: cf::DistributionConfig,
        prefix: &str,
    ) -> (cf::DistributionConfig, Vec<Accepted>) {
        match &self.bucket {
            Some(logs) => (
                distribution.logging(
                    // CloudFront names the bucket by its global domain name, not the regional one.
                    cf::Logging::new()
                        .bucket(logs.domain_name())
                        .include_cookies(false)
                        .prefix(format!("cloudfront/{prefix}/")),
                ),
                Vec::new(),
            ),
            None => (
                distribution,
                vec![Accepted {
                    check: "CKV_AWS_86",
                    reason: NO_ACCESS_LOGS_IN_DEV,
                }],
            ),
        }
    }
}

/// The single table and the names of its global secondary indexes.
#[derive(Debug, Clone)]
pub struct Table {
    pub handle: Handle<dynamodb::Table>,
    pub index_names: Vec<&'static str>,
}

impl Table {
    /// The table's ARN and the ARN of each of its indexes: queries on an index need the index's
    /// own ARN.
    fn arns(&self) -> Vec<Value<String>> {
        let mut arns = vec![self.handle.arn()];
        arns.extend(
            self.index_names
                .iter()
                .map(|index| sub![self.handle.arn(), "/index/", *index]),
        );
        arns
    }

    pub fn grant_read(&self, grants: &mut Grants) {
        grants.allow(
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:Query",
            ],
            self.arns(),
        );
    }

    /// Reads plus item writes, including the conditional and transactional writes the store
    /// uses (transactions need the per-item actions, there is no separate permission).
    pub fn grant_read_write(&self, grants: &mut Grants) {
        self.grant_read(grants);
        grants.allow(
            &[
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            vec![self.handle.arn()],
        );
    }

    /// Reading the table's stream, for an event source mapping. Scoped to the streams of this
    /// table (`<table arn>/stream/*`): a stream ARN carries a label that changes whenever the
    /// stream is re-enabled. `ListStreams` has no resource level (parliament's finding: scoped to
    /// the streams it matched no request), so it is unscoped.
    pub fn grant_stream_read(&self, grants: &mut Grants) {
        grants.allow(
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            vec![sub![self.handle.arn(), "/stream/*"]],
        );
        grants.allow_unscoped(Unscoped::StreamListing);
    }
}

/// A work queue with its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueueWithDlq {
    pub name: &'static str,
    pub queue: Handle<sqs::Queue>,
    pub dlq: Handle<sqs::Queue>,
}

impl QueueWithDlq {
    /// What a Lambda event source mapping needs to poll, delete and extend messages.
    pub fn grant_consume(&self, grants: &mut Grants) {
        grants.allow(
            &[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            vec![self.queue.arn()],
        );
    }

    /// The dead-letter queue's name, taken from its ARN (`arn:partition:sqs:region:account:name`)
    /// so that it stays a reference to the queue rather than a copied string.
    pub fn dlq_name(&self) -> Value<String> {
        select(5, split(":", self.dlq.arn()))
    }
}

/// The custom event bus.
#[derive(Debug, Clone)]
pub struct Bus {
    pub handle: Handle<events::EventBus>,
}

impl Bus {
    pub fn name(&self) -> Value<String> {
        self.handle.reference()
    }

    pub fn grant_put_events(&self, grants: &mut Grants) {
        grants.allow(&["events:PutEvents"], vec![self.handle.arn()]);
    }
}

/// A private bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub handle: Handle<s3::Bucket>,
}

impl Bucket {
    pub fn name(&self) -> Value<String> {
        self.handle.reference()
    }

    fn objects(&self) -> Value<String> {
        sub![self.handle.arn(), "/*"]
    }

    pub fn grant_read(&self, grants: &mut Grants) {
        grants.allow(&["s3:GetObject"], vec![self.objects()]);
    }

    pub fn grant_write(&self, grants: &mut Grants) {
        grants.allow(&["s3:PutObject"], vec![self.objects()]);
    }

    /// What a deployer needs to make the bucket's content match a local directory.
    pub fn grant_sync(&self, grants: &mut Grants) {
        grants.allow(&["s3:ListBucket"], vec![self.handle.arn()]);
        grants.allow(
            &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            vec![self.objects()],
        );
    }
}

/// Writing to a log group (the group exists: nothing may create it).
pub fn grant_log_writes(log_group: &Handle<logs::LogGroup>, grants: &mut Grants) {
    grants.allow(
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![log_group.arn()],
    );
}

/// A private bucket: no public access, encrypted at rest, owner-enforced object ownership, and
/// TLS-only access (the policy is added by whoever owns the bucket's policy).
pub fn private_bucket() -> s3::Bucket {
    s3::Bucket::new()
        .public_access_block_configuration(
            s3::bucket::PublicAccessBlockConfiguration::new()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true),
        )
        .bucket_encryption(s3::bucket::BucketEncryption::new(vec![
            s3::bucket::ServerSideEncryptionRule::new().server_side_encryption_by_default(
                s3::bucket::ServerSideEncryptionByDefault::new("AES256"),
            ),
        ]))
        .ownership_controls(s3::bucket::OwnershipControls::new(vec![
            s3::bucket::OwnershipControlsRule::new().object_ownership("BucketOwnerEnforced"),
        ]))
}
