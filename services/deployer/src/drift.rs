//! Drift: what changed in the account behind CloudFormation's back (a console edit, a hotswap
//! not yet followed by a plain deploy). CloudFormation's own detection runs on every deployed
//! stack of the plan at once; then each drifted resource is listed with its changed properties.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};

use crate::error::DeployError;
use crate::plan::Plan;

/// How often detection is polled, and for how long at most.
const POLL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(600);

/// One stack's drift.
#[derive(Debug, Clone, PartialEq)]
pub struct StackDrift {
    pub stack: String,
    pub state: DriftState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DriftState {
    NotDeployed,
    InSync,
    Drifted(Vec<ResourceDrift>),
    /// Detection did not finish (CloudFormation's reason).
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    pub properties: Vec<PropertyDrift>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyDrift {
    pub path: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub difference: String,
    pub expected: String,
    pub actual: String,
}

/// Whether any stack drifted or could not be checked: the command's exit code for CI.
pub fn any_drift(drifts: &[StackDrift]) -> bool {
    drifts
        .iter()
        .any(|drift| matches!(drift.state, DriftState::Drifted(_) | DriftState::Failed(_)))
}

/// Detects drift on every deployed stack of the plan (all started at once, then followed).
pub async fn detect(client: &Client, plan: &Plan) -> Result<Vec<StackDrift>, DeployError> {
    let deployed = crate::cfn::describe_all(client).await?;
    // Every detection is started before any is followed: CloudFormation runs them together.
    let mut detections = Vec::with_capacity(plan.stacks.len());
    for stack in &plan.stacks {
        let id = if deployed.contains_key(&stack.name) {
            let detection = client
                .detect_stack_drift()
                .stack_name(&stack.name)
                .send()
                .await
                .map_err(|error| DeployError::sdk("DetectStackDrift", error))?;
            Some(
                detection
                    .stack_drift_detection_id()
                    .unwrap_or_default()
                    .to_owned(),
            )
        } else {
            None
        };
        detections.push((stack.name.clone(), id));
    }
    let mut drifts = Vec::with_capacity(detections.len());
    for (stack, id) in detections {
        let state = match id {
            Some(id) => follow(client, &stack, &id).await?,
            None => DriftState::NotDeployed,
        };
        drifts.push(StackDrift { stack, state });
    }
    Ok(drifts)
}

async fn follow(client: &Client, stack: &str, id: &str) -> Result<DriftState, DeployError> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let status = client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeStackDriftDetectionStatus", error))?;
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionComplete) => break,
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                return Ok(DriftState::Failed(
                    status
                        .detection_status_reason()
                        .unwrap_or("no reason given")
                        .to_owned(),
                ));
            }
            _ if Instant::now() > deadline => {
                return Ok(DriftState::Failed(format!(
                    "detection still running after {} s",
                    TIMEOUT.as_secs()
                )));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
    let mut resources = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .set_next_token(next)
            .send()
            .await
            .map_err(|error| DeployError::sdk("DescribeStackResourceDrifts", error))?;
        resources.extend(page.stack_resource_drifts().iter().map(|drift| {
            ResourceDrift {
                logical_id: drift.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: drift.resource_type().unwrap_or_default().to_owned(),
                status: drift
                    .stack_resource_drift_status()
                    .map_or("", |status| status.as_str())
                    .to_owned(),
                properties: drift
                    .property_differences()
                    .iter()
                    .map(|property| PropertyDrift {
                        path: property.property_path().unwrap_or_default().to_owned(),
                        difference: property
                            .difference_type()
                            .map_or("", |kind| kind.as_str())
                            .to_owned(),
                        expected: property.expected_value().unwrap_or_default().to_owned(),
                        actual: property.actual_value().unwrap_or_default().to_owned(),
                    })
                    .collect(),
            }
        }));
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    resources.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(if resources.is_empty() {
        DriftState::InSync
    } else {
        DriftState::Drifted(resources)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(state: DriftState) -> StackDrift {
        StackDrift {
            stack: "s".to_owned(),
            state,
        }
    }

    #[test]
    fn ci_fails_on_drift_or_an_unfinished_check_and_passes_otherwise() {
        assert!(!any_drift(&[
            drift(DriftState::InSync),
            drift(DriftState::NotDeployed)
        ]));
        assert!(any_drift(&[
            drift(DriftState::InSync),
            drift(DriftState::Drifted(vec![]))
        ]));
        assert!(any_drift(&[drift(DriftState::Failed(
            "throttled".to_owned()
        ))]));
    }
}
