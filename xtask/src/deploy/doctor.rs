//! `cargo xtask doctor`: what a deploy needs, checked before anything is built, every problem
//! named with its fix. `deploy` runs the same checks first and stops on a problem; warnings
//! (an unverified SES identity, the SES sandbox) are printed and the deploy goes on.

use std::fmt;
use std::process::Command;

use anyhow::{Result, bail};
use aws_config::SdkConfig;
use clap::Args;
use eventforge_deployer::cfn;
use eventforge_deployer::plan::{Plan, TEMPLATE_TAG, template_hash};

use super::{TargetArgs, plan, runtime, target};
use crate::artefacts::{api_target, functions_target};
use crate::synth::ArchitectureArg;

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

/// One check's outcome.
pub enum Verdict {
    Ok(String),
    /// The deploy can go on, but something will not work as expected.
    Warning {
        problem: String,
        fix: String,
    },
    /// The deploy would fail.
    Problem {
        problem: String,
        fix: String,
    },
}

pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Ok(detail) => write!(f, "  ok       {:<22} {detail}", self.check),
            Verdict::Warning { problem, fix } => {
                write!(
                    f,
                    "  warning  {:<22} {problem}\n           fix: {fix}",
                    self.check
                )
            }
            Verdict::Problem { problem, fix } => {
                write!(
                    f,
                    "  PROBLEM  {:<22} {problem}\n           fix: {fix}",
                    self.check
                )
            }
        }
    }
}

fn problem(check: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        verdict: Verdict::Problem {
            problem: problem.into(),
            fix: fix.into(),
        },
    }
}

fn warning(check: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        verdict: Verdict::Warning {
            problem: problem.into(),
            fix: fix.into(),
        },
    }
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        verdict: Verdict::Ok(detail.into()),
    }
}

pub fn run(args: DoctorArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    runtime()?.block_on(async {
        let target = target(&args.target).await?;
        let findings = check(&plan, &target.sdk, args.target.architecture, true).await;
        report(&findings)
    })
}

/// Prints the findings; an error when any is a problem.
pub fn report(findings: &[Finding]) -> Result<()> {
    for finding in findings {
        println!("{finding}");
    }
    let problems = findings
        .iter()
        .filter(|finding| matches!(finding.verdict, Verdict::Problem { .. }))
        .count();
    if problems > 0 {
        bail!("{problems} problem(s) found: fix them and run `cargo xtask doctor` again");
    }
    Ok(())
}

/// Every check; `builds` when the code will be built here (Rust targets, cargo-lambda, zig).
pub async fn check(
    plan: &Plan,
    sdk: &SdkConfig,
    architecture: ArchitectureArg,
    builds: bool,
) -> Vec<Finding> {
    let mut findings = vec![account(sdk).await];
    findings.push(match sdk.region() {
        Some(region) => ok("region", region.to_string()),
        None => problem(
            "region",
            "no region",
            "pass --region, set AWS_REGION, or give the profile a region",
        ),
    });
    findings.push(bootstrap(plan, sdk).await);
    if builds {
        findings.extend(toolchain(architecture));
    }
    findings.extend(email(plan, sdk).await);
    findings
}

