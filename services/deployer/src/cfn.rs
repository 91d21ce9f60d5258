//! CloudFormation: reading deployed stacks, applying a template by change set (or directly, for
//! emulators), following a stack's events until it settles, and deleting.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use serde_json::Value as Json;

use crate::emulator::ExecutionMode;
use crate::error::{DeployError, sdk_message};
use crate::progress::{Action, Outcome, Progress, Reporter, ResourceEvent};

/// CloudFormation accepts inline templates up to this size; larger ones need an S3 URL.
const TEMPLATE_BODY_LIMIT: usize = 51_200;
/// How often a settling stack is polled. CloudFormation itself reports in seconds, so polling
/// faster only costs API calls.
const POLL: Duration = Duration::from_millis(1_500);
/// Polls against an emulator, which answers synchronously.
const POLL_FAST: Duration = Duration::from_millis(100);

/// A stack as CloudFormation has it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedStack {
    pub name: String,
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub last_updated: Option<DateTime>,
    pub tags: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

impl DeployedStack {
    fn from_sdk(stack: &aws_sdk_cloudformation::types::Stack) -> Self {
        Self {
            name: stack.stack_name().unwrap_or_default().to_owned(),
            id: stack.stack_id().unwrap_or_default().to_owned(),
            status: stack
                .stack_status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            reason: stack.stack_status_reason().map(str::to_owned),
            last_updated: stack.last_updated_time().or(stack.creation_time()).cloned(),
            tags: stack
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned())))
                .collect(),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|output| {
                    Some((
                        output.output_key()?.to_owned(),
                        output.output_value()?.to_owned(),
                    ))
                })
                .collect(),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|parameter| {
                    Some((
                        parameter.parameter_key()?.to_owned(),
                        parameter.parameter_value()?.to_owned(),
                    ))
                })
                .collect(),
        }
    }

    /// The last update (or the creation) in RFC 3339, `-` when unknown.
    pub fn last_updated_text(&self) -> String {
        self.last_updated
            .and_then(|time| {
                time.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
                    .ok()
            })
            .unwrap_or_else(|| "-".to_owned())
    }

    /// Settled in a state a deployment can build on.
    pub fn is_healthy(&self) -> bool {
        matches!(
            self.status.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
        )
    }
}

/// An operation is running on the stack: another deploy's, or one whose deployer was stopped
/// (CloudFormation carries on without it). `REVIEW_IN_PROGRESS` is not one: it is a stack whose
/// creating change set was never executed, and a new change set replaces it.
pub fn is_busy(stack: &DeployedStack) -> bool {
    stack.status.ends_with("_IN_PROGRESS") && stack.status != "REVIEW_IN_PROGRESS"
}

/// A first creation that failed and was rolled back: CloudFormation can only delete such a
/// stack, and deleting it loses nothing (the rollback removed what it had created).
pub fn is_failed_creation(stack: &DeployedStack) -> bool {
    stack.status == "ROLLBACK_COMPLETE"
}

fn poll_interval(mode: ExecutionMode) -> Duration {
    match mode {
        ExecutionMode::ChangeSet => POLL,
        ExecutionMode::Direct => POLL_FAST,
    }
}

/// Waits out an operation already running on the stack, reporting its events; the stack as it
/// settled, or `None` when that operation deleted it. A stack at rest is returned as it is.
pub async fn settle(
    client: &Client,
    stack: &DeployedStack,
    mode: ExecutionMode,
    reporter: &dyn Reporter,
) -> Result<Option<DeployedStack>, DeployError> {
    if !is_busy(stack) {
        return Ok(Some(stack.clone()));
    }
    reporter.report(Progress::Notice(format!(
        "{} is {}: an operation started earlier (another deploy, or one that was stopped) is \
         still running; waiting for it to end",
        stack.name, stack.status
    )));
    let since = DateTime::from(std::time::SystemTime::now() - Duration::from_secs(5));
    let seen = event_ids(client, &stack.name).await.unwrap_or_default();
    match follow(
        client,
        &stack.name,
        &stack.id,
        since,
        seen,
        poll_interval(mode),
        reporter,
    )
    .await
    {
        Ok(settled) if settled.status == "DELETE_COMPLETE" => Ok(None),
        Ok(settled) => Ok(Some(settled)),
        Err(_) if describe(client, &stack.name).await?.is_none() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every live stack in the account and region, by name, in one paginated call: what makes a
/// no-op deploy fast.
pub async fn describe_all(client: &Client) -> Result<BTreeMap<String, DeployedStack>, DeployError> {
    let mut stacks = BTreeMap::new();
    let mut pages = client.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| DeployError::sdk("DescribeStacks", error))?;
        for stack in page.stacks() {
            let stack = DeployedStack::from_sdk(stack);
            if stack.status != "DELETE_COMPLETE" {
                stacks.insert(stack.name.clone(), stack);
            }
        }
    }
    Ok(stacks)
}

