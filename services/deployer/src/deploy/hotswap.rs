//! `--hotswap`: when the only change to a stack is a function's code or a service's image tag,
//! the change is made in place (UpdateFunctionCode, a new task definition revision) and
//! CloudFormation is left out. Nothing here is EventForge's: the code swap is any function's
//! whose code is an asset parameter, the image swap any ECS service whose container image ends
//! in `:${<the image asset's tag parameter>}` (EventForge's API service is one).

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use serde_json::Value as Json;

use super::{Deployer, Prepared};
use crate::assets;
use crate::cfn::{self, DeployedStack};
use crate::error::DeployError;

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

impl Deployer {
    /// Updates in place what the changed parameters feed, when that is the only change (same
    /// template): a function's code from its zip's new key (UpdateFunctionCode), a service's
    /// container image from its new tag (a new revision of its task definition, then
    /// UpdateService). `None` when a full deploy is needed; nothing is changed then. The stack
    /// keeps its old parameters and fingerprint, so the next plain deploy brings CloudFormation
    /// up to date.
    pub(super) async fn hotswap(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
    use serde_json::json;

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
