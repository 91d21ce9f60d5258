//! The approval before a deploy that widens access (`--require-approval`, as in CDK): a table of
//! every widening per stack, then a question at a terminal, or a refusal that says how to go on
//! where no one can answer.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use clap::ValueEnum;
use eventforge_deployer::security::{RequireApproval, StackReview};

#[derive(Clone, Copy, Default, ValueEnum)]
pub enum RequireApprovalArg {
    /// Never ask (for CI and scripts).
    Never,
    /// Ask when a stack would grant more: IAM statements, trust, managed policies, resource
    /// policies, Lambda permissions, security-group ingress, public endpoints.
    #[default]
    Broadening,
    /// Ask when any stack's template would change.
    AnyChange,
}

impl From<RequireApprovalArg> for RequireApproval {
    fn from(arg: RequireApprovalArg) -> Self {
        match arg {
            RequireApprovalArg::Never => Self::Never,
            RequireApprovalArg::Broadening => Self::Broadening,
            RequireApprovalArg::AnyChange => Self::AnyChange,
        }
    }
}

/// Every widening, one line each, grouped by stack; the stacks that change otherwise, by name.
pub fn render(reviews: &[StackReview]) -> String {
    let mut out = String::new();
    for review in reviews.iter().filter(|review| !review.widenings.is_empty()) {
        let new = if review.deployed { "" } else { " (new stack)" };
        out.push_str(&format!("\n{}{new} widens access:\n", review.stack));
        for widening in &review.widenings {
            let change = if widening.deny_removed { "-" } else { "+" };
            out.push_str(&format!(
                "  {change} {:<28} {:<36} {}\n",
                widening.resource, widening.resource_type, widening.grant
            ));
        }
    }
    let other: Vec<&str> = reviews
        .iter()
        .filter(|review| review.changed && review.widenings.is_empty())
        .map(|review| review.stack.as_str())
        .collect();
    if !other.is_empty() {
        out.push_str(&format!(
            "\nchanges without wider access: {}\n",
            other.join(", ")
        ));
    }
    out
}

/// Asks for approval when `setting` requires it for these reviews; fails when it is refused or
/// cannot be asked.
pub fn approve(
    setting: RequireApprovalArg,
    reviews: &[StackReview],
    ask: impl FnOnce(&str) -> Result<bool>,
) -> Result<()> {
    let flag = setting
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default();
    let setting = RequireApproval::from(setting);
    if !setting.needs_approval(reviews) {
        return Ok(());
    }
    print!("{}", render(reviews));
    let question = match setting {
        RequireApproval::AnyChange => "Deploy these changes?",
        _ => "Deploy these changes, which widen access?",
    };
    if !std::io::stdin().is_terminal() {
        bail!(
            "this deploy needs approval (--require-approval {flag}) and no one can answer here: \
             review the changes above, then deploy from a terminal, or pass \
             --require-approval never (for CI)"
        );
    }
    if !ask(question)? {
        bail!("not approved: nothing was deployed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_deployer::security::widenings;
    use serde_json::json;

    fn review(
        stack: &str,
        deployed: Option<serde_json::Value>,
        proposed: serde_json::Value,
    ) -> StackReview {
        StackReview {
            stack: stack.to_owned(),
            deployed: deployed.is_some(),
            changed: deployed.as_ref() != Some(&proposed),
            widenings: widenings(deployed.as_ref(), &proposed),
        }
    }

    fn ingress(cidr: &str) -> serde_json::Value {
        json!({ "Resources": { "AlbSecurityGroup": { "Type": "AWS::EC2::SecurityGroup", "Properties": {
            "SecurityGroupIngress": [{ "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": cidr }] } } } })
    }

    #[test]
    fn the_table_names_the_stack_the_resource_and_the_grant() {
        let reviews = [
            review(
                "eventforge-dev-api",
                Some(ingress("10.0.0.0/8")),
                ingress("0.0.0.0/0"),
            ),
            review(
                "eventforge-dev-data",
                Some(json!({"Resources": {}})),
                json!({"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}}),
            ),
        ];
        let table = render(&reviews);
        assert!(table.contains("\neventforge-dev-api widens access:\n"));
        assert!(table.contains("+ AlbSecurityGroup"));
        assert!(table.contains("ingress tcp port 80 from CidrIp 0.0.0.0/0"));
        assert!(!table.contains("10.0.0.0/8"), "{table}");
        assert!(table.ends_with("changes without wider access: eventforge-dev-data\n"));
    }

    #[test]
    fn each_setting_asks_only_when_it_should() {
        let widened = [review(
            "s",
            Some(ingress("10.0.0.0/8")),
            ingress("0.0.0.0/0"),
        )];
        let changed = [review(
            "s",
            Some(json!({"Resources": {}})),
            json!({"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}}),
        )];
        let same = [review(
            "s",
            Some(ingress("0.0.0.0/0")),
            ingress("0.0.0.0/0"),
        )];
        let never_asked = |_: &str| -> Result<bool> { panic!("asked") };
        approve(RequireApprovalArg::Never, &widened, never_asked).expect("never asks");
        approve(RequireApprovalArg::Broadening, &changed, never_asked).expect("no widening");
        approve(RequireApprovalArg::AnyChange, &same, never_asked).expect("no change");
        // Tests run without a terminal on standard input: a deploy that needs approval is refused.
        let refused = approve(RequireApprovalArg::Broadening, &widened, never_asked)
            .expect_err("needs approval");
        assert!(
            refused.to_string().contains("--require-approval never"),
            "{refused}"
        );
        assert!(
            refused
                .to_string()
                .contains("(--require-approval broadening)"),
            "{refused}"
        );
        let refused = approve(RequireApprovalArg::AnyChange, &changed, never_asked)
            .expect_err("needs approval");
        assert!(
            refused
                .to_string()
                .contains("(--require-approval any-change)"),
            "{refused}"
        );
    }
}