/// One stack, or `None` when it does not exist.
pub async fn describe(client: &Client, name: &str) -> Result<Option<DeployedStack>, DeployError> {
    match client.describe_stacks().stack_name(name).send().await {
        Ok(output) => Ok(output
            .stacks()
            .first()
            .map(DeployedStack::from_sdk)
            .filter(|stack| stack.status != "DELETE_COMPLETE")),
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(DeployError::sdk("DescribeStacks", error)),
    }
}

/// The template a stack was last deployed with, or `None` when there is no such stack.
pub async fn deployed_template(client: &Client, name: &str) -> Result<Option<Json>, DeployError> {
    match client.get_template().stack_name(name).send().await {
        Ok(output) => {
            let body = output.template_body().unwrap_or("{}");
            serde_json::from_str(body)
                .map(Some)
                .map_err(|error| DeployError::Api {
                    operation: "GetTemplate".to_owned(),
                    message: format!("the deployed template of {name} is not JSON: {error}"),
                })
        }
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(DeployError::sdk("GetTemplate", error)),
    }
}

fn is_missing<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_cloudformation::error::SdkError<E, R>,
) -> bool {
    error
        .message()
        .is_some_and(|message| message.contains("does not exist"))
}

fn is_no_change(message: &str) -> bool {
    message.contains("No updates are to be performed")
        || message.contains("didn't contain changes")
        || message.contains("does not contain changes")
}

/// Refuses stacks CloudFormation will not update, naming the command that unblocks them.
pub fn check_deployable(stack: &DeployedStack) -> Result<(), DeployError> {
    let stuck = |explanation: &str, remedy: String| {
        Err(DeployError::Stuck {
            stack: stack.name.clone(),
            status: stack.status.clone(),
            explanation: explanation.to_owned(),
            remedy,
        })
    };
    match stack.status.as_str() {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => stuck(
            "its creation failed and was rolled back, so it can only be deleted and created again",
            format!("cargo xtask destroy --only {} --yes", stack.name),
        ),
        "UPDATE_ROLLBACK_FAILED" => stuck(
            "an update failed and so did its rollback; CloudFormation must finish the rollback first",
            format!(
                "aws cloudformation continue-update-rollback --stack-name {}",
                stack.name
            ),
        ),
        "DELETE_FAILED" => stuck(
            "a deletion failed part-way (often a non-empty bucket or a resource in use)",
            format!("cargo xtask destroy --only {} --yes", stack.name),
        ),
        status if status.ends_with("_IN_PROGRESS") => stuck(
            "another operation is still running on it",
            format!(
                "aws cloudformation wait stack-update-complete --stack-name {}",
                stack.name
            ),
        ),
        _ => Ok(()),
    }
}

/// What to apply to one stack.
pub struct Apply<'a> {
    pub name: &'a str,
    pub body: String,
    pub parameters: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    pub existing: Option<&'a DeployedStack>,
    pub mode: ExecutionMode,
    /// The role CloudFormation acts as (`RoleARN`).
    pub role_arn: Option<&'a str>,
}

