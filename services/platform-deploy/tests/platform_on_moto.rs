//! End to end against moto_server and a real OCI registry, both on 127.0.0.1: the whole platform
//! deployed by the generic deployer, checked through the service APIs, its dashboard published and republished,
//! redeployed as a no-op, changed one function at a time, a new API image hotswapped, its ECS
//! part torn down and brought back, and destroyed.
//!
//! Resource types moto's CloudFormation does not implement are removed by the emulator profile;
//! the test asserts they are reported and checks their templates with cfn-lint instead.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use base64::Engine;
use eventforge_deployer::image::{Image, ImageSpec};
use eventforge_deployer::local_registry::LocalRegistry;
use eventforge_deployer::progress::{Outcome, Progress, Recorder, Silent};
use eventforge_deployer::{
    Assets, ContainerImage, DeployOptions, DeployReport, Deployer, EmulatorProfile, Plan, Target,
};
use eventforge_platform_deploy::site::{Invalidation, SiteProgress, SitePublisher, SiteReport};
use eventforge_stacks::platform::{self, Config, Stage};
use eventforge_store_dynamodb::moto::MotoServer;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use typed_cloudformation::manifest::Format;

struct World {
    _moto: MotoServer,
    registry: LocalRegistry,
    sdk: SdkConfig,
    deployer: Deployer,
    publisher: SitePublisher,
    plan: Plan,
    assets: Assets,
    dir: tempfile::TempDir,
}

impl World {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
        let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
        let sdk = moto
            .sdk_config()
            .await
            .to_builder()
            .endpoint_url(moto.direct_endpoint())
            .build();
        let target = Target {
            sdk: sdk.clone(),
            emulator: Some(EmulatorProfile::Moto),
            registry: Some(registry.endpoint.clone()),
            cfn_execution_role: None,
        };
        let publisher = SitePublisher::new(&target);
        let deployer = Deployer::new(target);
        let assembly =
            platform::synth(&Config::for_stage(Stage::Dev)).expect("the platform synthesises");
        let plan = Plan::from_assembly(&assembly);
        let dir = tempfile::tempdir().expect("a temporary directory");
        // moto stores Lambda code without running it, so a zip's content only has to be unique.
        let lambda_zips = plan
            .lambda_functions()
            .into_iter()
            .map(|function| {
                let path = dir.path().join(format!("{function}.zip"));
                std::fs::write(&path, format!("placeholder code of {function}, version 1"))
                    .unwrap();
                (function, path)
            })
            .collect();
        let image = placeholder_image(dir.path(), 1);
        Self {
            _moto: moto,
            registry,
            sdk,
            deployer,
            publisher,
            plan,
            assets: Assets {
                lambda_zips,
                image: Some(ContainerImage::Oci(image)),
            },
            dir,
        }
    }

    async fn deploy(&self, options: DeployOptions) -> (DeployReport, Duration) {
        let started = Instant::now();
        let report = self
            .deployer
            .deploy(&self.plan, &self.assets, &options, Arc::new(Silent))
            .await
            .unwrap_or_else(|error| panic!("deploy failed: {error}"));
        (report, started.elapsed())
    }

    fn change_zip(&mut self, function: &str, version: u32) {
        let path = self.dir.path().join(format!("{function}.zip"));
        std::fs::write(
            &path,
            format!("placeholder code of {function}, version {version}"),
        )
        .unwrap();
        self.assets.lambda_zips.insert(function.to_owned(), path);
    }

    fn change_image(&mut self, version: u32) {
        self.assets.image = Some(ContainerImage::Oci(placeholder_image(
            self.dir.path(),
            version,
        )));
    }

    /// A dashboard build as vite lays it out, in `<dir>/dist`.
    fn site_build(&self, assets: &[(&str, &str)]) -> PathBuf {
        let dist = self.dir.path().join("dist");
        if dist.exists() {
            std::fs::remove_dir_all(&dist).unwrap();
        }
        std::fs::create_dir_all(dist.join("assets")).unwrap();
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><script type=\"module\" src=\"/assets/app.js\"></script>",
        )
        .unwrap();
        for (name, body) in assets {
            std::fs::write(dist.join("assets").join(name), body).unwrap();
        }
        dist
    }

    async fn publish(&self, dist: &Path, reported: &Mutex<Vec<SiteProgress>>) -> SiteReport {
        let outputs = self.deployer.outputs(&self.plan).await.unwrap();
        let reporter = |progress| reported.lock().unwrap().push(progress);
        self.publisher
            .publish(&self.plan.app, &outputs, dist, &reporter)
            .await
            .unwrap_or_else(|error| panic!("publishing the dashboard failed: {error}"))
    }

    fn stack(&self, short: &str) -> String {
        format!("{}-{short}", self.plan.app)
    }

    fn template(&self, short: &str) -> &Json {
        &self
            .plan
            .stack(&self.stack(short))
            .expect("a planned stack")
            .template
    }

    fn resources_of_type<'a>(
        &'a self,
        short: &str,
        wanted: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Json)> + 'a {
        self.template(short)["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(move |(_, resource)| resource["Type"] == wanted)
    }

    /// The one ECS service deployed, and the task definition it runs, as ECS describes them.
    async fn api_service(
        &self,
    ) -> (
        aws_sdk_ecs::types::Service,
        aws_sdk_ecs::types::TaskDefinition,
    ) {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk);
        let clusters = ecs.list_clusters().send().await.unwrap();
        assert_eq!(clusters.cluster_arns().len(), 1);
        let cluster = &clusters.cluster_arns()[0];
        let services = ecs.list_services().cluster(cluster).send().await.unwrap();
        assert_eq!(services.service_arns().len(), 1);
        let described = ecs
            .describe_services()
            .cluster(cluster)
            .services(&services.service_arns()[0])
            .send()
            .await
            .unwrap();
        let service = described.services()[0].clone();
        let task = ecs
            .describe_task_definition()
            .task_definition(service.task_definition().unwrap())
            .send()
            .await
            .unwrap();
        (service, task.task_definition().unwrap().clone())
    }
}

