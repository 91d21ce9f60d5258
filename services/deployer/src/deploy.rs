//! The deployer: bootstrap, assets, then every stack in dependency order (independent stacks
//! concurrently), skipping stacks whose fingerprint is already deployed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use eventforge_topology::StackOutput;
use serde_json::Value as Json;
use tokio::task::JoinSet;
use typed_cloudformation::stack::AssetKind;

use crate::assets;
use crate::cfn::{self, Apply, Change, DeployedStack};
use crate::docker::{Docker, DockerImage, Login};
use crate::emulator::{Adaptation, EmulatorProfile, ExecutionMode};
use crate::error::DeployError;
use crate::image::{self, Image};
use crate::lock::{StageLock, Taken};
use crate::plan::{FINGERPRINT_TAG, Plan, PlannedStack, TEMPLATE_TAG, fingerprint, template_hash};
use crate::progress::{Outcome, Progress, Reporter};

/// How the deployer's AWS calls are retried: throttling (`Throttling`, `Rate exceeded`,
/// `TooManyRequestsException`, `SlowDown`) and transient 5xx answers, with exponential backoff
/// and full jitter. CloudFormation's describe calls have low per-account rate limits that
/// concurrent stacks, a CI job and the console share; the SDK's default of 3 attempts gives up
/// within a second or two of throttling, which fails a half-finished deploy.
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20))
}

/// The bootstrap stack's outputs the deployer reads.
pub const ASSET_BUCKET_OUTPUT: &str = StackOutput::AssetBucketName.name();
pub const REPOSITORY_OUTPUT: &str = StackOutput::ApiRepositoryUri.name();

/// Where to deploy.
#[derive(Clone)]
pub struct Target {
    pub sdk: SdkConfig,
    /// Set when the endpoint is an emulator; changes what is sent, and always says so.
    pub emulator: Option<EmulatorProfile>,
    /// A registry to push images to instead of the repository's own (an emulator has none):
    /// `http://127.0.0.1:5000`. Images go to ECR with its token when unset.
    pub registry: Option<String>,
    /// The role CloudFormation assumes to create, update and delete resources (the
    /// deploy-access stack's execution role); `None`: the caller's own permissions.
    pub cfn_execution_role: Option<String>,
}

/// The built artefacts the stacks refer to.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Lambda zips by function name.
    pub lambda_zips: BTreeMap<String, PathBuf>,
    pub image: Option<ContainerImage>,
}

/// The API's container image, made one of two ways.
#[derive(Debug, Clone)]
pub enum ContainerImage {
    /// Assembled here and pushed through the registry API: no daemon (the default).
    Oci(Image),
    /// Built by a Docker daemon and pushed with `docker push` (`deploy --docker`).
    Docker { docker: Docker, image: DockerImage },
}

impl ContainerImage {
    /// The content-addressed tag the stacks' image parameter takes.
    pub fn tag(&self) -> String {
        match self {
            Self::Oci(image) => image.tag(),
            Self::Docker { image, .. } => image.tag.clone(),
        }
    }

    /// Bytes pushed for the OCI image; the daemon's (uncompressed) size for Docker's.
    pub fn size(&self) -> u64 {
        match self {
            Self::Oci(image) => image.compressed_size(),
            Self::Docker { image, .. } => image.size,
        }
    }

