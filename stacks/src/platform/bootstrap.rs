//! Bootstrap: where the deployer puts build artefacts before anything else deploys, and (in
//! prod) the bucket every access log goes to.

use serde_json::json;

use typed_cloudformation::generated::{ecr, s3};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::{Accepted, ResourceOptions, Stack};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::Pseudo;

use super::components::{AccessLogs, Bucket, private_bucket};
use super::{Built, Config};
use eventforge_topology::StackOutput;

/// How many API images the repository keeps; older ones are expired.
const IMAGES_KEPT: u32 = 20;

pub struct Outputs {
    /// Lambda zips, under content-addressed keys.
    pub asset_bucket: Bucket,
    /// The API image, tagged with its content digest (tags are immutable).
    pub repository: Handle<ecr::Repository>,
    /// Where the stage's buckets and distributions log their requests.
    pub access_logs: AccessLogs,
}

/// The image holds the compiled API and no secret (those are injected from Secrets Manager when a
/// task starts).
const IMAGES_ENCRYPTED_BY_ECR: Accepted = Accepted {
    check: "CKV_AWS_136",
    reason: "ECR encrypts images at rest with AES-256. The image holds the compiled API and no \
             secret (Secrets Manager injects those when a task starts); a KMS key would add \
             kms:Decrypt to the task execution role and to every puller for nothing secret.",
};

pub fn stack(app: &App, config: &Config) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "bootstrap",
        "EventForge bootstrap: asset bucket and container repository",
    );
    let access_logs = AccessLogs {
        bucket: config
            .access_logs
            .then(|| add_access_log_bucket(&mut stack, config)),
    };
    let (assets, no_logs) = access_logs.bucket(private_bucket(), "assets");
    let asset_bucket = stack.add_with(
        "AssetBucket",
        assets
            .versioning_configuration(s3::bucket::VersioningConfiguration::new("Enabled"))
            .lifecycle_configuration(s3::bucket::LifecycleConfiguration::new(vec![
                s3::bucket::Rule::new("Enabled")
                    .id("expire-superseded-assets")
                    .noncurrent_version_expiration(s3::bucket::NoncurrentVersionExpiration::new(
                        30,
                    )),
            ])),
        ResourceOptions::retain().accept(&no_logs),
    );
    let lifecycle = serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the last {IMAGES_KEPT} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": IMAGES_KEPT },
            "action": { "type": "expire" },
        }],
    });
    let repository = stack.add_with(
        "ApiRepository",
        ecr::Repository::new()
            .image_tag_mutability("IMMUTABLE")
            .image_scanning_configuration(
                ecr::repository::ImageScanningConfiguration::new().scan_on_push(true),
            )
            .lifecycle_policy(
                ecr::repository::LifecyclePolicy::new()
                    .lifecycle_policy_text(lifecycle.to_string()),
            ),
        ResourceOptions::retain().accept(&[IMAGES_ENCRYPTED_BY_ECR]),
    );
    stack.output(
        StackOutput::AssetBucketName.name(),
        "Bucket the deployer uploads Lambda zips to",
        asset_bucket.reference(),
    );
    stack.output(
        StackOutput::ApiRepositoryUri.name(),
        "Repository the deployer pushes the API image to",
        repository.repository_uri(),
    );
    Built {
        stack,
        outputs: Outputs {
            asset_bucket: Bucket {
                handle: asset_bucket,
            },
            repository,
            access_logs,
        },
    }
}

/// The bucket of S3 server access logs and CloudFront standard logs, kept for the stage's log
/// retention. Retained like the assets: the logs are the record of who read what, and outlive a
/// destroyed stack.
fn add_access_log_bucket(stack: &mut Stack, config: &Config) -> Handle<s3::Bucket> {
    let bucket = stack.add_with(
        "AccessLogBucket",
        private_bucket()
            // CloudFront's standard logs are delivered with an object ACL, which a bucket whose
            // ownership is `BucketOwnerEnforced` refuses (the delivery then fails silently).
            .ownership_controls(s3::bucket::OwnershipControls::new(vec![
                s3::bucket::OwnershipControlsRule::new().object_ownership("BucketOwnerPreferred"),
            ]))
            .lifecycle_configuration(s3::bucket::LifecycleConfiguration::new(vec![
                s3::bucket::Rule::new("Enabled")
                    .id("expire-access-logs")
                    .expiration_in_days(config.log_retention_days),
            ])),
        ResourceOptions::retain().accept(&[
            Accepted {
                check: "CKV_AWS_18",
                reason: "This is the access-log bucket: logging its own access would log the \
                         delivery of every log object, without end.",
            },
            Accepted {
                check: "CKV_AWS_21",
                reason: "Log objects are written once and expire by the lifecycle rule; \
                         versioning would keep each expired log as a noncurrent version.",
            },
        ]),
    );
    // S3 delivers server access logs as its logging service, and only for this account's
    // buckets. CloudFront delivers through the bucket ACL its logging grants itself.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": { "Service": "logging.s3.amazonaws.com" },
            "Action": "s3:PutObject",
            "Resource": sub![bucket.arn(), "/s3/*"].to_json(),
            "Condition": { "StringEquals": { "aws:SourceAccount": Pseudo::AccountId.value().to_json() } },
        }],
    });
    stack.add(
        "AccessLogBucketPolicy",
        s3::BucketPolicy::new(bucket.reference(), policy),
    );
    bucket
}
