//! Publishing the dashboard: the files of its build to the frontend stack's site bucket, its
//! runtime configuration (`config.json`) from the api and auth stacks' outputs, then a
//! CloudFront invalidation so that viewers get the new build.
//!
//! A file is uploaded only when its MD5 differs from the ETag of the object under its key, which
//! is the object's MD5 for a single-part upload to a bucket encrypted with S3-managed keys (the
//! site bucket is): republishing an unchanged build costs one listing and no invalidation.
//! Hashed files under `assets/` go first and the entry points (`index.html`, `config.json`)
//! after them, so a page never refers to an asset that is not there yet; objects the build no
//! longer has are deleted last.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use eventforge_deployer::{DeployError, EmulatorProfile, Target, cfn};
use eventforge_topology::StackOutput;
use md5::{Digest, Md5};
use serde_json::{Value as Json, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::SiteError;

/// Every stack's outputs, by stack name then output name (as `Deployer::outputs` and a deploy's
/// report give them).
pub type Outputs = BTreeMap<String, BTreeMap<String, String>>;

/// The stacks' outputs the dashboard's publication reads.
pub const SITE_BUCKET_OUTPUT: &str = StackOutput::SiteBucketName.name();
pub const API_URL_OUTPUT: &str = StackOutput::ApiUrl.name();
pub const USER_POOL_OUTPUT: &str = StackOutput::UserPoolId.name();
pub const CLIENT_OUTPUT: &str = StackOutput::DashboardClientId.name();
pub const HOSTED_UI_OUTPUT: &str = StackOutput::HostedUiDomain.name();
/// The frontend stack's distribution. The stack has no output with its id, so it is looked up
/// among the stack's resources by this logical id.
pub const DISTRIBUTION_LOGICAL_ID: &str = "SiteDistribution";
const DISTRIBUTION_TYPE: &str = "AWS::CloudFront::Distribution";

/// Where the dashboard reads its runtime configuration (`frontend/src/config.ts`).
pub const CONFIG_KEY: &str = "config.json";
const INDEX_KEY: &str = "index.html";
/// Vite names every file under `assets/` after its content hash: a new build is a new name.
const HASHED_PREFIX: &str = "assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cached, but revalidated on every use (cheap with the ETag): these names keep their content
/// from build to build.
const REVALIDATE: &str = "no-cache";
/// Uploads in flight at once.
const PARALLEL_UPLOADS: usize = 8;

/// The short names of the stacks whose outputs the dashboard needs.
const FRONTEND_STACK: &str = "frontend";
const API_STACK: &str = "api";
const AUTH_STACK: &str = "auth";

/// The `Content-Type` a file is served with, from its extension.
pub fn content_type(key: &str) -> String {
    mime_guess::from_path(key)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// The `Cache-Control` a file is served with: a year for content-hashed assets, revalidation
/// for everything whose name outlives its content.
pub fn cache_control(key: &str) -> &'static str {
    if key.starts_with(HASHED_PREFIX) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// The dashboard's runtime configuration as it is deployed: Cognito sign-in, and the API's URL.
/// The shape is `RuntimeConfig` of `frontend/src/api/types.ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Empty while the api stack is not deployed (after `teardown-ecs`): the dashboard still
    /// loads and signs in, and its API calls fail until the stack is back.
    pub api_base_url: String,
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub domain: String,
}

impl RuntimeConfig {
    /// From the deployed stacks' outputs.
    pub fn from_outputs(app: &str, outputs: &Outputs, region: &str) -> Result<Self, SiteError> {
        let auth_stack = format!("{app}-{AUTH_STACK}");
        let auth = |output: &str| {
            outputs
                .get(&auth_stack)
                .and_then(|outputs| outputs.get(output))
                .cloned()
                .ok_or_else(|| SiteError::MissingOutput {
                    stack: auth_stack.clone(),
                    output: output.to_owned(),
                })
        };
        Ok(Self {
            api_base_url: outputs
                .get(&format!("{app}-{API_STACK}"))
                .and_then(|outputs| outputs.get(API_URL_OUTPUT))
                .cloned()
                .unwrap_or_default(),
            region: region.to_owned(),
            user_pool_id: auth(USER_POOL_OUTPUT)?,
            client_id: auth(CLIENT_OUTPUT)?,
            domain: auth(HOSTED_UI_OUTPUT)?,
        })
    }

    pub fn to_json(&self) -> Json {
        json!({
            "apiBaseUrl": self.api_base_url,
            "auth": {
                "mode": "cognito",
                "region": self.region,
                "userPoolId": self.user_pool_id,
                "clientId": self.client_id,
                "domain": self.domain,
            },
        })
    }
}

/// One file as it is published, under its key in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    pub key: String,
    pub body: Vec<u8>,
}