    /// Pushes the image to `repository` of `registry` unless its tag is there already
    /// (`false`). `login` is what `docker login` needs for a registry that wants credentials;
    /// the OCI push sends the registry's own authorization instead.
    pub async fn push(
        &self,
        registry: &image::Registry,
        repository: &str,
        login: Option<&Login>,
    ) -> Result<bool, DeployError> {
        match self {
            Self::Oci(image) => registry.push(repository, image).await,
            Self::Docker { docker, image } => {
                if registry.has_tag(repository, &image.tag).await? {
                    return Ok(false);
                }
                // `docker push` names the registry by host, without the scheme.
                let base = registry.base.as_str();
                let host = base.split_once("://").map_or(base, |(_, host)| host);
                let reference = format!("{host}/{repository}");
                let (docker, image, login) = (docker.clone(), image.clone(), login.cloned());
                tokio::task::spawn_blocking(move || {
                    docker.push(&image, &reference, login.as_ref())
                })
                .await
                .map_err(|error| DeployError::api("docker push", error))??;
                Ok(true)
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Deploy only these stacks (their dependencies must be deployed already).
    pub only: Vec<String>,
    /// Update Lambda code and the API service's image in place when they are the only change,
    /// skipping CloudFormation.
    pub hotswap: bool,
    /// Values for the stacks' own parameters (not the asset ones), by stack, then parameter
    /// name: the SES sender, the alarm email, ... A parameter not given here keeps the value it
    /// has in the deployed stack, else takes its template default, so a value set once (here or
    /// in the console) stays until it is set again.
    pub parameters: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default)]
pub struct DeployReport {
    pub outcomes: BTreeMap<String, Outcome>,
    /// Outputs of every stack of the plan that is deployed, by stack then output name.
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// What the emulator profile changed, by stack (empty against AWS).
    pub adaptations: BTreeMap<String, Adaptation>,
}

/// What `destroy` did.
#[derive(Debug, Default)]
pub struct DestroyReport {
    pub deleted: Vec<String>,
    /// Retained resources deleted by `purge`, as `<type> <physical id>`.
    pub purged: Vec<String>,
    /// Stacks left because a stack that depends on them could not be deleted.
    pub kept: Vec<String>,
    pub failures: Vec<DeployError>,
}

/// One stack's standing, for `status`.
#[derive(Debug, Clone)]
pub struct StackStatus {
    pub name: String,
    pub deployed: Option<DeployedStack>,
    /// Whether the local template differs from the deployed one (`None` when not deployed).
    pub template_differs: Option<bool>,
}

#[derive(Clone)]
pub struct Deployer {
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    ec2: aws_sdk_ec2::Client,
    ecr: aws_sdk_ecr::Client,
    lambda: aws_sdk_lambda::Client,
    ecs: aws_sdk_ecs::Client,
    pub(crate) cloudfront: aws_sdk_cloudfront::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    pub(crate) emulator: Option<EmulatorProfile>,
    pub(crate) region: Option<String>,
    registry: Option<String>,
    cfn_execution_role: Option<String>,
    http: reqwest::Client,
}

/// `(type, physical id)` of a stack's retained resources, and of those deleted with it.
type ResourcesByRetention = (Vec<(String, String)>, Vec<(String, String)>);

/// A stack ready to apply: the template as sent and its parameters.
struct Prepared {
    name: String,
    template: Json,
    body: String,
    parameters: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

impl Deployer {
    pub fn new(target: Target) -> Self {
        let sdk = target.sdk.to_builder().retry_config(retries()).build();
        let target = Target { sdk, ..target };
        let s3_config = aws_sdk_s3::config::Builder::from(&target.sdk)
            // Emulators serve buckets under the path, not as subdomains of 127.0.0.1.
            .force_path_style(target.emulator.is_some())
            .build();
        Self {
            cfn: aws_sdk_cloudformation::Client::new(&target.sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            ec2: aws_sdk_ec2::Client::new(&target.sdk),
            ecr: aws_sdk_ecr::Client::new(&target.sdk),
            lambda: aws_sdk_lambda::Client::new(&target.sdk),
            ecs: aws_sdk_ecs::Client::new(&target.sdk),
            cloudfront: aws_sdk_cloudfront::Client::new(&target.sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&target.sdk),
            region: target.sdk.region().map(ToString::to_string),
            emulator: target.emulator,
            registry: target.registry,
            cfn_execution_role: target.cfn_execution_role,
            http: reqwest::Client::new(),
        }
    }

    fn mode(&self) -> ExecutionMode {
        self.emulator
            .map_or(ExecutionMode::ChangeSet, EmulatorProfile::execution_mode)
    }

    pub fn cloudformation(&self) -> &aws_sdk_cloudformation::Client {
        &self.cfn
    }

    /// The template as it will be sent, and what the emulator profile changed in it.
    pub fn template_for(&self, stack: &PlannedStack) -> (Json, Adaptation) {
        match self.emulator {
            Some(profile) => profile.adapt(&stack.name, &stack.template),
            None => (stack.template.clone(), Adaptation::default()),
        }
    }

    fn prepare(&self, stack: &PlannedStack, parameters: BTreeMap<String, String>) -> Prepared {
        let (template, _) = self.template_for(stack);
        let template_hash = template_hash(&template);
        let tags = BTreeMap::from([
            (
                FINGERPRINT_TAG.to_owned(),
                fingerprint(&template_hash, &parameters),
            ),
            (TEMPLATE_TAG.to_owned(), template_hash),
        ]);
        Prepared {
            name: stack.name.clone(),
            body: template.to_string(),
            template,
            parameters,
            tags,
        }
    }

    /// Deploys the plan (or `options.only`): bootstrap, assets, stacks. Stops starting stacks
    /// after the first failure, lets the running ones finish, and returns the failure.
    pub async fn deploy(
        &self,
        plan: &Plan,
        assets: &Assets,
        options: &DeployOptions,
        reporter: Arc<dyn Reporter>,
    ) -> Result<DeployReport, DeployError> {
        for name in &options.only {
            if plan.stack(name).is_none() {
                return Err(DeployError::UnknownStack(name.clone()));
            }
        }
        let selected: Vec<&PlannedStack> = plan
            .stacks
            .iter()
            .filter(|stack| options.only.is_empty() || options.only.contains(&stack.name))
            .collect();
        reporter.report(Progress::Planned {
            stacks: selected.iter().map(|stack| stack.name.clone()).collect(),
        });
        let mut report = DeployReport::default();
        for stack in &selected {
            let (_, adaptation) = self.template_for(stack);
            if !adaptation.is_empty() {
                reporter.report(Progress::Emulator {
                    stack: stack.name.clone(),
                    adaptation: adaptation.clone(),
                });
                report.adaptations.insert(stack.name.clone(), adaptation);
            }
        }
        let mut deployed = cfn::describe_all(&self.cfn).await?;
        let bootstrap_name = plan.bootstrap_name();
        let mut lock: Option<StageLock> = None;
        let result: Result<DeployReport, DeployError> = async {
            // An operation an earlier run left on the bootstrap stack is waited out first.
            self.settle(&bootstrap_name, &mut deployed, reporter.as_ref())
                .await?;
            if let Some(bootstrap) = deployed.get(&bootstrap_name) {
                lock = Some(
                    self.lock(plan, bootstrap, "deploy", reporter.as_ref())
                        .await?,
                );
            }

            // The bootstrap stack first: assets need its bucket and repository.
            let needs_assets = selected.iter().any(|stack| !stack.assets.is_empty());
            if let Some(bootstrap) = plan.stack(&bootstrap_name) {
                let bootstrap_selected = selected.iter().any(|stack| stack.name == bootstrap_name);
                if bootstrap_selected || (needs_assets && !deployed.contains_key(&bootstrap_name)) {
                    let prepared = self.prepare(bootstrap, BTreeMap::new());
                    let started = Instant::now();
                    let outcome = self
                        .apply(
                            &prepared,
                            deployed.get(&bootstrap_name),
                            false,
                            reporter.as_ref(),
                        )
                        .await;
                    finish(&reporter, &bootstrap_name, &outcome, started);
                    report.outcomes.insert(bootstrap_name.clone(), outcome?);
                    if let Some(stack) = cfn::describe(&self.cfn, &bootstrap_name).await? {
                        deployed.insert(bootstrap_name.clone(), stack);
                    }
                }
            }
            // A first deploy takes the lock as soon as the bucket it lives in exists.
            if lock.is_none()
                && let Some(bootstrap) = deployed.get(&bootstrap_name)
            {
                lock = Some(
                    self.lock(plan, bootstrap, "deploy", reporter.as_ref())
                        .await?,
                );
            }
            for stack in &selected {
                self.settle(&stack.name, &mut deployed, reporter.as_ref())
                    .await?;
            }
            let asset_values = if needs_assets {
                let bootstrap = deployed.get(&bootstrap_name).ok_or_else(|| {
                    DeployError::MissingDependency {
                        missing: bootstrap_name.clone(),
                    }
                })?;
                self.upload_assets(&selected, bootstrap, assets, reporter.as_ref())
                    .await?
            } else {
                BTreeMap::new()
            };

            let remaining: Vec<Prepared> = selected
                .iter()
                .filter(|stack| stack.name != bootstrap_name)
                .map(|stack| {
                    let mut parameters =
                        own_parameters(stack, deployed.get(&stack.name), &options.parameters);
                    parameters.extend(stack.assets.iter().filter_map(|asset| {
                        Some((
                            asset.parameter.clone(),
                            asset_values.get(&asset.kind)?.clone(),
                        ))
                    }));
                    self.prepare(stack, parameters)
                })
                .collect();
            let outcomes = self
                .apply_in_order(plan, remaining, &deployed, options.hotswap, reporter)
                .await;
            let mut first_error = None;
            let mut failures = 0;
            for (name, outcome) in outcomes {
                match outcome {
                    Ok(outcome) => {
                        report.outcomes.insert(name, outcome);
                    }
                    Err(error) => {
                        failures += 1;
                        report
                            .outcomes
                            .insert(name, Outcome::Failed(error.to_string()));
                        first_error.get_or_insert(error);
                    }
                }
            }
            if let Some(error) = first_error {
                return Err(if failures > 1 {
                    tracing::error!("{error}");
                    DeployError::Several(failures)
                } else {
                    error
                });
            }
            report.outputs = self.outputs(plan).await?;
            Ok(report)
        }
        .await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }

    /// Waits out an operation still running on the named stack, if it is deployed, and records
    /// how it settled (gone, when the operation deleted it).
    async fn settle(
        &self,
        name: &str,
        deployed: &mut BTreeMap<String, DeployedStack>,
        reporter: &dyn Reporter,
    ) -> Result<(), DeployError> {
        let Some(existing) = deployed.get(name).filter(|stack| cfn::is_busy(stack)) else {
            return Ok(());
        };
        match cfn::settle(&self.cfn, existing, self.mode(), reporter).await? {
            Some(settled) => deployed.insert(name.to_owned(), settled),
            None => deployed.remove(name),
        };
        Ok(())
    }

    /// The stage's lock in the bootstrap stack's asset bucket; see [`crate::lock`].
    async fn lock(
        &self,
        plan: &Plan,
        bootstrap: &DeployedStack,
        command: &str,
        reporter: &dyn Reporter,
    ) -> Result<StageLock, DeployError> {
        let bucket = bootstrap.outputs.get(ASSET_BUCKET_OUTPUT).ok_or_else(|| {
            DeployError::MissingBootstrapOutput {
                stack: bootstrap.name.clone(),
                output: ASSET_BUCKET_OUTPUT.to_owned(),
            }
        })?;
        match StageLock::take(&self.s3, bucket, &plan.app, command).await? {
            Taken::Fresh(lock) => Ok(lock),
            Taken::TakenOver(lock, holder, why) => {
                reporter.report(Progress::Notice(format!(
                    "took over the deploy lock of {} (pid {}, `{}`): {why}",
                    holder.who, holder.pid, holder.command
                )));
                Ok(lock)
            }
        }
    }

    /// Outputs of the plan's deployed stacks.
    pub async fn outputs(
        &self,
        plan: &Plan,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, DeployError> {
        let deployed = cfn::describe_all(&self.cfn).await?;
        Ok(plan
            .stacks
            .iter()
            .filter_map(|stack| {
                Some((
                    stack.name.clone(),
                    deployed.get(&stack.name)?.outputs.clone(),
                ))
            })
            .collect())
    }

    /// The id of the AWS-managed prefix list `name` in the target's region.
    async fn managed_prefix_list(&self, name: &str) -> Result<String, DeployError> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("prefix-list-name")
            .values(name)
            .build();
        let found = self
            .ec2
            .describe_managed_prefix_lists()
            .filters(filter)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeManagedPrefixLists", error))?;
        found
            .prefix_lists()
            .iter()
            .find(|list| list.prefix_list_name() == Some(name))
            .and_then(|list| list.prefix_list_id())
            .map(str::to_owned)
            .ok_or_else(|| {
                DeployError::MissingAsset(format!(
                    "the AWS-managed prefix list {name}: the region has none of that name"
                ))
            })
    }

    /// Uploads the zips and pushes the image the selected stacks need, and looks up the managed
    /// prefix lists; returns each asset's parameter value (the zip's key, the image's tag, the
    /// prefix list's id).
    async fn upload_assets(
        &self,
        selected: &[&PlannedStack],
        bootstrap: &DeployedStack,
        assets: &Assets,
        reporter: &dyn Reporter,
    ) -> Result<BTreeMap<AssetKind, String>, DeployError> {
        let output = |name: &str| {
            bootstrap.outputs.get(name).cloned().ok_or_else(|| {
                DeployError::MissingBootstrapOutput {
                    stack: bootstrap.name.clone(),
                    output: name.to_owned(),
                }
            })
        };
        let kinds: BTreeSet<&AssetKind> = selected
            .iter()
            .flat_map(|stack| &stack.assets)
            .map(|asset| &asset.kind)
            .collect();
        let mut values = BTreeMap::new();
        let mut uploads = JoinSet::new();
        for kind in kinds {
            match kind {
                AssetKind::LambdaZip { function } => {
                    let path = assets
                        .lambda_zips
                        .get(function)
                        .ok_or_else(|| {
                            DeployError::MissingAsset(format!("the Lambda zip of {function}"))
                        })?
                        .clone();
                    let (s3, bucket, function, kind) = (
                        self.s3.clone(),
                        output(ASSET_BUCKET_OUTPUT)?,
                        function.clone(),
                        kind.clone(),
                    );
                    uploads.spawn(async move {
                        let zip = assets::upload_zip(&s3, &bucket, &function, &path).await;
                        zip.map(|(zip, uploaded)| (kind, zip, uploaded))
                    });
                }
                AssetKind::ContainerImage { name } => {
                    let image = assets.image.as_ref().ok_or_else(|| {
                        DeployError::MissingAsset(format!("the container image {name}"))
                    })?;
                    let repository = output(REPOSITORY_OUTPUT)?;
                    let pushed = self.push_image(image, &repository).await?;
                    reporter.report(Progress::Asset {
                        name: format!("{repository}:{}", image.tag()),
                        uploaded: pushed,
                        bytes: image.size(),
                    });
                    values.insert(kind.clone(), image.tag());
                }
                AssetKind::ManagedPrefixList { name } => {
                    values.insert(kind.clone(), self.managed_prefix_list(name).await?);
                }
            }
        }
        while let Some(joined) = uploads.join_next().await {
            let (kind, zip, uploaded) =
                joined.map_err(|error| DeployError::api("upload", error))??;
            reporter.report(Progress::Asset {
                name: zip.key(),
                uploaded,
                bytes: zip.bytes,
            });
            values.insert(kind, zip.key());
        }
        Ok(values)
    }

    /// Pushes the image to the repository (or to the configured stand-in registry); `false`
    /// when it was there already.
    async fn push_image(
        &self,
        image: &ContainerImage,
        repository_uri: &str,
    ) -> Result<bool, DeployError> {
        let (host, name) = repository_uri.split_once('/').ok_or_else(|| {
            DeployError::Registry(format!("not a repository URI: {repository_uri}"))
        })?;
        let (base, token) = match &self.registry {
            Some(registry) => (registry.trim_end_matches('/').to_owned(), None),
            None => (format!("https://{host}"), Some(self.ecr_token().await?)),
        };
        let registry = image::Registry {
            http: self.http.clone(),
            base: base.clone(),
            authorization: token.as_ref().map(|token| format!("Basic {token}")),
        };
        let login = token.map(|token| ecr_login(&base, &token)).transpose()?;
        image.push(&registry, name, login.as_ref()).await
    }

    /// ECR's registry token: base64 of `AWS:<password>`.
    async fn ecr_token(&self) -> Result<String, DeployError> {
        let token = self
            .ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|error| DeployError::sdk("GetAuthorizationToken", error))?;
        token
            .authorization_data()
            .first()
            .and_then(|data| data.authorization_token())
            .map(str::to_owned)
            .ok_or_else(|| DeployError::Registry("ECR returned no token".to_owned()))
    }

    /// Applies the prepared stacks, each once its dependencies in the run have succeeded.
    async fn apply_in_order(
        &self,
        plan: &Plan,
        stacks: Vec<Prepared>,
        deployed: &BTreeMap<String, DeployedStack>,
        hotswap: bool,
        reporter: Arc<dyn Reporter>,
    ) -> Vec<(String, Result<Outcome, DeployError>)> {
        let in_run: BTreeSet<String> = stacks.iter().map(|stack| stack.name.clone()).collect();
        let mut results = Vec::new();
        let mut pending: Vec<Prepared> = Vec::new();
        for stack in stacks {
            let dependencies = &plan
                .stack(&stack.name)
                .map(|s| s.dependencies.clone())
                .unwrap_or_default();
            if let Some(missing) = dependencies.iter().find(|dependency| {
                !in_run.contains(*dependency) && !deployed.contains_key(*dependency)
            }) {
                results.push((
                    stack.name.clone(),
                    Err(DeployError::MissingDependency {
                        missing: missing.clone(),
                    }),
                ));
            } else {
                pending.push(stack);
            }
        }
        if !results.is_empty() {
            return results;
        }
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut failed = false;
        let mut running = JoinSet::new();
        loop {
            if !failed {
                let (ready, waiting): (Vec<Prepared>, Vec<Prepared>) =
                    pending.into_iter().partition(|stack| {
                        plan.stack(&stack.name).is_some_and(|planned| {
                            planned.dependencies.iter().all(|dependency| {
                                !in_run.contains(dependency) || done.contains(dependency)
                            })
                        })
                    });
                pending = waiting;
                for stack in ready {
                    let deployer = self.clone();
                    let existing = deployed.get(&stack.name).cloned();
                    let reporter = reporter.clone();
                    running.spawn(async move {
                        let started = Instant::now();
                        let outcome = deployer
                            .apply(&stack, existing.as_ref(), hotswap, reporter.as_ref())
                            .await;
                        finish(&reporter, &stack.name, &outcome, started);
                        (stack.name, outcome)
                    });
                }
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            match joined {
                Ok((name, outcome)) => {
                    if outcome.is_ok() {
                        done.insert(name.clone());
                    } else {
                        failed = true;
                    }
                    results.push((name, outcome));
                }
                Err(error) => {
                    failed = true;
                    results.push(("?".to_owned(), Err(DeployError::api("deploy task", error))));
                }
            }
        }
        results
    }

    /// One stack: skip when current, hotswap when asked and possible, else apply.
    async fn apply(
        &self,
        stack: &Prepared,
        existing: Option<&DeployedStack>,
        hotswap: bool,
        reporter: &dyn Reporter,
    ) -> Result<Outcome, DeployError> {
        if let Some(existing) = existing {
            if existing.is_healthy()
                && existing.tags.get(FINGERPRINT_TAG) == stack.tags.get(FINGERPRINT_TAG)
            {
                return Ok(Outcome::Unchanged);
            }
            if hotswap
                && existing.is_healthy()
                && existing.tags.get(TEMPLATE_TAG) == stack.tags.get(TEMPLATE_TAG)
                && let Some(updated) = self.hotswap(stack, existing).await?
            {
                return Ok(Outcome::Hotswapped(updated));
            }
        }
        // CloudFormation can only delete a stack whose first creation rolled back; the next
        // deploy does that itself rather than asking for a manual clean-up.
        let existing = match existing {
            Some(failed) if cfn::is_failed_creation(failed) => {
                reporter.report(Progress::Notice(format!(
                    "{}: its creation failed earlier and was rolled back ({}); deleting it to \
                     create it again",
                    failed.name,
                    failed.reason.as_deref().unwrap_or("no reason given")
                )));
                cfn::delete(
                    &self.cfn,
                    &failed.name,
                    self.mode(),
                    self.cfn_execution_role.as_deref(),
                    reporter,
                )
                .await?;
                None
            }
            other => other,
        };
        cfn::apply(
            &self.cfn,
            Apply {
                name: &stack.name,
                body: stack.body.clone(),
                parameters: &stack.parameters,
                tags: &stack.tags,
                existing,
                mode: self.mode(),
                role_arn: self.cfn_execution_role.as_deref(),
            },
            reporter,
        )
        .await
    }

    /// Updates in place what the changed parameters feed, when that is the only change (same
    /// template): a function's code from its zip's new key (UpdateFunctionCode), a service's
    /// container image from its new tag (a new revision of its task definition, then
    /// UpdateService). `None` when a full deploy is needed; nothing is changed then. The stack
    /// keeps its old parameters and fingerprint, so the next plain deploy brings CloudFormation
    /// up to date.
    async fn hotswap(
        &self,
        stack: &Prepared,
        existing: &DeployedStack,
    ) -> Result<Option<Vec<String>>, DeployError> {
        let resources = stack.template["Resources"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut swaps = Vec::new();
        for (parameter, value) in &stack.parameters {
            let Some(old) = existing.parameters.get(parameter) else {
                return Ok(None);
            };
            if old == value {
                continue;
            }
            let swap = match self
                .code_swap(&resources, parameter, value)
                .await?
                .or_else(|| image_swap(&resources, parameter, old, value))
            {
                Some(swap) => swap,
                None => return Ok(None),
            };
            swaps.push(swap);
        }
        if swaps.is_empty() {
            return Ok(None);
        }
        let physical: BTreeMap<String, String> = cfn::resources(&self.cfn, &stack.name)
            .await?
            .into_iter()
            .map(|(logical, _, physical)| (logical, physical))
            .collect();
        // Everything is resolved before anything changes, so a swap that turns out impossible
        // leaves the whole stack to CloudFormation.
        let mut ready = Vec::new();
        for swap in swaps {
            match self.resolve(swap, &physical).await? {
                Some(resolved) => ready.push(resolved),
                None => return Ok(None),
            }
        }
        let mut updated = Vec::new();
        for swap in ready {
            updated.extend(self.execute(swap).await?);
        }
        Ok(Some(updated))
    }

    /// The function whose code key is `parameter`, with the bucket its code is in.
    async fn code_swap(
        &self,
        resources: &serde_json::Map<String, Json>,
        parameter: &str,
        key: &str,
    ) -> Result<Option<Swap>, DeployError> {
        let reference = serde_json::json!({ "Ref": parameter });
        let Some((logical_id, resource)) = resources.iter().find(|(_, resource)| {
            resource["Type"] == "AWS::Lambda::Function"
                && resource.pointer("/Properties/Code/S3Key") == Some(&reference)
        }) else {
            return Ok(None);
        };
        Ok(self
            .resolve_bucket(resource.pointer("/Properties/Code/S3Bucket"))
            .await?
            .map(|bucket| Swap::Code {
                function: logical_id.clone(),
                bucket,
                key: key.to_owned(),
            }))
    }

    /// Physical ids, and for an image the new task definition, of one swap.
    async fn resolve(
        &self,
        swap: Swap,
        physical: &BTreeMap<String, String>,
    ) -> Result<Option<Resolved>, DeployError> {
        let physical_id = |logical: &str| physical.get(logical).filter(|id| !id.is_empty());
        match swap {
            Swap::Code {
                function,
                bucket,
                key,
            } => {
                let Some(function) = physical_id(&function) else {
                    return Ok(None);
                };
                // A function swapped by an earlier hotswap already runs this code, although
                // its stack still holds the old key.
                let deployed = self
                    .lambda
                    .get_function()
                    .function_name(function)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("GetFunction", error))?;
                let live = deployed
                    .configuration()
                    .and_then(|configuration| configuration.code_sha256());
                if live.is_some() && live == assets::code_sha256_of_key(&key).as_deref() {
                    return Ok(Some(Resolved::AlreadyLive));
                }
                Ok(Some(Resolved::Code {
                    function: function.clone(),
                    bucket,
                    key,
                }))
            }
            Swap::Image {
                task_definition,
                service,
                cluster,
                container,
                old_tag,
                new_tag,
            } => {
                let (Some(task_definition), Some(service)) =
                    (physical_id(&task_definition), physical_id(&service))
                else {
                    return Ok(None);
                };
                let cluster = match cluster {
                    ClusterRef::Logical(logical) => match physical_id(&logical) {
                        Some(cluster) => cluster.clone(),
                        None => return Ok(None),
                    },
                    ClusterRef::Name(name) => name,
                };
                if self
                    .service_runs_tag(&cluster, service, &container, &new_tag)
                    .await?
                {
                    return Ok(Some(Resolved::AlreadyLive));
                }
                let described = self
                    .ecs
                    .describe_task_definition()
                    .task_definition(task_definition)
                    .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("DescribeTaskDefinition", error))?;
                let Some(current) = described.task_definition() else {
                    return Ok(None);
                };
                let Some(registration) =
                    with_image(current, described.tags(), &container, &old_tag, &new_tag)
                else {
                    return Ok(None);
                };
                Ok(Some(Resolved::Image {
                    cluster,
                    service: service.clone(),
                    registration: Box::new(registration),
                }))
            }
        }
    }

    /// Whether `service`'s current task definition (which an earlier hotswap may have
    /// replaced) already runs `tag` in `container`.
    async fn service_runs_tag(
        &self,
        cluster: &str,
        service: &str,
        container: &str,
        tag: &str,
    ) -> Result<bool, DeployError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeServices", error))?;
        let Some(current) = described
            .services()
            .first()
            .and_then(|service| service.task_definition())
        else {
            return Ok(false);
        };
        let definition = self
            .ecs
            .describe_task_definition()
            .task_definition(current)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeTaskDefinition", error))?;
        Ok(definition.task_definition().is_some_and(|definition| {
            definition.container_definitions().iter().any(|definition| {
                definition.name() == Some(container)
                    && definition
                        .image()
                        .is_some_and(|image| image.ends_with(&format!(":{tag}")))
            })
        }))
    }

    /// Carries out one resolved swap; returns the name of what it updated, `None` when it was
    /// live already.
    async fn execute(&self, swap: Resolved) -> Result<Option<String>, DeployError> {
        match swap {
            Resolved::AlreadyLive => Ok(None),
            Resolved::Code {
                function,
                bucket,
                key,
            } => {
                self.lambda
                    .update_function_code()
                    .function_name(&function)
                    .s3_bucket(&bucket)
                    .s3_key(&key)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("UpdateFunctionCode", error))?;
                Ok(Some(function))
            }
            Resolved::Image {
                cluster,
                service,
                registration,
            } => {
                let registered = registration
                    .send_with(&self.ecs)
                    .await
                    .map_err(|error| DeployError::sdk("RegisterTaskDefinition", error))?;
                let arn = registered
                    .task_definition()
                    .and_then(|registered| registered.task_definition_arn())
                    .ok_or_else(|| DeployError::Api {
                        operation: "RegisterTaskDefinition".to_owned(),
                        message: "no task definition ARN in the answer".to_owned(),
                    })?;
                self.ecs
                    .update_service()
                    .cluster(&cluster)
                    .service(&service)
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("UpdateService", error))?;
                // ARNs end in `service/<cluster>/<name>` and `task-definition/<family>:<revision>`.
                let name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_owned();
                Ok(Some(format!("{} ({})", name(&service), name(arn))))
            }
        }
    }

