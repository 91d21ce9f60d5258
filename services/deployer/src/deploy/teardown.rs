//! `destroy`: every stack of the plan deleted in reverse dependency order, and with `purge` the
//! retained resources (buckets emptied first, the table, the repository) deleted after them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use super::{Deployer, finish};
use crate::cfn::{self, DeployedStack};
use crate::error::DeployError;
use crate::plan::Plan;
use crate::progress::{Progress, Reporter};

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

/// `(type, physical id)` of a stack's retained resources, and of those deleted with it.
type ResourcesByRetention = (Vec<(String, String)>, Vec<(String, String)>);

impl Deployer {
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