impl SiteFile {
    /// The MD5 in hex: what S3 reports as the ETag of the object once uploaded.
    pub fn md5_hex(&self) -> String {
        hex::encode(Md5::digest(&self.body))
    }
}

/// The files of a dashboard build (`frontend/dist`), sorted by key, with `config.json` replaced
/// by `config`: a build's own one is for the development server.
pub fn site_files(dist: &Path, config: &RuntimeConfig) -> Result<Vec<SiteFile>, SiteError> {
    if !dist.join(INDEX_KEY).is_file() {
        return Err(SiteError::NotASiteBuild(dist.to_owned()));
    }
    let mut files = Vec::new();
    collect(dist, dist, &mut files)?;
    files.retain(|file| file.key != CONFIG_KEY);
    files.push(SiteFile {
        key: CONFIG_KEY.to_owned(),
        body: config.to_json().to_string().into_bytes(),
    });
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<SiteFile>) -> Result<(), SiteError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SiteError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
            continue;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        // Keys use `/` whatever the platform's separator.
        let key = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let body = std::fs::read(&path).map_err(io(&path))?;
        files.push(SiteFile { key, body });
    }
    Ok(())
}

/// What publishing `files` over the bucket's current objects (key -> ETag) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteChanges {
    /// Keys to upload: assets first, then the entry points that refer to them.
    pub upload: Vec<String>,
    pub unchanged: usize,
    /// Objects the build no longer has.
    pub delete: Vec<String>,
}

pub fn site_changes(files: &[SiteFile], existing: &BTreeMap<String, String>) -> SiteChanges {
    let mut upload: Vec<&SiteFile> = files
        .iter()
        .filter(|file| existing.get(&file.key) != Some(&file.md5_hex()))
        .collect();
    upload.sort_by_key(|file| (cache_control(&file.key) == REVALIDATE, file.key.clone()));
    let built: BTreeSet<&str> = files.iter().map(|file| file.key.as_str()).collect();
    SiteChanges {
        unchanged: files.len() - upload.len(),
        upload: upload.into_iter().map(|file| file.key.clone()).collect(),
        delete: existing
            .keys()
            .filter(|key| !built.contains(key.as_str()))
            .cloned()
            .collect(),
    }
}

/// What happened to CloudFront's copy of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Nothing was uploaded or deleted, so the cached copy is current.
    NotNeeded,
    /// Requested; CloudFront completes it within minutes.
    Created { distribution: String, id: String },
    /// There is no distribution to invalidate: the emulator does not create one.
    Skipped { reason: String },
}

/// One step of publishing, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteProgress {
    /// Publishing `files` files to `bucket` begins.
    Started {
        files: usize,
        bucket: String,
    },
    Uploaded {
        key: String,
        bytes: u64,
    },
    Deleted {
        key: String,
    },
    Invalidation(Invalidation),
}

/// Receives [`SiteProgress`]; any `Fn(SiteProgress)` is one.
pub trait SiteReporter: Send + Sync {
    fn report(&self, progress: SiteProgress);
}

impl<F: Fn(SiteProgress) + Send + Sync> SiteReporter for F {
    fn report(&self, progress: SiteProgress) {
        self(progress)
    }
}

/// What [`SitePublisher::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteReport {
    pub bucket: String,
    pub uploaded: Vec<String>,
    pub unchanged: usize,
    pub deleted: Vec<String>,
    pub invalidation: Invalidation,
}

/// Publishes the dashboard: the clients it needs, made like the deployer's own for the same
/// [`Target`] (retries, path-style buckets on an emulator).
pub struct SitePublisher {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    emulator: Option<EmulatorProfile>,
    region: Option<String>,
}