    /// The bucket a template value names: a literal, or an import of another stack's export.
    async fn resolve_bucket(&self, value: Option<&Json>) -> Result<Option<String>, DeployError> {
        match value {
            Some(Json::String(bucket)) => Ok(Some(bucket.clone())),
            Some(Json::Object(object)) => {
                let Some(Json::String(export)) = object.get("Fn::ImportValue") else {
                    return Ok(None);
                };
                let mut pages = self.cfn.list_exports().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|error| DeployError::sdk("ListExports", error))?;
                    if let Some(found) = page
                        .exports()
                        .iter()
                        .find(|item| item.name() == Some(export.as_str()))
                    {
                        return Ok(found.value().map(str::to_owned));
                    }
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Each stack's deployed status and whether its template differs from the local one.
    pub async fn status(&self, plan: &Plan) -> Result<Vec<StackStatus>, DeployError> {
        let deployed = cfn::describe_all(&self.cfn).await?;
        Ok(plan
            .stacks
            .iter()
            .map(|stack| {
                let deployed = deployed.get(&stack.name).cloned();
                let (template, _) = self.template_for(stack);
                let template_differs = deployed.as_ref().map(|deployed| {
                    deployed.tags.get(TEMPLATE_TAG) != Some(&template_hash(&template))
                });
                StackStatus {
                    name: stack.name.clone(),
                    deployed,
                    template_differs,
                }
            })
            .collect())
    }

    /// What deploying each stack would change, from change sets that are deleted unexecuted.
    /// Asset parameters keep their deployed values (a new stack gets a placeholder), so this
    /// shows template changes; asset changes show as the asset step of `deploy`.
    pub async fn diff(
        &self,
        plan: &Plan,
        only: &[String],
    ) -> Result<Vec<(String, Vec<Change>)>, DeployError> {
        let deployed = cfn::describe_all(&self.cfn).await?;
        let mut diffs = Vec::new();
        for stack in plan
            .stacks
            .iter()
            .filter(|stack| only.is_empty() || only.contains(&stack.name))
        {
            let existing = deployed.get(&stack.name);
            let parameters = stack
                .assets
                .iter()
                .map(|asset| {
                    let value = existing
                        .and_then(|existing| existing.parameters.get(&asset.parameter).cloned())
                        .unwrap_or_else(|| "not-yet-uploaded".to_owned());
                    (asset.parameter.clone(), value)
                })
                .collect();
            let prepared = self.prepare(stack, parameters);
            let changes = cfn::preview(
                &self.cfn,
                &Apply {
                    name: &prepared.name,
                    body: prepared.body.clone(),
                    parameters: &prepared.parameters,
                    tags: &prepared.tags,
                    existing,
                    mode: self.mode(),
                    role_arn: self.cfn_execution_role.as_deref(),
                },
            )
            .await?;
            diffs.push((stack.name.clone(), changes));
        }
        Ok(diffs)
    }

    /// Deletes the named stacks (all of the plan when empty) in reverse deploy order, stacks
    /// that depend on them first. Resources the templates retain (the table, buckets, the
    /// repository) survive unless `purge`, which deletes them after their stack. A stack that
    /// fails to delete does not stop the others, except the stacks it depends on (their exports
    /// are still in use); every failure is in the report.
    pub async fn destroy(
        &self,
        plan: &Plan,
        only: &[String],
        purge: bool,
        reporter: Arc<dyn Reporter>,
    ) -> Result<DestroyReport, DeployError> {
        for name in only {
            if plan.stack(name).is_none() {
                return Err(DeployError::UnknownStack(name.clone()));
            }
        }
        let names: Vec<String> = if only.is_empty() {
            plan.stacks
                .iter()
                .rev()
                .map(|stack| stack.name.clone())
                .collect()
        } else {
            plan.with_dependents_reversed(only)
        };
        let mut deployed = cfn::describe_all(&self.cfn).await?;
        let bootstrap_name = plan.bootstrap_name();
        let lock = match deployed.get(&bootstrap_name) {
            Some(bootstrap) => Some(
                self.lock(plan, bootstrap, "destroy", reporter.as_ref())
                    .await?,
            ),
            None => None,
        };
        let result = self
            .destroy_holding_lock(plan, names, &mut deployed, purge, reporter)
            .await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }

    async fn destroy_holding_lock(
        &self,
        plan: &Plan,
        names: Vec<String>,
        deployed: &mut BTreeMap<String, DeployedStack>,
        purge: bool,
        reporter: Arc<dyn Reporter>,
    ) -> Result<DestroyReport, DeployError> {
        // A deletion an interrupted run started is followed to its end, like any other
        // operation still running.
        for name in &names {
            self.settle(name, deployed, reporter.as_ref()).await?;
        }
        let names: Vec<String> = names
            .into_iter()
            .filter(|name| deployed.contains_key(name))
            .collect();
        reporter.report(Progress::Planned {
            stacks: names.clone(),
        });
        let mut report = DestroyReport::default();
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        for name in &names {
            if blocked.contains(name) {
                report.kept.push(name.clone());
                continue;
            }
            let (retained, deleted) = self.resources_by_retention(plan, name).await?;
            // CloudFormation cannot delete a bucket that holds objects, and `deploy` fills the
            // dashboard's site bucket.
            for (resource_type, bucket) in &deleted {
                if resource_type == "AWS::S3::Bucket" {
                    self.empty_bucket(bucket).await?;
                }
            }
            let retained = if purge { retained } else { Vec::new() };
            let started = Instant::now();
            let outcome = cfn::delete(
                &self.cfn,
                name,
                self.mode(),
                self.cfn_execution_role.as_deref(),
                reporter.as_ref(),
            )
            .await;
            finish(&reporter, name, &outcome, started);
            if let Err(error) = outcome {
                blocked.extend(plan.dependencies_of(name));
                report.failures.push(error);
                continue;
            }
            report.deleted.push(name.clone());
            for (resource_type, physical_id) in retained {
                self.purge(&resource_type, &physical_id).await?;
                report.purged.push(format!("{resource_type} {physical_id}"));
            }
        }
        Ok(report)
    }

    /// The stack's deployed resources as `(type, physical id)`: those whose deletion policy
    /// keeps them, and those deleted with the stack.
    async fn resources_by_retention(
        &self,
        plan: &Plan,
        stack: &str,
    ) -> Result<ResourcesByRetention, DeployError> {
        let Some(planned) = plan.stack(stack) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let retained: BTreeSet<&str> = planned.template["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, resource)| resource["DeletionPolicy"] == "Retain")
            .map(|(id, _)| id.as_str())
            .collect();
        let (kept, deleted): (Vec<_>, Vec<_>) = cfn::resources(&self.cfn, stack)
            .await?
            .into_iter()
            .filter(|(_, _, physical)| !physical.is_empty())
            .partition(|(logical, _, _)| retained.contains(logical.as_str()));
        let ids = |resources: Vec<(String, String, String)>| {
            resources
                .into_iter()
                .map(|(_, resource_type, physical)| (resource_type, physical))
                .collect()
        };
        Ok((ids(kept), ids(deleted)))
    }

    /// Deletes every object version and delete marker of the bucket: a bucket must be empty
    /// before it can be deleted. A bucket that is already gone counts as empty.
    async fn empty_bucket(&self, bucket: &str) -> Result<(), DeployError> {
        loop {
            let listed = match self.s3.list_object_versions().bucket(bucket).send().await {
                Ok(listed) => listed,
                Err(error)
                    if aws_sdk_s3::error::ProvideErrorMetadata::code(&error)
                        == Some("NoSuchBucket") =>
                {
                    return Ok(());
                }
                Err(error) => return Err(DeployError::sdk("ListObjectVersions", error)),
            };
            let mut objects = Vec::new();
            for version in listed.versions() {
                objects.push((
                    version.key().unwrap_or_default().to_owned(),
                    version.version_id().map(str::to_owned),
                ));
            }
            for marker in listed.delete_markers() {
                objects.push((
                    marker.key().unwrap_or_default().to_owned(),
                    marker.version_id().map(str::to_owned),
                ));
            }
            if objects.is_empty() {
                break;
            }
            for (key, version) in objects {
                self.s3
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .set_version_id(version)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("DeleteObject", error))?;
            }
        }
        Ok(())
    }

    async fn purge(&self, resource_type: &str, physical_id: &str) -> Result<(), DeployError> {
        match resource_type {
            "AWS::DynamoDB::Table" => {
                self.dynamodb
                    .delete_table()
                    .table_name(physical_id)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("DeleteTable", error))?;
            }
            "AWS::S3::Bucket" => {
                self.empty_bucket(physical_id).await?;
                self.s3
                    .delete_bucket()
                    .bucket(physical_id)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("DeleteBucket", error))?;
            }
            "AWS::ECR::Repository" => {
                self.ecr
                    .delete_repository()
                    .repository_name(physical_id)
                    .force(true)
                    .send()
                    .await
                    .map_err(|error| DeployError::sdk("DeleteRepository", error))?;
            }
            other => tracing::warn!(
                "retained {other} {physical_id} is left in place: no purge for its type"
            ),
        }
        Ok(())
    }
}