/// An image of a placeholder API binary; each version has a different digest.
fn placeholder_image(dir: &Path, version: u32) -> Image {
    let binary = dir.join(format!("eventforge-api-{version}"));
    std::fs::write(
        &binary,
        format!("#!/bin/sh\necho placeholder api, version {version}\n"),
    )
    .unwrap();
    Image::build(&ImageSpec {
        binary: &binary,
        name: "eventforge-api",
        architecture: "arm64",
        exposed_port: Some(8080),
    })
    .unwrap()
}

fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

fn outcomes_other_than(report: &DeployReport, wanted: &Outcome) -> BTreeMap<String, Outcome> {
    report
        .outcomes
        .iter()
        .filter(|(_, outcome)| *outcome != wanted)
        .map(|(name, outcome)| (name.clone(), outcome.clone()))
        .collect()
}

fn lambda_sha(path: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_platform_deploys_skips_updates_tears_down_and_destroys_against_moto() {
    let mut world = World::start().await;

    // A first deploy creates every stack and reports every emulator adaptation.
    let recorder = Arc::new(Recorder::default());
    let first = world
        .deployer
        .deploy(
            &world.plan,
            &world.assets,
            &DeployOptions::default(),
            recorder.clone(),
        )
        .await
        .unwrap_or_else(|error| panic!("first deploy failed: {error}"));
    assert_eq!(first.outcomes.len(), world.plan.stacks.len());
    assert_eq!(
        outcomes_other_than(&first, &Outcome::Created),
        BTreeMap::new()
    );
    let skipped_types: BTreeSet<String> = first
        .adaptations
        .values()
        .flat_map(|adaptation| {
            adaptation
                .skipped
                .iter()
                .map(|(_, resource_type)| resource_type.clone())
        })
        .collect();
    for expected in [
        "AWS::Cognito::UserPool",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudFront::Distribution",
    ] {
        assert!(
            skipped_types.contains(expected),
            "{expected} not reported as skipped: {skipped_types:?}"
        );
    }
    let reported = std::mem::take(&mut *recorder.0.lock().unwrap());
    assert!(reported.iter().any(
        |progress| matches!(progress, Progress::Emulator { stack, .. } if stack.ends_with("-auth"))
    ));
    assert!(
        reported
            .iter()
            .any(|progress| matches!(progress, Progress::Event { .. })),
        "no stack events streamed"
    );

    verify_deployed_resources(&world, &first).await;

    // Deploying again changes nothing, quickly.
    let (again, elapsed) = world.deploy(DeployOptions::default()).await;
    assert_eq!(
        outcomes_other_than(&again, &Outcome::Unchanged),
        BTreeMap::new()
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "a no-op deploy took {elapsed:?}"
    );

    publishes_the_dashboard(&world, &again).await;

    // A stack parameter set once is kept by the deploys that do not mention it.
    let functions = world.stack("functions");
    let (set, _) = world
        .deploy(DeployOptions {
            parameters: BTreeMap::from([(
                functions.clone(),
                BTreeMap::from([("EmailIdentity".to_owned(), "shop.example.org".to_owned())]),
            )]),
            ..DeployOptions::default()
        })
        .await;
    assert_eq!(
        outcomes_other_than(&set, &Outcome::Unchanged),
        BTreeMap::from([(functions.clone(), Outcome::Updated)])
    );
    let (kept, _) = world.deploy(DeployOptions::default()).await;
    assert_eq!(
        outcomes_other_than(&kept, &Outcome::Unchanged),
        BTreeMap::new()
    );
    let cfn = aws_sdk_cloudformation::Client::new(&world.sdk);
    let described = cfn
        .describe_stacks()
        .stack_name(&functions)
        .send()
        .await
        .unwrap();
    let identity = described.stacks()[0]
        .parameters()
        .iter()
        .find(|parameter| parameter.parameter_key() == Some("EmailIdentity"))
        .and_then(|parameter| parameter.parameter_value());
    assert_eq!(identity, Some("shop.example.org"));

    // A changed function updates its stack and nothing else.
    world.change_zip("validate-order", 2);
    let (changed, _) = world.deploy(DeployOptions::default()).await;
    assert_eq!(
        outcomes_other_than(&changed, &Outcome::Unchanged),
        BTreeMap::from([(world.stack("functions"), Outcome::Updated)])
    );
    assert_eq!(
        function_sha(&world, "eventforge-dev-validate-order").await,
        lambda_sha(&world.assets.lambda_zips["validate-order"])
    );

    // With --hotswap, a code-only change goes straight to Lambda.
    world.change_zip("charge-payment", 2);
    let (hotswapped, _) = world
        .deploy(DeployOptions {
            hotswap: true,
            ..DeployOptions::default()
        })
        .await;
    assert!(
        matches!(&hotswapped.outcomes[&world.stack("functions")], Outcome::Hotswapped(functions) if functions == &["eventforge-dev-charge-payment"]),
        "{:?}",
        hotswapped.outcomes
    );
    assert_eq!(
        function_sha(&world, "eventforge-dev-charge-payment").await,
        lambda_sha(&world.assets.lambda_zips["charge-payment"])
    );

    hotswaps_a_new_api_image(&mut world).await;

    // teardown-ecs: the api stack goes, and only it: the alarms on the queues, DLQs and saga
    // (observability) and the ingest secret (auth) stay.
    let api = world.stack("api");
    let teardown = world
        .deployer
        .destroy(
            &world.plan,
            std::slice::from_ref(&api),
            false,
            Arc::new(Silent),
        )
        .await
        .unwrap_or_else(|error| panic!("teardown failed: {error}"));
    assert!(teardown.failures.is_empty(), "{:?}", teardown.failures);
    assert_eq!(teardown.deleted, vec![api.clone()]);
    let cfn = aws_sdk_cloudformation::Client::new(&world.sdk);
    let remaining = stack_names(&cfn).await;
    assert!(!remaining.contains(&api));
    for kept in [
        "data",
        "functions",
        "observability",
        "auth",
        "messaging",
        "workflow",
    ] {
        assert!(remaining.contains(&world.stack(kept)), "{kept} was removed");
    }
    // (moto leaves the ECS and ELBv2 resources of a deleted stack in place: it implements no
    // deletion for them, so only the stack's own absence can be checked here.)

    // deploy brings it back.
    let (back, _) = world.deploy(DeployOptions::default()).await;
    assert_eq!(back.outcomes[&api], Outcome::Created);
    assert_eq!(
        back.outcomes[&world.stack("observability")],
        Outcome::Unchanged
    );
    assert_eq!(back.outcomes[&world.stack("data")], Outcome::Unchanged);
    let api_resources = world
        .deployer
        .cloudformation()
        .describe_stack_resources()
        .stack_name(&api)
        .send()
        .await
        .unwrap();
    assert!(
        api_resources
            .stack_resources()
            .iter()
            .any(|resource| resource.resource_type() == Some("AWS::ECS::Service"))
    );

    // destroy --purge leaves nothing, the retained table, buckets and repository included, with
    // one emulator artefact: moto implements no deletion for route tables, so deleting the
    // network stack's VPC fails (and moto forgets the stack anyway). The deployer reports it.
    let destroyed = world
        .deployer
        .destroy(&world.plan, &[], true, Arc::new(Silent))
        .await
        .unwrap_or_else(|error| panic!("destroy failed: {error}"));
    let network = world.stack("network");
    assert_eq!(destroyed.failures.len(), 1, "{:?}", destroyed.failures);
    let failure = destroyed.failures[0].to_string();
    assert!(
        failure.contains(&network) && failure.contains("DependencyViolation"),
        "{failure}"
    );
    assert_eq!(destroyed.purged.len(), 4, "{:?}", destroyed.purged);
    assert_eq!(stack_names(&cfn).await, BTreeSet::new());
    let dynamodb = aws_sdk_dynamodb::Client::new(&world.sdk);
    assert!(
        dynamodb
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .is_empty()
    );
    let s3 = s3_client(&world.sdk);
    let buckets = s3.list_buckets().send().await.unwrap();
    let buckets: Vec<&str> = buckets
        .buckets()
        .iter()
        .filter_map(|bucket| bucket.name())
        .collect();
    // The retained buckets were purged. (moto's stack deletion leaves the frontend's site
    // bucket behind; on AWS CloudFormation deletes it, which it can because destroy emptied it
    // of the published dashboard first.)
    assert_eq!(buckets.len(), 1, "{buckets:?}");
    assert!(buckets[0].contains("-frontend-"), "{buckets:?}");
    let left = s3
        .list_objects_v2()
        .bucket(buckets[0])
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty(), "{:?}", left.contents());
    let purged_buckets = destroyed
        .purged
        .iter()
        .filter(|purged| purged.starts_with("AWS::S3::Bucket "))
        .count();
    assert_eq!(purged_buckets, 2, "{:?}", destroyed.purged);
    let ecr = aws_sdk_ecr::Client::new(&world.sdk);
    assert!(
        ecr.describe_repositories()
            .send()
            .await
            .unwrap()
            .repositories()
            .is_empty()
    );
    // What moto's own stack deletion leaves behind is listed in `emulator::MOTO_NOT_DELETED`.
}