impl SitePublisher {
    pub fn new(target: &Target) -> Self {
        let sdk = target
            .sdk
            .to_builder()
            .retry_config(eventforge_deployer::deploy::retries())
            .build();
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            // Emulators serve buckets under the path, not as subdomains of 127.0.0.1.
            .force_path_style(target.emulator.is_some())
            .build();
        Self {
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            cloudfront: aws_sdk_cloudfront::Client::new(&sdk),
            emulator: target.emulator,
            region: sdk.region().map(ToString::to_string),
        }
    }

    /// Publishes the dashboard build in `dist` to app `app`'s deployed frontend stack's bucket,
    /// with the `config.json` the deployed api and auth stacks' `outputs` make, and invalidates
    /// the distribution's cache when anything changed.
    pub async fn publish(
        &self,
        app: &str,
        outputs: &Outputs,
        dist: &Path,
        reporter: &dyn SiteReporter,
    ) -> Result<SiteReport, SiteError> {
        let region = self.region.as_deref().ok_or(SiteError::NoRegion)?;
        let frontend = format!("{app}-{FRONTEND_STACK}");
        let bucket = outputs
            .get(&frontend)
            .and_then(|outputs| outputs.get(SITE_BUCKET_OUTPUT))
            .cloned()
            .ok_or_else(|| SiteError::MissingOutput {
                stack: frontend.clone(),
                output: SITE_BUCKET_OUTPUT.to_owned(),
            })?;
        let config = RuntimeConfig::from_outputs(app, outputs, region)?;
        let files = site_files(dist, &config)?;
        reporter.report(SiteProgress::Started {
            files: files.len(),
            bucket: bucket.clone(),
        });
        let changes = site_changes(&files, &self.object_etags(&bucket).await?);
        let by_key: BTreeMap<String, SiteFile> = files
            .into_iter()
            .map(|file| (file.key.clone(), file))
            .collect();
        let (assets, entry_points): (Vec<&String>, Vec<&String>) = changes
            .upload
            .iter()
            .partition(|key| cache_control(key) == IMMUTABLE);
        for batch in [assets, entry_points] {
            let files = batch
                .into_iter()
                .filter_map(|key| by_key.get(key).cloned())
                .collect();
            self.upload(&bucket, files, reporter).await?;
        }
        for key in &changes.delete {
            self.s3
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|error| DeployError::sdk("DeleteObject", error))?;
            reporter.report(SiteProgress::Deleted { key: key.clone() });
        }
        let invalidation = if changes.upload.is_empty() && changes.delete.is_empty() {
            Invalidation::NotNeeded
        } else {
            self.invalidate(&frontend).await?
        };
        reporter.report(SiteProgress::Invalidation(invalidation.clone()));
        Ok(SiteReport {
            bucket,
            uploaded: changes.upload,
            unchanged: changes.unchanged,
            deleted: changes.delete,
            invalidation,
        })
    }

    /// Every object of the bucket with its ETag (unquoted).
    async fn object_etags(&self, bucket: &str) -> Result<BTreeMap<String, String>, SiteError> {
        let mut etags = BTreeMap::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| DeployError::sdk("ListObjectsV2", error))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    let etag = object.e_tag().unwrap_or_default().trim_matches('"');
                    etags.insert(key.to_owned(), etag.to_owned());
                }
            }
        }
        Ok(etags)
    }

    /// Uploads the files concurrently, a few at a time.
    async fn upload(
        &self,
        bucket: &str,
        files: Vec<SiteFile>,
        reporter: &dyn SiteReporter,
    ) -> Result<(), SiteError> {
        let slots = Arc::new(Semaphore::new(PARALLEL_UPLOADS));
        let mut uploads = JoinSet::new();
        for file in files {
            let (s3, bucket, slots) = (self.s3.clone(), bucket.to_owned(), slots.clone());
            uploads.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|error| DeployError::api("upload", error))?;
                let bytes = file.body.len() as u64;
                s3.put_object()
                    .bucket(bucket)
                    .key(&file.key)
                    .content_type(content_type(&file.key))
                    .cache_control(cache_control(&file.key))
                    .body(ByteStream::from(file.body))
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("PutObject", error))?;
                Ok::<_, DeployError>((file.key, bytes))
            });
        }
        while let Some(joined) = uploads.join_next().await {
            let (key, bytes) = joined.map_err(|error| DeployError::api("upload", error))??;
            reporter.report(SiteProgress::Uploaded { key, bytes });
        }
        Ok(())
    }

    /// Invalidates every path of the frontend stack's distribution.
    async fn invalidate(&self, stack: &str) -> Result<Invalidation, SiteError> {
        if let Some(profile) = self.emulator
            && !profile.implements(DISTRIBUTION_TYPE)
        {
            return Ok(Invalidation::Skipped {
                reason: format!(
                    "{} does not implement {DISTRIBUTION_TYPE}, so {stack} has no \
                     {DISTRIBUTION_LOGICAL_ID} to invalidate",
                    profile.name()
                ),
            });
        }
        let distribution = cfn::resources(&self.cfn, stack)
            .await?
            .into_iter()
            .find(|(logical, _, physical)| {
                logical == DISTRIBUTION_LOGICAL_ID && !physical.is_empty()
            })
            .map(|(_, _, physical)| physical)
            .ok_or_else(|| SiteError::MissingResource {
                stack: stack.to_owned(),
                logical_id: DISTRIBUTION_LOGICAL_ID.to_owned(),
            })?;
        let batch = aws_sdk_cloudfront::types::Paths::builder()
            .quantity(1)
            .items("/*")
            .build()
            .and_then(|paths| {
                aws_sdk_cloudfront::types::InvalidationBatch::builder()
                    .paths(paths)
                    .caller_reference(caller_reference())
                    .build()
            })
            .map_err(|error| DeployError::api("CreateInvalidation", error))?;
        let created = self
            .cloudfront
            .create_invalidation()
            .distribution_id(&distribution)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|error| DeployError::sdk("CreateInvalidation", error))?;
        Ok(Invalidation::Created {
            id: created
                .invalidation()
                .map(|invalidation| invalidation.id().to_owned())
                .unwrap_or_default(),
            distribution,
        })
    }
}

