//! `status` and `diff`: what is deployed, and what a deploy would change, without changing it.

use super::Deployer;
use crate::cfn::{self, Apply, Change, DeployedStack};
use crate::error::DeployError;
use crate::plan::{Plan, TEMPLATE_TAG, template_hash};

/// One stack's standing, for `status`.
#[derive(Debug, Clone)]
pub struct StackStatus {
    pub name: String,
    pub deployed: Option<DeployedStack>,
    /// Whether the local template differs from the deployed one (`None` when not deployed).
    pub template_differs: Option<bool>,
}

impl Deployer {
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
}