/// A change `--hotswap` can make without CloudFormation, by logical ids.
enum Swap {
    /// A function's code, from its zip's new key.
    Code {
        function: String,
        bucket: String,
        key: String,
    },
    /// A service's container image: the tag at the end of the image name replaced.
    Image {
        task_definition: String,
        service: String,
        cluster: ClusterRef,
        container: String,
        old_tag: String,
        new_tag: String,
    },
}

/// How a service names its cluster in the template.
enum ClusterRef {
    Logical(String),
    Name(String),
}

/// A [`Swap`] with the deployed resources it changes.
enum Resolved {
    /// An earlier hotswap put this code live already.
    AlreadyLive,
    Code {
        function: String,
        bucket: String,
        key: String,
    },
    Image {
        cluster: String,
        service: String,
        registration: Box<RegisterTaskDefinitionInputBuilder>,
    },
}

/// The values of `stack`'s own (non-asset) parameters: the value given for it, else the one
/// the deployed stack has when that is not the template's default, else none (the default
/// applies). Values equal to the default are left out, so a stack's fingerprint changes only
/// when a value does.
fn own_parameters(
    stack: &PlannedStack,
    deployed: Option<&DeployedStack>,
    given: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let given = given.get(&stack.name);
    stack
        .own_parameters()
        .filter_map(|(name, declaration)| {
            let default = declaration["Default"].as_str();
            let value = match given.and_then(|given| given.get(name)) {
                Some(value) => value.clone(),
                None => deployed
                    .and_then(|deployed| deployed.parameters.get(name))
                    .filter(|value| Some(value.as_str()) != default)?
                    .clone(),
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// The service whose task definition's container image ends in `parameter`'s value.
fn image_swap(
    resources: &serde_json::Map<String, Json>,
    parameter: &str,
    old_tag: &str,
    new_tag: &str,
) -> Option<Swap> {
    let (task_definition, container) = resources.iter().find_map(|(logical_id, resource)| {
        if resource["Type"] != "AWS::ECS::TaskDefinition" {
            return None;
        }
        let container = resource
            .pointer("/Properties/ContainerDefinitions")?
            .as_array()?
            .iter()
            .find(|container| ends_with_parameter(&container["Image"], parameter))?;
        Some((logical_id.clone(), container["Name"].as_str()?.to_owned()))
    })?;
    let reference = serde_json::json!({ "Ref": task_definition });
    let (service, resource) = resources.iter().find(|(_, resource)| {
        resource["Type"] == "AWS::ECS::Service"
            && resource.pointer("/Properties/TaskDefinition") == Some(&reference)
    })?;
    let cluster = match resource.pointer("/Properties/Cluster")? {
        Json::String(name) => ClusterRef::Name(name.clone()),
        other => ClusterRef::Logical(other.get("Ref")?.as_str()?.to_owned()),
    };
    Some(Swap::Image {
        task_definition,
        service: service.clone(),
        cluster,
        container,
        old_tag: old_tag.to_owned(),
        new_tag: new_tag.to_owned(),
    })
}

/// Whether an image value is `<something>:${parameter}`, so its tag is the parameter's value
/// and nothing else.
fn ends_with_parameter(image: &Json, parameter: &str) -> bool {
    let text = match image.get("Fn::Sub") {
        Some(Json::String(text)) => text.as_str(),
        Some(Json::Array(parts)) => parts.first().and_then(Json::as_str).unwrap_or_default(),
        _ => return false,
    };
    text.ends_with(&format!(":${{{parameter}}}"))
}

/// The registration of a copy of `current` whose `container` runs the image tagged `new_tag`
/// instead of `old_tag`; `None` when the deployed image does not carry `old_tag` (it was changed
/// outside CloudFormation, which then has to set it).
fn with_image(
    current: &aws_sdk_ecs::types::TaskDefinition,
    tags: &[aws_sdk_ecs::types::Tag],
    container: &str,
    old_tag: &str,
    new_tag: &str,
) -> Option<RegisterTaskDefinitionInputBuilder> {
    let mut containers = current.container_definitions().to_vec();
    let swapped = containers
        .iter_mut()
        .find(|definition| definition.name() == Some(container))?;
    let repository = swapped.image()?.strip_suffix(&format!(":{old_tag}"))?;
    swapped.image = Some(format!("{repository}:{new_tag}"));
    // Empty lists are sent as absent, as DescribeTaskDefinition's empty lists mean.
    fn some<T: Clone>(items: &[T]) -> Option<Vec<T>> {
        (!items.is_empty()).then(|| items.to_vec())
    }
    Some(
        RegisterTaskDefinitionInput::builder()
            .set_family(current.family().map(str::to_owned))
            .set_task_role_arn(current.task_role_arn().map(str::to_owned))
            .set_execution_role_arn(current.execution_role_arn().map(str::to_owned))
            .set_network_mode(current.network_mode().cloned())
            .set_container_definitions(Some(containers))
            .set_volumes(some(current.volumes()))
            .set_placement_constraints(some(current.placement_constraints()))
            .set_requires_compatibilities(some(current.requires_compatibilities()))
            .set_cpu(current.cpu().map(str::to_owned))
            .set_memory(current.memory().map(str::to_owned))
            .set_tags(some(tags))
            .set_pid_mode(current.pid_mode().cloned())
            .set_ipc_mode(current.ipc_mode().cloned())
            .set_proxy_configuration(current.proxy_configuration().cloned())
            .set_inference_accelerators(some(current.inference_accelerators()))
            .set_ephemeral_storage(current.ephemeral_storage().cloned())
            .set_runtime_platform(current.runtime_platform().cloned())
            .set_enable_fault_injection(current.enable_fault_injection()),
    )
}

fn finish(
    reporter: &Arc<dyn Reporter>,
    stack: &str,
    outcome: &Result<Outcome, DeployError>,
    started: Instant,
) {
    reporter.report(Progress::Finished {
        stack: stack.to_owned(),
        outcome: match outcome {
            Ok(outcome) => outcome.clone(),
            Err(error) => Outcome::Failed(error.to_string()),
        },
        elapsed: started.elapsed(),
    });
}

/// `docker login` credentials from an ECR token (base64 of `<user>:<password>`).
fn ecr_login(server: &str, token: &str) -> Result<Login, DeployError> {
    use base64::Engine;
    let unreadable = || DeployError::Registry("ECR returned an unreadable token".to_owned());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| unreadable())?;
    let decoded = String::from_utf8(decoded).map_err(|_| unreadable())?;
    let (username, password) = decoded.split_once(':').ok_or_else(unreadable)?;
    Ok(Login {
        server: server.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
    use serde_json::json;

    fn functions_stack() -> PlannedStack {
        PlannedStack {
            name: "eventforge-dev-functions".to_owned(),
            template: json!({ "Parameters": {
                "EmailIdentity": { "Type": "String", "Default": "example.com" },
                "EmailFromAddress": { "Type": "String", "Default": "orders@example.com" },
                "ValidateOrderCodeKey": { "Type": "String" },
            }}),
            dependencies: Vec::new(),
            assets: vec![typed_cloudformation::stack::Asset {
                parameter: "ValidateOrderCodeKey".to_owned(),
                kind: AssetKind::LambdaZip {
                    function: "validate-order".to_owned(),
                },
            }],
        }
    }

    fn deployed_with(parameters: &[(&str, &str)]) -> DeployedStack {
        DeployedStack {
            name: "eventforge-dev-functions".to_owned(),
            id: "arn:stack".to_owned(),
            status: "UPDATE_COMPLETE".to_owned(),
            reason: None,
            last_updated: None,
            tags: BTreeMap::new(),
            outputs: BTreeMap::new(),
            parameters: parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_parameter_keeps_its_deployed_value_until_a_new_one_is_given() {
        let stack = functions_stack();
        let deployed = deployed_with(&[
            ("EmailIdentity", "shop.example.org"),
            ("EmailFromAddress", "orders@example.com"),
            ("ValidateOrderCodeKey", "lambda/validate-order/old.zip"),
        ]);
        // Nothing given: the value set before stays; the default one and the asset are left
        // to the default and the asset step.
        let kept = own_parameters(&stack, Some(&deployed), &BTreeMap::new());
        assert_eq!(
            kept,
            BTreeMap::from([("EmailIdentity".to_owned(), "shop.example.org".to_owned())])
        );
        let given = BTreeMap::from([(
            stack.name.clone(),
            BTreeMap::from([(
                "EmailFromAddress".to_owned(),
                "orders@shop.example.org".to_owned(),
            )]),
        )]);
        let changed = own_parameters(&stack, Some(&deployed), &given);
        assert_eq!(changed["EmailFromAddress"], "orders@shop.example.org");
        assert_eq!(changed["EmailIdentity"], "shop.example.org");
        // A new stack has only what is given.
        assert_eq!(own_parameters(&stack, None, &given).len(), 1);
        assert!(own_parameters(&stack, None, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn an_ecr_token_is_the_user_and_password_docker_logs_in_with() {
        let login = ecr_login(
            "https://1.dkr.ecr.eu-west-1.amazonaws.com",
            "QVdTOnNlY3JldDpwYXJ0",
        )
        .unwrap();
        assert_eq!(login.username, "AWS");
        // Only the first colon separates: a password may hold more.
        assert_eq!(login.password, "secret:part");
        assert!(ecr_login("https://registry", "not base64!").is_err());
    }

    fn api_resources(image: Json) -> serde_json::Map<String, Json> {
        let template = json!({
            "Cluster": { "Type": "AWS::ECS::Cluster", "Properties": {} },
            "TaskDefinition": { "Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ContainerDefinitions": [
                    { "Name": "api", "Image": image },
                    { "Name": "otel-collector", "Image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1" },
                ],
            } },
            "Service": { "Type": "AWS::ECS::Service", "Properties": {
                "Cluster": { "Ref": "Cluster" },
                "TaskDefinition": { "Ref": "TaskDefinition" },
            } },
        });
        template.as_object().cloned().unwrap()
    }

    fn deployed(api_image: &str) -> TaskDefinition {
        TaskDefinition::builder()
            .family("eventforge-dev-api")
            .memory("1024")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("otel-collector")
                    .image("public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1")
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("api")
                    .image(api_image)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_changed_image_tag_parameter_swaps_the_image_of_the_service_that_runs_it() {
        let image = json!({ "Fn::Sub": ["${Repo}:${ApiImageTag}", { "Repo": "r" }] });
        let Some(Swap::Image {
            task_definition,
            service,
            cluster: ClusterRef::Logical(cluster),
            container,
            old_tag,
            new_tag,
        }) = image_swap(&api_resources(image), "ApiImageTag", "old", "new")
        else {
            panic!("an image swap of the service");
        };
        assert_eq!(
            (
                task_definition.as_str(),
                service.as_str(),
                cluster.as_str(),
                container.as_str()
            ),
            ("TaskDefinition", "Service", "Cluster", "api")
        );
        assert_eq!((old_tag.as_str(), new_tag.as_str()), ("old", "new"));
    }

    #[test]
    fn a_parameter_that_is_not_the_whole_image_tag_needs_cloudformation() {
        let image = json!({ "Fn::Sub": "repo:${ApiImageTag}-debug" });
        assert!(image_swap(&api_resources(image), "ApiImageTag", "old", "new").is_none());
        let image = json!({ "Fn::Sub": "repo:latest" });
        assert!(image_swap(&api_resources(image), "ApiImageTag", "old", "new").is_none());
    }

    #[test]
    fn the_new_revision_changes_the_api_container_s_image_and_nothing_else() {
        let current = deployed("123.dkr.ecr.eu-west-1.amazonaws.com/api:old");
        let registration = with_image(&current, &[], "api", "old", "new").unwrap();
        let containers = registration.get_container_definitions().clone().unwrap();
        assert_eq!(
            containers[1].image(),
            Some("123.dkr.ecr.eu-west-1.amazonaws.com/api:new")
        );
        assert_eq!(containers[0], current.container_definitions()[0]);
        assert_eq!(
            registration.get_family().as_deref(),
            Some("eventforge-dev-api")
        );
        assert_eq!(registration.get_memory().as_deref(), Some("1024"));
        assert_eq!(registration.get_volumes(), &None);
    }

    #[test]
    fn an_image_changed_outside_cloudformation_is_left_to_cloudformation() {
        let current = deployed("123.dkr.ecr.eu-west-1.amazonaws.com/api:someone-elses");
        assert!(with_image(&current, &[], "api", "old", "new").is_none());
    }
}