async fn account(sdk: &SdkConfig) -> Finding {
    match aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
    {
        Ok(identity) => ok(
            "credentials",
            format!(
                "account {} as {}",
                identity.account().unwrap_or("?"),
                identity.arn().unwrap_or("?")
            ),
        ),
        Err(error) => problem(
            "credentials",
            format!(
                "no usable credentials: {}",
                aws_sdk_sts::error::DisplayErrorContext(error)
            ),
            "sign in (`aws sso login --profile NAME`, then --profile NAME), or set AWS_PROFILE \
             or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
    }
}

/// The bootstrap stack (asset bucket, image repository): present, settled, and the template
/// this checkout would deploy.
async fn bootstrap(plan: &Plan, sdk: &SdkConfig) -> Finding {
    const CHECK: &str = "bootstrap stack";
    let name = plan.bootstrap_name();
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let deployed = match cfn::describe(&client, &name).await {
        Ok(Some(deployed)) => deployed,
        Ok(None) => {
            return ok(
                CHECK,
                format!("{name} not deployed yet: deploy creates it first"),
            );
        }
        Err(error) => {
            return problem(
                CHECK,
                format!("cannot read {name}: {error}"),
                "grant cloudformation:DescribeStacks, or check the region",
            );
        }
    };
    if deployed.status.ends_with("_IN_PROGRESS") {
        return warning(
            CHECK,
            format!("{name} is {}", deployed.status),
            "wait for it to settle; deploy waits too",
        );
    }
    if deployed.status.contains("FAILED") || deployed.status.contains("ROLLBACK") {
        return problem(
            CHECK,
            format!("{name} is {}", deployed.status),
            "`cargo xtask status` explains the state and the command that clears it",
        );
    }
    let local = plan
        .stack(&name)
        .map(|stack| template_hash(&stack.template));
    if local.is_some() && deployed.tags.get(TEMPLATE_TAG) == local.as_ref() {
        ok(CHECK, format!("{name} {}, current", deployed.status))
    } else {
        ok(
            CHECK,
            format!(
                "{name} {}, older than this checkout: deploy updates it",
                deployed.status
            ),
        )
    }
}

/// What building the code here needs: the Rust targets of the architecture, cargo-lambda, zig,
/// and binutils' objcopy (the zips' unwind tables; `artefacts::package_function`).
fn toolchain(architecture: ArchitectureArg) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (check, target) in [
        ("functions' Rust target", functions_target(architecture)),
        ("API's Rust target", api_target(architecture)),
    ] {
        findings.push(match target {
            Ok(target) => ok(check, target),
            Err(error) => problem(check, format!("{error:#}"), "see the problem's text"),
        });
    }
    findings.push(
        if runs(Command::new("cargo").args(["lambda", "--version"])) {
            ok("cargo-lambda", "installed")
        } else {
            problem(
                "cargo-lambda",
                "`cargo lambda` is not installed",
                "`pip install cargo-lambda` (or `cargo xtask test`, which installs it into \
             ~/.cache/eventforge/tools/venv: put its bin/ on PATH)",
            )
        },
    );
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    findings.push(
        if runs(Command::new("zig").arg("version"))
            || runs(Command::new(python).args(["-m", "ziglang", "version"]))
        {
            ok("zig", "installed")
        } else {
            problem(
                "zig",
                "zig (cargo-lambda links with it) is not installed",
                "`pip install ziglang`",
            )
        },
    );
    findings.push(if runs(Command::new("objcopy").arg("--version")) {
        ok("objcopy", "installed")
    } else {
        problem(
            "objcopy",
            "objcopy (the Lambda zips are packaged with it) is not installed",
            "`apt-get install binutils` (it comes with gcc)",
        )
    });
    findings
}

fn runs(command: &mut Command) -> bool {
    command.output().is_ok_and(|output| output.status.success())
}

/// The SES identity the emails are sent as, and whether the account can send to anyone.
async fn email(plan: &Plan, sdk: &SdkConfig) -> Vec<Finding> {
    const IDENTITY: &str = "SES sender identity";
    let functions = format!("{}-functions", plan.app);
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let deployed = cfn::describe(&client, &functions).await.ok().flatten();
    let default = plan
        .stack(&functions)
        .and_then(|stack| stack.template["Parameters"]["EmailIdentity"]["Default"].as_str())
        .unwrap_or_default()
        .to_owned();
    let identity = deployed
        .and_then(|stack| stack.parameters.get("EmailIdentity").cloned())
        .unwrap_or(default);
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let mut findings = Vec::new();
    findings.push(
        match ses
            .get_email_identity()
            .email_identity(&identity)
            .send()
            .await
        {
            Ok(found) if found.verified_for_sending_status() => {
                ok(IDENTITY, format!("{identity} verified"))
            }
            Ok(_) => warning(
                IDENTITY,
                format!("{identity} is not verified yet: every order email will fail"),
                "finish its verification in the SES console (DNS records for a domain, the \
                 link mailed to an address)",
            ),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_not_found_exception()) =>
            {
                warning(
                    IDENTITY,
                    format!("{identity} is not an SES identity of this account and region"),
                    "create and verify it in SES, then deploy with `--parameter \
                     functions.EmailIdentity=<it> --parameter functions.EmailFromAddress=<an \
                     address of it>`",
                )
            }
            Err(error) => warning(
                IDENTITY,
                format!(
                    "could not check {identity}: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(error)
                ),
                "grant ses:GetEmailIdentity to check it, or check it in the SES console",
            ),
        },
    );
    if let Ok(account) = ses.get_account().send().await
        && !account.production_access_enabled()
    {
        findings.push(warning(
            "SES sandbox",
            "the account is in the SES sandbox: emails reach verified addresses only",
            "request production access in the SES console, or verify each test recipient",
        ));
    }
    findings
}
