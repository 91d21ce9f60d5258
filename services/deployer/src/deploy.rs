//! The deployer: bootstrap, assets, then every stack in dependency order (independent stacks
//! concurrently), skipping stacks whose fingerprint is already deployed.
//!
//! The engine is here (change sets, order, skip-unchanged, the stage's lock); the other jobs of
//! [`Deployer`] have a module each: `deploy/upload.rs` (zips and the image), `deploy/hotswap.rs`,
//! `deploy/inspect.rs` (`status`, `diff`) and `deploy/teardown.rs` (`destroy`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use serde_json::Value as Json;
use tokio::task::JoinSet;

use crate::cfn::{self, Apply, DeployedStack};
use crate::emulator::{Adaptation, EmulatorProfile, ExecutionMode};
use crate::error::DeployError;
use crate::lock::{StageLock, Taken};
use crate::plan::{FINGERPRINT_TAG, Plan, PlannedStack, TEMPLATE_TAG, fingerprint, template_hash};
use crate::progress::{Outcome, Progress, Reporter};

mod hotswap;
mod inspect;
mod teardown;
mod upload;

pub use inspect::StackStatus;
pub use teardown::DestroyReport;
pub use upload::{Assets, ContainerImage};

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

/// The outputs the deployer reads from the bootstrap stack (`<app>-bootstrap`): the bucket the
/// Lambda zips go to and the repository the container image goes to. An app's bootstrap stack
/// must declare them under these names (EventForge's: `eventforge-platform-deploy`'s tests).
pub const ASSET_BUCKET_OUTPUT: &str = "AssetBucketName";
pub const REPOSITORY_OUTPUT: &str = "ApiRepositoryUri";

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

#[derive(Clone)]
pub struct Deployer {
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    ec2: aws_sdk_ec2::Client,
    ecr: aws_sdk_ecr::Client,
    lambda: aws_sdk_lambda::Client,
    ecs: aws_sdk_ecs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    pub(crate) emulator: Option<EmulatorProfile>,
    registry: Option<String>,
    cfn_execution_role: Option<String>,
    http: reqwest::Client,
}

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
            dynamodb: aws_sdk_dynamodb::Client::new(&target.sdk),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use typed_cloudformation::stack::AssetKind;

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
}