/// The dashboard goes to the site bucket with its types, cache lifetimes and the deployed
/// stacks' config.json; republishing it uploads nothing, and a file no longer built is deleted.
async fn publishes_the_dashboard(world: &World, deployed: &DeployReport) {
    let reported = Mutex::default();
    let dist = world.site_build(&[("app-abc123.js", "console.log('v1')")]);
    let first = world.publish(&dist, &reported).await;
    assert_eq!(
        first.uploaded,
        ["assets/app-abc123.js", "config.json", "index.html"],
        "assets first, then the pages that load them"
    );
    assert_eq!((first.unchanged, first.deleted.len()), (0, 0));
    // moto creates no distribution: the invalidation is skipped, and said to be.
    assert!(
        matches!(&first.invalidation, Invalidation::Skipped { reason } if reason.contains("SiteDistribution")),
        "{:?}",
        first.invalidation
    );
    assert!(reported.lock().unwrap().iter().any(|progress| matches!(
        progress,
        SiteProgress::Invalidation(Invalidation::Skipped { .. })
    )));
    let frontend = &deployed.outputs[&world.stack("frontend")];
    assert_eq!(first.bucket, frontend["SiteBucketName"]);

    let s3 = s3_client(&world.sdk);
    let head = |key: &'static str| s3.head_object().bucket(&first.bucket).key(key).send();
    let index = head("index.html").await.unwrap();
    assert_eq!(index.content_type(), Some("text/html"));
    assert_eq!(index.cache_control(), Some("no-cache"));
    let asset = head("assets/app-abc123.js").await.unwrap();
    assert_eq!(asset.content_type(), Some("text/javascript"));
    assert_eq!(
        asset.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    let config = s3
        .get_object()
        .bucket(&first.bucket)
        .key("config.json")
        .send()
        .await
        .unwrap();
    assert_eq!(config.content_type(), Some("application/json"));
    assert_eq!(config.cache_control(), Some("no-cache"));
    let config: Json =
        serde_json::from_slice(&config.body.collect().await.unwrap().into_bytes()).unwrap();
    let auth = &deployed.outputs[&world.stack("auth")];
    assert_eq!(config["auth"]["mode"], "cognito");
    assert_eq!(config["auth"]["region"], "us-east-1");
    assert_eq!(config["auth"]["userPoolId"], auth["UserPoolId"].as_str());
    assert_eq!(
        config["auth"]["clientId"],
        auth["DashboardClientId"].as_str()
    );
    assert_eq!(config["auth"]["domain"], auth["HostedUiDomain"].as_str());
    assert_eq!(
        config["apiBaseUrl"],
        deployed.outputs[&world.stack("api")]["ApiUrl"].as_str()
    );

    // The same build again: nothing to upload, nothing to invalidate.
    let again = world.publish(&dist, &Mutex::default()).await;
    assert_eq!(again.uploaded, Vec::<String>::new());
    assert_eq!(again.deleted, Vec::<String>::new());
    assert_eq!(again.unchanged, 3);
    assert_eq!(again.invalidation, Invalidation::NotNeeded);

    // A new build: its new asset is uploaded, the old one deleted.
    let dist = world.site_build(&[("app-def456.js", "console.log('v2')")]);
    let next = world.publish(&dist, &Mutex::default()).await;
    assert_eq!(next.uploaded, ["assets/app-def456.js"]);
    assert_eq!(next.deleted, ["assets/app-abc123.js"]);
    let listed = s3
        .list_objects_v2()
        .bucket(&first.bucket)
        .send()
        .await
        .unwrap();
    let keys: BTreeSet<&str> = listed
        .contents()
        .iter()
        .filter_map(|object| object.key())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["assets/app-def456.js", "config.json", "index.html"])
    );
}