/// Unique per request: CloudFront answers a repeated reference with the earlier invalidation
/// instead of invalidating again, which would leave a republished older build cached.
fn caller_reference() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("eventforge-{}", since_epoch.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RuntimeConfig {
        RuntimeConfig {
            api_base_url: "http://api.example.com".to_owned(),
            region: "eu-west-1".to_owned(),
            user_pool_id: "eu-west-1_Pool".to_owned(),
            client_id: "client".to_owned(),
            domain: "eventforge-dev-1.auth.eu-west-1.amazoncognito.com".to_owned(),
        }
    }

    fn file(key: &str, body: &str) -> SiteFile {
        SiteFile {
            key: key.to_owned(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn files_are_served_with_the_type_their_extension_names() {
        assert_eq!(content_type("index.html"), "text/html");
        assert_eq!(content_type("assets/app-abc123.js"), "text/javascript");
        assert_eq!(content_type("assets/app-abc123.css"), "text/css");
        assert_eq!(content_type("config.json"), "application/json");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("assets/font-abc123.woff2"), "font/woff2");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn hashed_assets_are_cached_for_a_year_and_entry_points_are_revalidated() {
        assert_eq!(
            cache_control("assets/app-abc123.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("index.html"), "no-cache");
        assert_eq!(cache_control("config.json"), "no-cache");
        assert_eq!(cache_control("favicon.svg"), "no-cache");
    }

    #[test]
    fn the_runtime_config_has_the_shape_the_dashboard_reads() {
        assert_eq!(
            config().to_json(),
            json!({
                "apiBaseUrl": "http://api.example.com",
                "auth": {
                    "mode": "cognito",
                    "region": "eu-west-1",
                    "userPoolId": "eu-west-1_Pool",
                    "clientId": "client",
                    "domain": "eventforge-dev-1.auth.eu-west-1.amazoncognito.com",
                },
            })
        );
    }

    #[test]
    fn the_runtime_config_comes_from_the_auth_and_api_outputs() {
        let outputs = BTreeMap::from([
            (
                "app-auth".to_owned(),
                BTreeMap::from([
                    ("UserPoolId".to_owned(), "eu-west-1_Pool".to_owned()),
                    ("DashboardClientId".to_owned(), "client".to_owned()),
                    (
                        "HostedUiDomain".to_owned(),
                        "eventforge-dev-1.auth.eu-west-1.amazoncognito.com".to_owned(),
                    ),
                ]),
            ),
            (
                "app-api".to_owned(),
                BTreeMap::from([("ApiUrl".to_owned(), "http://api.example.com".to_owned())]),
            ),
        ]);
        assert_eq!(
            RuntimeConfig::from_outputs("app", &outputs, "eu-west-1").unwrap(),
            config()
        );
    }

    #[test]
    fn without_the_api_stack_the_dashboard_calls_its_own_origin() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "app-auth".to_owned(),
            BTreeMap::from([
                ("UserPoolId".to_owned(), "p".to_owned()),
                ("DashboardClientId".to_owned(), "c".to_owned()),
                ("HostedUiDomain".to_owned(), "d".to_owned()),
            ]),
        );
        let config = RuntimeConfig::from_outputs("app", &outputs, "eu-west-1").unwrap();
        assert_eq!(config.api_base_url, "");
    }

    #[test]
    fn without_the_auth_stack_there_is_no_config_to_write() {
        let error = RuntimeConfig::from_outputs("app", &BTreeMap::new(), "eu-west-1").unwrap_err();
        assert!(
            matches!(&error, SiteError::MissingOutput { stack, output } if stack == "app-auth" && output == "UserPoolId"),
            "{error}"
        );
    }

    #[test]
    fn a_build_is_read_with_slash_keys_and_its_config_replaced_by_the_deployed_one() {
        let dist = tempfile::tempdir().unwrap();
        std::fs::create_dir(dist.path().join("assets")).unwrap();
        std::fs::write(dist.path().join("index.html"), "<html>").unwrap();
        std::fs::write(dist.path().join("assets/app-abc123.js"), "app").unwrap();
        std::fs::write(
            dist.path().join("config.json"),
            r#"{"auth":{"mode":"dev"}}"#,
        )
        .unwrap();
        let files = site_files(dist.path(), &config()).unwrap();
        let keys: Vec<&str> = files.iter().map(|file| file.key.as_str()).collect();
        assert_eq!(keys, ["assets/app-abc123.js", "config.json", "index.html"]);
        let written: Json = serde_json::from_slice(&files[1].body).unwrap();
        assert_eq!(written, config().to_json());
    }

    #[test]
    fn a_directory_without_index_html_is_not_a_build() {
        let dist = tempfile::tempdir().unwrap();
        assert!(matches!(
            site_files(dist.path(), &config()),
            Err(SiteError::NotASiteBuild(_))
        ));
    }

    #[test]
    fn only_changed_files_are_uploaded_assets_first_and_stale_objects_are_deleted() {
        let files = [
            file("assets/app-new.js", "new"),
            file("config.json", "{}"),
            file("index.html", "<html>"),
        ];
        let existing = BTreeMap::from([
            ("assets/app-old.js".to_owned(), file("", "old").md5_hex()),
            ("config.json".to_owned(), file("", "{}").md5_hex()),
            ("index.html".to_owned(), file("", "<old html>").md5_hex()),
        ]);
        assert_eq!(
            site_changes(&files, &existing),
            SiteChanges {
                upload: vec!["assets/app-new.js".to_owned(), "index.html".to_owned()],
                unchanged: 1,
                delete: vec!["assets/app-old.js".to_owned()],
            }
        );
    }

    #[test]
    fn a_published_build_has_nothing_to_change() {
        let files = [file("assets/app.js", "app"), file("index.html", "<html>")];
        let existing = files
            .iter()
            .map(|file| (file.key.clone(), file.md5_hex()))
            .collect();
        let changes = site_changes(&files, &existing);
        assert!(changes.upload.is_empty() && changes.delete.is_empty());
        assert_eq!(changes.unchanged, 2);
    }
}
