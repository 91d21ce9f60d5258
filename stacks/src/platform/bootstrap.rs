//! Bootstrap: where the deployer puts build artefacts before anything else deploys.

use crate::generated::{ecr, s3};
use crate::handle::Handle;
use crate::stack::ResourceOptions;
use crate::synth::App;

use super::Built;
use super::components::{Bucket, private_bucket};

/// How many API images the repository keeps; older ones are expired.
const IMAGES_KEPT: u32 = 20;

pub struct Outputs {
    /// Lambda zips, under content-addressed keys.
    pub asset_bucket: Bucket,
    /// The API image, tagged with its content digest (tags are immutable).
    pub repository: Handle<ecr::Repository>,
}

pub fn stack(app: &App) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "bootstrap",
        "EventForge bootstrap: asset bucket and container repository",
    );
    let asset_bucket = stack.add_with(
        "AssetBucket",
        private_bucket()
            .versioning_configuration(s3::bucket::VersioningConfiguration::new("Enabled"))
            .lifecycle_configuration(s3::bucket::LifecycleConfiguration::new(vec![
                s3::bucket::Rule::new("Enabled")
                    .id("expire-superseded-assets")
                    .noncurrent_version_expiration(s3::bucket::NoncurrentVersionExpiration::new(
                        30,
                    )),
            ])),
        ResourceOptions::retain(),
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
        ResourceOptions::retain(),
    );
    stack.output(
        "AssetBucketName",
        "Bucket the deployer uploads Lambda zips to",
        asset_bucket.reference(),
    );
    stack.output(
        "ApiRepositoryUri",
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
        },
    }
}