/// With --hotswap, a new API image alone goes to the service as a new task definition revision,
/// without CloudFormation: the api stack keeps its parameters and its last update.
async fn hotswaps_a_new_api_image(world: &mut World) {
    let api = world.stack("api");
    let cfn = world.deployer.cloudformation().clone();
    let stack =
        |described: aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput| {
            described.stacks()[0].clone()
        };
    let before = stack(cfn.describe_stacks().stack_name(&api).send().await.unwrap());
    world.change_image(2);
    let (report, _) = world
        .deploy(DeployOptions {
            hotswap: true,
            ..DeployOptions::default()
        })
        .await;
    let image = world.assets.image.as_ref().unwrap();
    assert!(
        matches!(&report.outcomes[&api], Outcome::Hotswapped(services) if services.len() == 1),
        "{:?}",
        report.outcomes
    );
    let (_, task) = world.api_service().await;
    let repository_uri = &report.outputs[&world.stack("bootstrap")]["ApiRepositoryUri"];
    let api_container = task
        .container_definitions()
        .iter()
        .find(|container| container.name() == Some("api"))
        .unwrap();
    assert_eq!(
        api_container.image(),
        Some(format!("{repository_uri}:{}", image.tag()).as_str())
    );
    assert!(task.revision() > 1, "a new revision: {}", task.revision());
    let after = stack(cfn.describe_stacks().stack_name(&api).send().await.unwrap());
    assert_eq!(after.parameters(), before.parameters());
    assert_ne!(
        after
            .parameters()
            .iter()
            .find(|parameter| parameter.parameter_key() == Some("ApiImageTag"))
            .and_then(|parameter| parameter.parameter_value()),
        Some(image.tag().as_str())
    );
    assert_eq!(after.last_updated_time(), before.last_updated_time());
}