fn sdk_parameters(parameters: &BTreeMap<String, String>) -> Vec<Parameter> {
    parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

const CAPABILITIES: [Capability; 3] = [
    Capability::CapabilityIam,
    Capability::CapabilityNamedIam,
    Capability::CapabilityAutoExpand,
];

/// Creates or updates the stack and follows it until it settles.
pub async fn apply(
    client: &Client,
    request: Apply<'_>,
    reporter: &dyn Reporter,
) -> Result<Outcome, DeployError> {
    if request.body.len() > TEMPLATE_BODY_LIMIT {
        return Err(DeployError::api(
            "CreateChangeSet",
            format!(
                "the template of {} is {} bytes; CloudFormation accepts {TEMPLATE_BODY_LIMIT} inline",
                request.name,
                request.body.len()
            ),
        ));
    }
    if let Some(existing) = request.existing {
        check_deployable(existing)?;
    }
    let action = if request.existing.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    reporter.report(Progress::Started {
        stack: request.name.to_owned(),
        action,
    });
    let since = DateTime::from(std::time::SystemTime::now() - Duration::from_secs(5));
    let seen_before = match request.existing {
        Some(_) => event_ids(client, request.name).await?,
        None => HashSet::new(),
    };
    let stack_id = match request.mode {
        ExecutionMode::ChangeSet => match change_set(client, &request).await? {
            None => return Ok(Outcome::NoChanges),
            Some(id) => id,
        },
        ExecutionMode::Direct => match direct(client, &request).await {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(Outcome::NoChanges),
            // An emulator fails synchronously: the reason is the request's error.
            Err(DeployError::Api { message, .. }) => {
                return Err(DeployError::StackFailed {
                    stack: request.name.to_owned(),
                    status: format!("{action:?}_FAILED").to_uppercase(),
                    resource: request.name.to_owned(),
                    reason: message,
                });
            }
            Err(error) => return Err(error),
        },
    };
    let poll = poll_interval(request.mode);
    let settled = follow(
        client,
        request.name,
        &stack_id,
        since,
        seen_before,
        poll,
        reporter,
    )
    .await?;
    match settled.status.as_str() {
        "CREATE_COMPLETE" => Ok(Outcome::Created),
        "UPDATE_COMPLETE" => Ok(Outcome::Updated),
        _ => Err(failure(client, &settled, since).await),
    }
}

/// Creates a change set and executes it; `None` when it holds no changes (then it is deleted).
async fn change_set(client: &Client, request: &Apply<'_>) -> Result<Option<String>, DeployError> {
    let change_set_type = match request.existing {
        Some(stack) if stack.status != "REVIEW_IN_PROGRESS" => ChangeSetType::Update,
        _ => ChangeSetType::Create,
    };
    let name = format!(
        "eventforge-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis())
            .unwrap_or_default()
    );
    let created = client
        .create_change_set()
        .stack_name(request.name)
        .change_set_name(&name)
        .change_set_type(change_set_type)
        .set_role_arn(request.role_arn.map(str::to_owned))
        .template_body(&request.body)
        .set_parameters(Some(sdk_parameters(request.parameters)))
        .set_tags(Some(sdk_tags(request.tags)))
        .set_capabilities(Some(CAPABILITIES.to_vec()))
        .send()
        .await
        .map_err(|error| DeployError::sdk("CreateChangeSet", error))?;
    let change_set_id = created.id().unwrap_or(&name).to_owned();
    let stack_id = created.stack_id().unwrap_or(request.name).to_owned();
    let ready = wait_change_set(client, &change_set_id).await?;
    if !ready {
        let _ = client
            .delete_change_set()
            .change_set_name(&change_set_id)
            .send()
            .await;
        return Ok(None);
    }
    client
        .execute_change_set()
        .change_set_name(&change_set_id)
        .send()
        .await
        .map_err(|error| DeployError::sdk("ExecuteChangeSet", error))?;
    Ok(Some(stack_id))
}

/// Waits until the change set is ready: `true` to execute, `false` when it has no changes.
async fn wait_change_set(client: &Client, id: &str) -> Result<bool, DeployError> {
    loop {
        let described = client
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeChangeSet", error))?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => return Ok(true),
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default();
                if is_no_change(reason) {
                    return Ok(false);
                }
                return Err(DeployError::api("CreateChangeSet", reason));
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// `CreateStack` or `UpdateStack`; `None` when there is nothing to update.
async fn direct(client: &Client, request: &Apply<'_>) -> Result<Option<String>, DeployError> {
    match request.existing {
        None => {
            let created = client
                .create_stack()
                .stack_name(request.name)
                .set_role_arn(request.role_arn.map(str::to_owned))
                .template_body(&request.body)
                .set_parameters(Some(sdk_parameters(request.parameters)))
                .set_tags(Some(sdk_tags(request.tags)))
                .set_capabilities(Some(CAPABILITIES.to_vec()))
                .send()
                .await
                .map_err(|error| DeployError::sdk("CreateStack", error))?;
            Ok(Some(created.stack_id().unwrap_or(request.name).to_owned()))
        }
        Some(existing) => {
            match client
                .update_stack()
                .stack_name(request.name)
                .set_role_arn(request.role_arn.map(str::to_owned))
                .template_body(&request.body)
                .set_parameters(Some(sdk_parameters(request.parameters)))
                .set_tags(Some(sdk_tags(request.tags)))
                .set_capabilities(Some(CAPABILITIES.to_vec()))
                .send()
                .await
            {
                Ok(updated) => Ok(Some(updated.stack_id().unwrap_or(&existing.id).to_owned())),
                Err(error) if error.message().is_some_and(is_no_change) => Ok(None),
                Err(error) => Err(DeployError::sdk("UpdateStack", error)),
            }
        }
    }
}

async fn event_ids(client: &Client, stack: &str) -> Result<HashSet<String>, DeployError> {
    let events = client
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|error| DeployError::sdk("DescribeStackEvents", error))?;
    Ok(events
        .stack_events()
        .iter()
        .filter_map(|event| event.event_id().map(str::to_owned))
        .collect())
}

/// Polls the stack until it leaves `*_IN_PROGRESS`, reporting each new event once, oldest first.
async fn follow(
    client: &Client,
    name: &str,
    stack_id: &str,
    since: DateTime,
    mut seen: HashSet<String>,
    poll: Duration,
    reporter: &dyn Reporter,
) -> Result<DeployedStack, DeployError> {
    loop {
        if let Ok(events) = client
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
        {
            let mut fresh: Vec<_> = events
                .stack_events()
                .iter()
                .filter(|event| {
                    event
                        .timestamp()
                        .is_none_or(|time| time.secs() >= since.secs())
                })
                .filter(|event| {
                    event
                        .event_id()
                        .is_some_and(|id| seen.insert(id.to_owned()))
                })
                .collect();
            fresh.reverse();
            for event in fresh {
                reporter.report(Progress::Event {
                    stack: name.to_owned(),
                    event: ResourceEvent {
                        logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: event.resource_type().unwrap_or_default().to_owned(),
                        status: event
                            .resource_status()
                            .map(|status| status.as_str().to_owned())
                            .unwrap_or_default(),
                        reason: event.resource_status_reason().map(str::to_owned),
                    },
                });
            }
        }
        let stack = client
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeStacks", error))?;
        let Some(stack) = stack.stacks().first().map(DeployedStack::from_sdk) else {
            return Err(DeployError::api(
                "DescribeStacks",
                format!("{name} vanished"),
            ));
        };
        if !stack.status.ends_with("_IN_PROGRESS") {
            return Ok(stack);
        }
        tokio::time::sleep(poll).await;
    }
}

/// The first resource that failed since `since` (the cause; what follows is mostly
/// cancellations), as an error.
async fn failure(client: &Client, stack: &DeployedStack, since: DateTime) -> DeployError {
    let mut resource = stack.name.clone();
    let mut reason = stack
        .reason
        .clone()
        .unwrap_or_else(|| "no reason given".to_owned());
    if let Ok(events) = client
        .describe_stack_events()
        .stack_name(&stack.id)
        .send()
        .await
    {
        let first_failure = events
            .stack_events()
            .iter()
            .rev()
            .filter(|event| {
                event
                    .timestamp()
                    .is_none_or(|time| time.secs() >= since.secs())
            })
            .find(|event| {
                event
                    .resource_status()
                    .is_some_and(|status| status.as_str().ends_with("_FAILED"))
                    && event.logical_resource_id() != Some(stack.name.as_str())
                    && !event
                        .resource_status_reason()
                        .is_some_and(|reason| reason.contains("cancelled"))
            });
        if let Some(event) = first_failure {
            resource = format!(
                "{} ({})",
                event.logical_resource_id().unwrap_or_default(),
                event.resource_type().unwrap_or_default()
            );
            reason = event
                .resource_status_reason()
                .unwrap_or_default()
                .to_owned();
        }
    }
    DeployError::StackFailed {
        stack: stack.name.clone(),
        status: stack.status.clone(),
        resource,
        reason,
    }
}

/// Deletes the stack and follows it until it is gone.
pub async fn delete(
    client: &Client,
    name: &str,
    mode: ExecutionMode,
    role_arn: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Outcome, DeployError> {
    let Some(existing) = describe(client, name).await? else {
        return Ok(Outcome::Unchanged);
    };
    reporter.report(Progress::Started {
        stack: name.to_owned(),
        action: Action::Delete,
    });
    let since = DateTime::from(std::time::SystemTime::now() - Duration::from_secs(5));
    let seen = event_ids(client, name).await.unwrap_or_default();
    client
        .delete_stack()
        .stack_name(name)
        .set_role_arn(role_arn.map(str::to_owned))
        .send()
        .await
        .map_err(|error| DeployError::StackFailed {
            stack: name.to_owned(),
            status: "DELETE_FAILED".to_owned(),
            resource: name.to_owned(),
            reason: sdk_message(&error),
        })?;
    // Follow by id: a deleted stack is no longer found by name.
    let poll = poll_interval(mode);
    match follow(client, name, &existing.id, since, seen, poll, reporter).await {
        Ok(stack) if stack.status == "DELETE_COMPLETE" => Ok(Outcome::Deleted),
        Ok(stack) => Err(failure(client, &stack, since).await),
        Err(_) if describe(client, name).await?.is_none() => Ok(Outcome::Deleted),
        Err(error) => Err(error),
    }
}

/// One resource change a change set would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional`, as CloudFormation says.
    pub replacement: Option<String>,
}

/// The changes applying the template would make, from a change set that is then deleted.
pub async fn preview(client: &Client, request: &Apply<'_>) -> Result<Vec<Change>, DeployError> {
    let change_set_type = match request.existing {
        Some(stack) if stack.status != "REVIEW_IN_PROGRESS" => ChangeSetType::Update,
        _ => ChangeSetType::Create,
    };
    let created = client
        .create_change_set()
        .stack_name(request.name)
        .change_set_name("eventforge-diff")
        .change_set_type(change_set_type.clone())
        .set_role_arn(request.role_arn.map(str::to_owned))
        .template_body(&request.body)
        .set_parameters(Some(sdk_parameters(request.parameters)))
        .set_tags(Some(sdk_tags(request.tags)))
        .set_capabilities(Some(CAPABILITIES.to_vec()))
        .send()
        .await
        .map_err(|error| DeployError::sdk("CreateChangeSet", error))?;
    let id = created.id().unwrap_or("eventforge-diff").to_owned();
    let ready = wait_change_set(client, &id).await;
    let mut changes = Vec::new();
    if matches!(ready, Ok(true)) {
        let described = client
            .describe_change_set()
            .change_set_name(&id)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeChangeSet", error))?;
        for change in described.changes() {
            if let Some(resource) = change.resource_change() {
                changes.push(Change {
                    action: resource
                        .action()
                        .map(|action| action.as_str().to_owned())
                        .unwrap_or_default(),
                    logical_id: resource
                        .logical_resource_id()
                        .unwrap_or_default()
                        .to_owned(),
                    resource_type: resource.resource_type().unwrap_or_default().to_owned(),
                    replacement: resource
                        .replacement()
                        .map(|replacement| replacement.as_str().to_owned()),
                });
            }
        }
    }
    let _ = client.delete_change_set().change_set_name(&id).send().await;
    if change_set_type == ChangeSetType::Create {
        // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind.
        let _ = client.delete_stack().stack_name(request.name).send().await;
    }
    ready.map(|_| changes)
}

/// Physical ids of the stack's resources, by logical id, with their types.
pub async fn resources(
    client: &Client,
    stack: &str,
) -> Result<Vec<(String, String, String)>, DeployError> {
    let described = client
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|error| DeployError::sdk("DescribeStackResources", error))?;
    Ok(described
        .stack_resources()
        .iter()
        .map(|resource| {
            (
                resource
                    .logical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
                resource.resource_type().unwrap_or_default().to_owned(),
                resource
                    .physical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str) -> DeployedStack {
        DeployedStack {
            name: "eventforge-dev-api".to_owned(),
            id: "id".to_owned(),
            status: status.to_owned(),
            reason: None,
            last_updated: None,
            tags: BTreeMap::new(),
            outputs: BTreeMap::new(),
            parameters: BTreeMap::new(),
        }
    }

    fn remedy(status: &str) -> Option<String> {
        match check_deployable(&stack(status)) {
            Ok(()) => None,
            Err(DeployError::Stuck { remedy, .. }) => Some(remedy),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_failed_creation_must_be_deleted_before_it_can_deploy_again() {
        assert_eq!(
            remedy("ROLLBACK_COMPLETE").as_deref(),
            Some("cargo xtask destroy --only eventforge-dev-api --yes")
        );
    }

    #[test]
    fn a_failed_rollback_is_continued_with_the_aws_cli() {
        assert_eq!(
            remedy("UPDATE_ROLLBACK_FAILED").as_deref(),
            Some("aws cloudformation continue-update-rollback --stack-name eventforge-dev-api")
        );
    }

    #[test]
    fn settled_stacks_deploy_and_busy_ones_wait() {
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
        ] {
            assert_eq!(remedy(status), None, "{status}");
        }
        assert!(remedy("UPDATE_IN_PROGRESS").is_some_and(|remedy| remedy.contains("wait")));
    }

    #[test]
    fn only_no_change_messages_count_as_no_change() {
        assert!(is_no_change("No updates are to be performed."));
        assert!(is_no_change(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_no_change("Template format error"));
    }
}