async fn stack_names(cfn: &aws_sdk_cloudformation::Client) -> BTreeSet<String> {
    cfn.describe_stacks()
        .send()
        .await
        .unwrap()
        .stacks()
        .iter()
        .filter(|stack| {
            stack
                .stack_status()
                .is_some_and(|status| status.as_str() != "DELETE_COMPLETE")
        })
        .filter_map(|stack| stack.stack_name().map(str::to_owned))
        .collect()
}

async fn function_sha(world: &World, name: &str) -> String {
    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let function = lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .unwrap();
    function
        .configuration()
        .and_then(|configuration| configuration.code_sha256())
        .unwrap_or_default()
        .to_owned()
}

/// Every emulated resource exists with the settings the templates give it.
async fn verify_deployed_resources(world: &World, report: &DeployReport) {
    verify_table(world).await;
    verify_queues(world).await;
    verify_bus_and_rules(world).await;
    verify_state_machine(world).await;
    verify_functions(world).await;
    verify_api_service_and_image(world, report).await;
    verify_api_origin_closed_to_all_but_cloudfront(world).await;
}

/// The api stack got the region's CloudFront origin-facing prefix list, looked up by name.
async fn verify_api_origin_closed_to_all_but_cloudfront(world: &World) {
    let ec2 = aws_sdk_ec2::Client::new(&world.sdk);
    let lists = ec2.describe_managed_prefix_lists().send().await.unwrap();
    let cloudfront = lists
        .prefix_lists()
        .iter()
        .find(|list| {
            list.prefix_list_name() == Some("com.amazonaws.global.cloudfront.origin-facing")
        })
        .and_then(|list| list.prefix_list_id())
        .expect("moto has CloudFront's origin-facing list");
    let cfn = aws_sdk_cloudformation::Client::new(&world.sdk);
    let described = cfn
        .describe_stacks()
        .stack_name(world.stack("api"))
        .send()
        .await
        .unwrap();
    let parameter = described.stacks()[0]
        .parameters()
        .iter()
        .find(|parameter| parameter.parameter_key() == Some("CloudFrontPrefixListId"))
        .and_then(|parameter| parameter.parameter_value())
        .expect("the api stack has the parameter");
    assert_eq!(parameter, cloudfront);
}

async fn verify_table(world: &World) {
    let (_, table) = world
        .resources_of_type("data", "AWS::DynamoDB::Table")
        .next()
        .unwrap();
    let properties = &table["Properties"];
    let dynamodb = aws_sdk_dynamodb::Client::new(&world.sdk);
    let described = dynamodb
        .describe_table()
        .table_name(properties["TableName"].as_str().unwrap())
        .send()
        .await
        .expect("the table exists");
    let table = described.table().unwrap();
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|key| {
            (
                key.attribute_name().to_owned(),
                key.key_type().as_str().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = properties["KeySchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            (
                key["AttributeName"].as_str().unwrap().to_owned(),
                key["KeyType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys, expected);
    let indexes: BTreeSet<&str> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    let expected: BTreeSet<&str> = properties["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|index| index["IndexName"].as_str().unwrap())
        .collect();
    assert_eq!(indexes, expected);
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode())
            .map(|mode| mode.as_str()),
        properties["BillingMode"].as_str()
    );
    assert_eq!(
        table
            .stream_specification()
            .and_then(|stream| stream.stream_view_type())
            .map(|view| view.as_str()),
        properties["StreamSpecification"]["StreamViewType"].as_str()
    );
}

async fn verify_queues(world: &World) {
    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let mut checked = 0;
    let mut arns = BTreeMap::new();
    for (logical_id, queue) in world.resources_of_type("messaging", "AWS::SQS::Queue") {
        let properties = &queue["Properties"];
        let name = properties["QueueName"].as_str().unwrap();
        let url = sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap_or_else(|_| panic!("queue {name} exists"));
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes: BTreeMap<String, String> = attributes
            .attributes()
            .unwrap()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
            .collect();
        arns.insert(logical_id.clone(), attributes["QueueArn"].clone());
        for (property, attribute) in [
            ("MessageRetentionPeriod", "MessageRetentionPeriod"),
            ("VisibilityTimeout", "VisibilityTimeout"),
        ] {
            if let Some(expected) = properties.get(property) {
                assert_eq!(
                    attributes[attribute],
                    expected.to_string(),
                    "{name} {attribute}"
                );
            }
        }
        checked += 1;
    }
    // Each work queue redrives to its own dead-letter queue after the synthesised receive count.
    for (logical_id, queue) in world.resources_of_type("messaging", "AWS::SQS::Queue") {
        let Some(redrive) = queue["Properties"].get("RedrivePolicy") else {
            continue;
        };
        let name = queue["Properties"]["QueueName"].as_str().unwrap();
        let url = sqs.get_queue_url().queue_name(name).send().await.unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap();
        let policy: Json = serde_json::from_str(
            &attributes.attributes().unwrap()
                [&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy],
        )
        .unwrap();
        let dead_letter = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        assert_eq!(
            policy["deadLetterTargetArn"], arns[dead_letter],
            "{logical_id}"
        );
        assert_eq!(
            policy["maxReceiveCount"].to_string().trim_matches('"'),
            redrive["maxReceiveCount"].to_string()
        );
    }
    assert_eq!(checked, 6, "three queues and three dead-letter queues");
}

async fn verify_bus_and_rules(world: &World) {
    let events = aws_sdk_eventbridge::Client::new(&world.sdk);
    let (_, bus) = world
        .resources_of_type("messaging", "AWS::Events::EventBus")
        .next()
        .unwrap();
    let bus_name = bus["Properties"]["Name"].as_str().unwrap();
    events
        .describe_event_bus()
        .name(bus_name)
        .send()
        .await
        .expect("the bus exists");
    let rules = events
        .list_rules()
        .event_bus_name(bus_name)
        .send()
        .await
        .unwrap();
    let deployed: BTreeMap<String, (Json, String)> = rules
        .rules()
        .iter()
        .map(|rule| {
            (
                rule.description().unwrap_or_default().to_owned(),
                (
                    serde_json::from_str(rule.event_pattern().unwrap()).unwrap(),
                    rule.name().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    // The messaging stack's rules feed queues; the workflow stack's starts the saga.
    let expected: Vec<(&String, &Json)> = world
        .resources_of_type("messaging", "AWS::Events::Rule")
        .chain(world.resources_of_type("workflow", "AWS::Events::Rule"))
        .collect();
    assert_eq!(deployed.len(), expected.len());
    for (logical_id, rule) in expected {
        let description = rule["Properties"]["Description"].as_str().unwrap();
        let (pattern, name) = deployed
            .get(description)
            .unwrap_or_else(|| panic!("rule {logical_id} exists"));
        assert_eq!(pattern, &rule["Properties"]["EventPattern"], "{logical_id}");
        let targets = events
            .list_targets_by_rule()
            .rule(name)
            .event_bus_name(bus_name)
            .send()
            .await
            .unwrap();
        let target_ids: BTreeSet<&str> =
            targets.targets().iter().map(|target| target.id()).collect();
        let expected_ids: BTreeSet<&str> = rule["Properties"]["Targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|target| target["Id"].as_str().unwrap())
            .collect();
        assert_eq!(target_ids, expected_ids, "{logical_id}");
        let service = if rule["Properties"]["Targets"][0]["Arn"].get("Ref").is_some() {
            ":states:"
        } else {
            ":sqs:"
        };
        assert!(
            targets
                .targets()
                .iter()
                .all(|target| target.arn().contains(service)),
            "{logical_id}"
        );
    }
}

async fn verify_state_machine(world: &World) {
    let sfn = aws_sdk_sfn::Client::new(&world.sdk);
    let machines = sfn.list_state_machines().send().await.unwrap();
    let (_, machine) = world
        .resources_of_type("workflow", "AWS::StepFunctions::StateMachine")
        .next()
        .unwrap();
    assert_eq!(machines.state_machines().len(), 1);
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(machines.state_machines()[0].state_machine_arn())
        .send()
        .await
        .unwrap();
    let definition: Json = serde_json::from_str(described.definition()).unwrap();
    let states = |definition: &Json| -> BTreeSet<String> {
        definition["States"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        states(&definition),
        states(&machine["Properties"]["Definition"])
    );
    assert_eq!(
        definition["StartAt"],
        machine["Properties"]["Definition"]["StartAt"]
    );
    // Every task invokes a deployed function: the substitutions resolved to real ARNs.
    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let functions: BTreeSet<String> = lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter_map(|function| function.function_arn().map(str::to_owned))
        .collect();
    let tasks: Vec<&Json> = definition["States"]
        .as_object()
        .unwrap()
        .values()
        .filter(|state| state["Type"] == "Task")
        .collect();
    assert!(!tasks.is_empty());
    for task in tasks {
        let resource = task["Resource"].as_str().unwrap();
        assert!(
            functions.contains(resource),
            "{resource} is not a deployed function"
        );
    }
}

async fn verify_functions(world: &World) {
    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let functions: Vec<(&String, &Json)> = world
        .resources_of_type("functions", "AWS::Lambda::Function")
        .collect();
    assert_eq!(functions.len(), world.plan.lambda_functions().len());
    for (logical_id, function) in functions {
        let properties = &function["Properties"];
        let name = properties["FunctionName"].as_str().unwrap();
        let deployed = lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .unwrap_or_else(|_| panic!("{name} exists"));
        let configuration = deployed.configuration().unwrap();
        assert_eq!(
            configuration.runtime().map(|runtime| runtime.as_str()),
            properties["Runtime"].as_str(),
            "{logical_id}"
        );
        assert_eq!(
            configuration.memory_size().map(i64::from),
            properties["MemorySize"].as_i64(),
            "{logical_id}"
        );
        assert_eq!(
            configuration.timeout().map(i64::from),
            properties["Timeout"].as_i64(),
            "{logical_id}"
        );
        assert_eq!(configuration.handler(), properties["Handler"].as_str());
        // The code is the uploaded zip: CodeSha256 is the base64 SHA-256 of its bytes.
        let function_name = name.trim_start_matches("eventforge-dev-");
        assert_eq!(
            configuration.code_sha256(),
            Some(lambda_sha(&world.assets.lambda_zips[function_name]).as_str()),
            "{name}"
        );
    }
    let mappings = lambda.list_event_source_mappings().send().await.unwrap();
    let expected = world
        .resources_of_type("functions", "AWS::Lambda::EventSourceMapping")
        .count();
    assert_eq!(mappings.event_source_mappings().len(), expected);
}

async fn verify_api_service_and_image(world: &World, report: &DeployReport) {
    let (service, task) = world.api_service().await;
    let (_, expected_service) = world
        .resources_of_type("api", "AWS::ECS::Service")
        .next()
        .unwrap();
    assert_eq!(
        i64::from(service.desired_count()),
        expected_service["Properties"]["DesiredCount"]
            .as_i64()
            .unwrap()
    );
    let (_, expected_task) = world
        .resources_of_type("api", "AWS::ECS::TaskDefinition")
        .next()
        .unwrap();
    // moto drops the task's Cpu (the profile reports it); memory it keeps.
    assert!(
        report.adaptations[&world.stack("api")]
            .ignored
            .iter()
            .any(|line| line.contains("Cpu"))
    );
    assert_eq!(
        task.memory(),
        expected_task["Properties"]["Memory"].as_str()
    );

    // The task runs the pushed image: repository URI from the bootstrap stack, tag = digest.
    let Some(ContainerImage::Oci(image)) = world.assets.image.as_ref() else {
        panic!("the world deploys the daemon-less image");
    };
    let repository_uri = &report.outputs[&world.stack("bootstrap")]["ApiRepositoryUri"];
    assert_eq!(
        task.container_definitions()[0].image(),
        Some(format!("{repository_uri}:{}", image.tag()).as_str())
    );
    let (_, repository) = repository_uri.split_once('/').unwrap();
    let manifest = reqwest::Client::new()
        .get(format!(
            "{}/v2/{repository}/manifests/{}",
            world.registry.endpoint,
            image.tag()
        ))
        .header("Accept", eventforge_deployer::image::MANIFEST_MEDIA_TYPE)
        .send()
        .await
        .unwrap();
    assert!(manifest.status().is_success(), "{}", manifest.status());
    assert_eq!(
        manifest.bytes().await.unwrap().as_ref(),
        image.manifest.as_slice()
    );
}

/// The profile's list of implemented types agrees with the installed moto, for every type the
/// platform uses: a moto upgrade that implements (or drops) one fails here, not silently.
#[test]
fn the_moto_profile_matches_the_installed_moto() {
    let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
    let used: BTreeSet<String> = assembly
        .stacks
        .iter()
        .flat_map(|stack| stack.template["Resources"].as_object().unwrap().values())
        .map(|resource| resource["Type"].as_str().unwrap().to_owned())
        .collect();
    let python = support::venv_tool("python");
    let output = Command::new(python)
        .args(["-c", "from moto.cloudformation.parsing import get_model_map; print('\\n'.join(sorted(get_model_map())))"])
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let implemented: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for resource_type in &used {
        assert_eq!(
            EmulatorProfile::Moto.implements(resource_type),
            implemented.contains(resource_type),
            "{resource_type}: the profile and moto disagree"
        );
    }
}

/// What moto cannot create is still checked: every template passes cfn-lint (the skipped user
/// pool, alarms, distribution, policies and scaling included).
#[test]
fn every_template_passes_cfn_lint() {
    let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<PathBuf> = assembly
        .write(dir.path(), Format::Json)
        .unwrap()
        .into_iter()
        .filter(|path| path.to_string_lossy().contains(".template."))
        .collect();
    let output = Command::new(support::venv_tool("cfn-lint"))
        .args(&written)
        .output()
        .expect("cfn-lint runs");
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A stack CloudFormation rejects fails the run with its name and the reason, and the stacks
/// that depend on it are not attempted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stack_is_named_with_its_reason_and_its_dependents_are_not_attempted() {
    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let sdk = moto
        .sdk_config()
        .await
        .to_builder()
        .endpoint_url(moto.direct_endpoint())
        .build();
    let deployer = Deployer::new(Target {
        sdk: sdk.clone(),
        emulator: Some(EmulatorProfile::Moto),
        registry: None,
        cfn_execution_role: None,
    });
    let stack = |name: &str, template: Json, dependencies: &[&str]| {
        eventforge_deployer::plan::PlannedStack {
            name: name.to_owned(),
            template,
            dependencies: dependencies
                .iter()
                .map(|dependency| (*dependency).to_owned())
                .collect(),
            assets: Vec::new(),
        }
    };
    let queue = serde_json::json!({ "Resources": { "Queue": { "Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": { "Fn::ImportValue": "nowhere:Missing" } } } } });
    let plan = Plan {
        app: "broken".to_owned(),
        stacks: vec![
            stack("broken-queue", queue, &[]),
            stack(
                "broken-user",
                serde_json::json!({ "Resources": { "Topic": { "Type": "AWS::SNS::Topic", "Properties": {} } } }),
                &["broken-queue"],
            ),
        ],
    };
    let recorder = Arc::new(Recorder::default());
    let error = deployer
        .deploy(
            &plan,
            &Assets::default(),
            &DeployOptions::default(),
            recorder.clone(),
        )
        .await
        .expect_err("the import of a missing export fails");
    let message = error.to_string();
    assert!(
        message.contains("broken-queue") && message.contains("nowhere:Missing"),
        "{message}"
    );
    let started: Vec<String> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|progress| match progress {
            Progress::Started { stack, .. } => Some(stack.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec!["broken-queue".to_owned()]);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    assert!(!stack_names(&cfn).await.contains("broken-user"));
}
