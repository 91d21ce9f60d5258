//! `cargo xtask deploy`, `diff`, `status`, `teardown-ecs` and `destroy`: the CLI over
//! `eventforge-deployer`. This module parses flags, builds the assets and draws progress; the
//! deploying itself is the library's.

mod approval;
pub mod assets;
mod bars;
pub mod bench;
pub mod doctor;
pub mod watch;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use eventforge_deployer::drift;
use eventforge_deployer::progress::Outcome;
use eventforge_deployer::{DeployOptions, Deployer, DestroyReport, EmulatorProfile, Plan, Target};
use eventforge_platform_deploy::SiteError;
use eventforge_platform_deploy::cost::{ApiCost, api_monthly_cost};
use eventforge_platform_deploy::site::{Invalidation, SitePublisher, SiteReport};
use eventforge_stacks::platform::{self, Config};
use eventforge_topology::StackOutput;
use typed_cloudformation::manifest::Format;

use crate::aws::AwsArgs;
use crate::synth::{ArchitectureArg, StageArg};

pub use assets::AssetArgs;

/// Where to deploy: the usual AWS chain, or an emulator.
#[derive(Args, Clone)]
pub struct TargetArgs {
    /// Deployment stage: picks the stack names (eventforge-<stage>-*) and the synthesised sizes.
    #[arg(long, value_enum, default_value_t = StageArg::Dev)]
    pub stage: StageArg,
    /// Processor architecture of the functions and the API task; the code is built for it.
    #[arg(long, value_enum, default_value_t = ArchitectureArg::Arm64)]
    pub architecture: ArchitectureArg,
    /// The account and region to deploy to. With --endpoint-url, the emulator profile adapts
    /// the templates to what the emulator implements and reports every adaptation.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The emulator behind --endpoint-url; `none` sends templates unchanged, by change set.
    #[arg(long, value_enum, default_value_t = EmulatorArg::Moto, requires = "endpoint_url")]
    pub emulator: EmulatorArg,
    /// Push the API image to this registry (http://host:port) instead of the ECR repository of
    /// the bootstrap stack; for emulators, which have no registry.
    #[arg(long, value_name = "URL")]
    pub registry_url: Option<String>,
    /// ARN of the role CloudFormation assumes to change resources: the deploy-access stack's
    /// `CloudFormationExecutionRoleArn` output (the GitHub deploy role may only pass it).
    /// Default: CloudFormation uses the caller's own permissions.
    #[arg(long, value_name = "ARN")]
    pub cfn_execution_role: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EmulatorArg {
    /// moto_server 5.2: skips the resource types it does not implement, works around its gaps.
    Moto,
    /// An emulator that needs no adaptation.
    None,
}

#[derive(Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Deploy only these stacks, by full or short name (`api` or `eventforge-dev-api`); their
    /// dependencies must be deployed already.
    #[arg(long, value_name = "STACK", num_args = 1..)]
    pub only: Vec<String>,
    /// Do not ask before deploying the prod stage.
    #[arg(long)]
    pub yes: bool,
    /// When only code changed, update it in place instead of going through CloudFormation:
    /// Lambda code with UpdateFunctionCode, a new API image with a new revision of the service's
    /// task definition and UpdateService. Anything else still deploys normally. For
    /// development: the stacks drift until the next plain deploy.
    #[arg(long)]
    pub hotswap: bool,
    /// Set a stack's own parameter: `STACK.NAME=VALUE`, e.g. `functions.EmailIdentity=shop.example.org`
    /// `functions.EmailFromAddress=orders@shop.example.org` `observability.AlarmEmail=me@example.org`.
    /// Repeatable. A parameter not given keeps the value it has in the deployed stack.
    #[arg(long = "parameter", value_name = "STACK.NAME=VALUE")]
    pub parameters: Vec<String>,
    /// Dev stage: load the demo catalogue into the table when it is empty, without asking.
    /// (Without this flag an interactive deploy of the dev stage asks; the prod stage is never
    /// stocked with demo products: use `cargo xtask catalogue import`.)
    #[arg(long)]
    pub seed_demo: bool,
    /// When to ask before deploying: `broadening` shows every grant the deploy adds (IAM
    /// statements, trust, managed policies, resource policies, Lambda permissions, ingress,
    /// public endpoints) and asks; `any-change` asks when any template changes; `never` for CI.
    /// Without a terminal, a deploy that needs approval is refused.
    #[arg(long, value_enum, default_value_t = approval::RequireApprovalArg::Broadening)]
    pub require_approval: approval::RequireApprovalArg,
    #[command(flatten)]
    pub assets: AssetArgs,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Preview only these stacks (full or short names).
    #[arg(long, value_name = "STACK", num_args = 1..)]
    pub only: Vec<String>,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args)]
pub struct TeardownEcsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Destroy only these stacks (and the stacks that depend on them), by full or short name.
    #[arg(long, value_name = "STACK", num_args = 1..)]
    pub only: Vec<String>,
    /// Also delete what the templates retain: the orders table, the receipts and asset buckets
    /// and the image repository. Irreversible; asks for confirmation unless --yes.
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The synthesised plan of the stage on the architecture.
/// Synthesises the stage as `cargo xtask synth` does and reads the plan back from the written
/// `manifest.json` and templates, the deployer's one contract with synthesis. The assembly goes
/// to a directory of this run's own (two runs at once must not read each other's half-written
/// files; the stage's lock comes later), removed once read.
pub fn plan(stage: StageArg, architecture: ArchitectureArg) -> Result<(Config, Plan)> {
    let config = crate::synth::config(stage, architecture);
    let out = std::env::temp_dir().join(format!(
        "eventforge-assembly-{}-{}",
        config.stage.name(),
        std::process::id()
    ));
    crate::synth::write_assembly(&config, &out, Format::Json)?;
    let plan =
        Plan::load(&out).with_context(|| format!("cannot read the assembly in {}", out.display()));
    // Best effort: a leftover directory in the temporary directory harms nothing.
    let _ = std::fs::remove_dir_all(&out);
    Ok((config, plan?))
}

/// The SDK configuration and deploy target the flags describe.
pub async fn target(args: &TargetArgs) -> Result<Target> {
    let sdk = args.aws.sdk_config().await?;
    let emulator = match (&args.aws.endpoint_url, args.emulator) {
        (Some(_), EmulatorArg::Moto) => Some(EmulatorProfile::Moto),
        _ => None,
    };
    Ok(Target {
        sdk,
        emulator,
        registry: args.registry_url.clone(),
        cfn_execution_role: args.cfn_execution_role.clone(),
    })
}

/// `--parameter STACK.NAME=VALUE` flags as values by full stack name, checked against the plan:
/// the stack exists and declares the parameter, which is not one an asset fills.
fn stack_parameters(
    plan: &Plan,
    flags: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut parameters: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for flag in flags {
        let Some((target, value)) = flag.split_once('=') else {
            bail!(
                "--parameter {flag}: write it as STACK.NAME=VALUE, e.g. functions.EmailIdentity=example.org"
            );
        };
        let Some((stack, name)) = target.rsplit_once('.') else {
            bail!(
                "--parameter {flag}: name the stack and the parameter, e.g. functions.EmailIdentity"
            );
        };
        let stack = resolve_names(plan, &[stack.to_owned()])?.remove(0);
        let planned = plan
            .stack(&stack)
            .context("resolved stacks are in the plan")?;
        let settable: Vec<&String> = planned.own_parameters().map(|(name, _)| name).collect();
        if !settable.iter().any(|settable| *settable == name) {
            bail!(
                "--parameter {flag}: {stack} has no parameter {name} to set; it has: {}",
                if settable.is_empty() {
                    "none".to_owned()
                } else {
                    settable
                        .iter()
                        .map(|name| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        parameters
            .entry(stack)
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }
    Ok(parameters)
}

/// Full stack names for `--only`, accepting short ones.
fn resolve_names(plan: &Plan, names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|name| {
            let full = if plan.stack(name).is_some() {
                name.clone()
            } else {
                format!("{}-{name}", plan.app)
            };
            if plan.stack(&full).is_none() {
                let known: Vec<&str> = plan
                    .stacks
                    .iter()
                    .map(|stack| stack.name.trim_start_matches(&format!("{}-", plan.app)))
                    .collect();
                bail!(
                    "no stack named {name}; the stacks are: {}",
                    known.join(", ")
                );
            }
            Ok(full)
        })
        .collect()
}

fn confirm(question: &str) -> Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        bail!("no answer on standard input; pass --yes to proceed without asking");
    }
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn run_deploy(args: DeployArgs) -> Result<()> {
    let (config, plan) = plan(args.target.stage, args.target.architecture)?;
    let only = resolve_names(&plan, &args.only)?;
    if config.stage == platform::Stage::Prod && args.seed_demo {
        bail!(
            "--seed-demo is for the dev stage: the prod catalogue comes from \
             `cargo xtask catalogue import FILE --stage prod`"
        );
    }
    if config.stage == platform::Stage::Prod && !args.yes && !confirm("Deploy the prod stage?")? {
        bail!("not confirmed");
    }
    let parameters = stack_parameters(&plan, &args.parameters)?;
    let runtime = runtime()?;
    // The credential chain is resolved once, for the checks and the deploy.
    let target = runtime.block_on(target(&args.target))?;
    // What would make the deploy fail, found before anything is built. Emulators have no
    // account, SES or bootstrap worth checking.
    if args.target.aws.endpoint_url.is_none() {
        let builds = !args.assets.no_build;
        let findings = runtime.block_on(doctor::check(
            &plan,
            &target.sdk,
            args.target.architecture,
            builds,
        ));
        doctor::report(&findings)?;
    }
    let sdk = target.sdk.clone();
    let publisher = SitePublisher::new(&target);
    let deployer = Deployer::new(target);
    // Approved (or refused) before anything is built.
    let reviews = runtime.block_on(eventforge_deployer::security::review(
        &deployer, &plan, &only,
    ))?;
    approval::approve(args.require_approval, &reviews, confirm)?;
    let started = Instant::now();
    let assets = assets::build(&plan, &args.assets, &only, args.target.architecture)?;
    let frontend_stack = format!("{}-frontend", plan.app);
    let site = (only.is_empty() || only.contains(&frontend_stack))
        .then(|| assets::build_site(&args.assets))
        .transpose()?;
    runtime.block_on(async {
        let bars = Arc::new(bars::Bars::new());
        let options = DeployOptions {
            only,
            hotswap: args.hotswap,
            parameters,
        };
        let result = deployer
            .deploy(&plan, &assets, &options, bars.clone())
            .await;
        let published = match (&result, &site) {
            (Ok(report), Some(dist)) => Some(
                publisher
                    .publish(&plan.app, &report.outputs, dist, bars.as_ref())
                    .await,
            ),
            _ => None,
        };
        bars.clear();
        let report = result.map_err(|error| anyhow::anyhow!(explain(&error)))?;
        print_summary(&report.outcomes);
        if let Some(published) = published {
            print_site(&published.map_err(|error| match error {
                SiteError::Deploy(error) => anyhow::anyhow!(explain(&error)),
                other => anyhow::anyhow!(other),
            })?);
        }
        print_outputs(&report.outputs);
        if config.stage == platform::Stage::Dev {
            offer_demo_catalogue(&config, &sdk, args.seed_demo).await;
        }
        println!("done in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    })
}

/// A new stage's table is empty, and every order is refused until it has products: on the dev
/// stage, load the demo catalogue when asked to (`--seed-demo`), or ask when a person is at the
/// terminal. A failure here only says so: the deploy itself succeeded.
async fn offer_demo_catalogue(config: &Config, sdk: &aws_config::SdkConfig, seed: bool) {
    use std::io::IsTerminal;
    let table = config.table_name();
    let store = eventforge_store_dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table.clone(),
    );
    let outcome = async {
        if !eventforge_core::Store::list_inventory(&store)
            .await?
            .is_empty()
        {
            return Ok(None);
        }
        let load = seed
            || (std::io::stdin().is_terminal()
                && confirm(
                    "The catalogue is empty, so no order can be placed. Load the demo catalogue?",
                )?);
        if !load {
            return Ok(Some(0));
        }
        crate::dev::seed_if_empty(&store).await.map(Some)
    };
    match outcome.await {
        Ok(None) => {}
        Ok(Some(0)) => println!(
            "the catalogue in {table} is empty: no order can be placed until products are \
             loaded (`cargo xtask catalogue import FILE --stage dev`, or `deploy --seed-demo`)"
        ),
        Ok(Some(loaded)) => println!("loaded the demo catalogue ({loaded} products) into {table}"),
        Err(error) => println!("could not check the catalogue in {table}: {error:#}"),
    }
}

fn print_site(report: &SiteReport) {
    println!(
        "dashboard: {} uploaded, {} unchanged, {} deleted in s3://{}; {}",
        report.uploaded.len(),
        report.unchanged,
        report.deleted.len(),
        report.bucket,
        match &report.invalidation {
            Invalidation::NotNeeded => "nothing to invalidate".to_owned(),
            Invalidation::Created { distribution, id } =>
                format!("CloudFront invalidation {id} of {distribution} requested"),
            Invalidation::Skipped { reason } =>
                format!("CloudFront invalidation SKIPPED: {reason}"),
        }
    );
}

/// The error with what to do about it, where there is something to do.
fn explain(error: &eventforge_deployer::DeployError) -> String {
    use eventforge_deployer::DeployError;
    match error {
        DeployError::StackFailed { stack, .. } => format!(
            "{error}\nCloudFormation rolled the stack back; `cargo xtask status` shows where {stack} stands"
        ),
        DeployError::Api { message, .. }
            if message.contains("dispatch failure") || message.contains("onnect") =>
        {
            format!(
                "{error}\nis the endpoint reachable and are credentials configured (`aws sts get-caller-identity`)?"
            )
        }
        _ => error.to_string(),
    }
}

fn print_summary(outcomes: &BTreeMap<String, Outcome>) {
    let count =
        |wanted: fn(&Outcome) -> bool| outcomes.values().filter(|outcome| wanted(outcome)).count();
    println!(
        "{} created, {} updated, {} hotswapped, {} unchanged",
        count(|outcome| matches!(outcome, Outcome::Created)),
        count(|outcome| matches!(outcome, Outcome::Updated)),
        count(|outcome| matches!(outcome, Outcome::Hotswapped(_))),
        count(|outcome| matches!(outcome, Outcome::Unchanged | Outcome::NoChanges)),
    );
}

/// The outputs people need: API and dashboard URLs, user pool and client ids, and the rest.
fn print_outputs(outputs: &BTreeMap<String, BTreeMap<String, String>>) {
    for output in StackOutput::ALL
        .into_iter()
        .filter(|output| *output != StackOutput::SiteBucketName)
    {
        let name = output.name();
        for stack_outputs in outputs.values() {
            if let Some(value) = stack_outputs.get(name) {
                println!("  {name:<18} {value}");
            }
        }
    }
}

pub fn run_diff(args: DiffArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    let only = resolve_names(&plan, &args.only)?;
    runtime()?.block_on(async {
        let deployer = Deployer::new(target(&args.target).await?);
        let diffs = deployer
            .diff(&plan, &only)
            .await
            .map_err(|error| anyhow::anyhow!(explain(&error)))?;
        for (stack, changes) in diffs {
            if changes.is_empty() {
                println!("{stack}: no changes");
                continue;
            }
            println!("{stack}: {} changes", changes.len());
            for change in changes {
                let replacement = match change.replacement.as_deref() {
                    Some("True") => "  (replacement)",
                    Some("Conditional") => "  (may be replaced)",
                    _ => "",
                };
                let sign = match change.action.as_str() {
                    "Add" => '+',
                    "Remove" => '-',
                    _ => '~',
                };
                println!(
                    "  {sign} {:<8} {:<36} {}{replacement}",
                    change.action, change.logical_id, change.resource_type
                );
            }
        }
        Ok(())
    })
}

pub fn run_drift(args: DriftArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    runtime()?.block_on(async {
        let deployer = Deployer::new(target(&args.target).await?);
        println!("detecting drift on every deployed stack (CloudFormation takes a minute or two)");
        let drifts = drift::detect(deployer.cloudformation(), &plan)
            .await
            .map_err(|error| anyhow::anyhow!(explain(&error)))?;
        print!("{}", render_drift(&drifts));
        if drift::any_drift(&drifts) {
            bail!(
                "drift found: a plain `cargo xtask deploy` puts the stacks back as the templates say \
                 (or change the code to match what was changed)"
            );
        }
        Ok(())
    })
}

/// One line per stack, then each drifted resource and its changed properties.
fn render_drift(drifts: &[drift::StackDrift]) -> String {
    use drift::DriftState;
    let mut out = String::new();
    for stack in drifts {
        let state = match &stack.state {
            DriftState::NotDeployed => "not deployed".to_owned(),
            DriftState::InSync => "in sync".to_owned(),
            DriftState::Drifted(resources) => format!("DRIFTED ({} resource(s))", resources.len()),
            DriftState::Failed(reason) => format!("not checked: {reason}"),
        };
        out.push_str(&format!("{:<32} {state}\n", stack.stack));
        if let DriftState::Drifted(resources) = &stack.state {
            for resource in resources {
                out.push_str(&format!(
                    "    {} {} ({})\n",
                    resource.status, resource.logical_id, resource.resource_type
                ));
                for property in &resource.properties {
                    out.push_str(&format!(
                        "        {} {}: expected {}, actual {}\n",
                        property.difference, property.path, property.expected, property.actual
                    ));
                }
            }
        }
    }
    out
}

pub fn run_status(args: StatusArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    runtime()?.block_on(async {
        let deployer = Deployer::new(target(&args.target).await?);
        let statuses = deployer
            .status(&plan)
            .await
            .map_err(|error| anyhow::anyhow!(explain(&error)))?;
        println!(
            "{:<32} {:<26} {:<22} local template",
            "stack", "status", "last update (UTC)"
        );
        for status in &statuses {
            match &status.deployed {
                None => println!("{:<32} {:<26} {:<22} -", status.name, "not deployed", "-"),
                Some(deployed) => {
                    let updated = deployed.last_updated_text();
                    let differs = if status.template_differs == Some(true) {
                        "differs"
                    } else {
                        "same"
                    };
                    println!(
                        "{:<32} {:<26} {:<22} {differs}",
                        status.name, deployed.status, updated
                    );
                    for (key, value) in &deployed.outputs {
                        println!("    {key} = {value}");
                    }
                    if let Err(error) = eventforge_deployer::cfn::check_deployable(deployed) {
                        println!("    ! {error}");
                    }
                }
            }
        }
        Ok(())
    })
}

pub fn run_teardown_ecs(args: TeardownEcsArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    let api = format!("{}-api", plan.app);
    let api_stack = plan.stack(&api).context("the plan has no api stack")?;
    let removed = plan.with_dependents_reversed(std::slice::from_ref(&api));
    println!(
        "removes {} (ECS cluster, service, task definition, load balancer, the API's CloudFront \
         distribution, alarms and dashboard); keeps the data, queues, functions, workflow, auth \
         (with the ingest secret), frontend, and the alarms on the queues, dead-letter queues and saga",
        removed.join(", ")
    );
    if let Some(cost) = api_monthly_cost(&api_stack.template) {
        print_cost(&cost);
    }
    if !args.yes && !confirm("Tear down the ECS part?")? {
        bail!("not confirmed");
    }
    runtime()?.block_on(async {
        let deployer = Deployer::new(target(&args.target).await?);
        let bars = Arc::new(bars::Bars::new());
        let result = deployer
            .destroy(&plan, std::slice::from_ref(&api), false, bars.clone())
            .await;
        bars.clear();
        let report = result.map_err(|error| anyhow::anyhow!(explain(&error)))?;
        fail_on(&report)?;
        println!("the ECS part is down; `cargo xtask deploy` brings it back");
        Ok(())
    })
}

/// Every failed deletion, and the stacks kept because of them, as one error.
fn fail_on(report: &DestroyReport) -> Result<()> {
    if report.failures.is_empty() {
        return Ok(());
    }
    for failure in &report.failures {
        eprintln!("error: {}", explain(failure));
    }
    if !report.kept.is_empty() {
        eprintln!(
            "kept, as the failed stacks still use them: {}",
            report.kept.join(", ")
        );
    }
    bail!(
        "{} stack(s) could not be deleted; `cargo xtask status` shows where they stand",
        report.failures.len()
    )
}

fn print_cost(cost: &ApiCost) {
    println!(
        "monthly cost that stops: ${:.2} = Fargate ${:.2} ({} task(s) of {} vCPU / {} GB, {}) + load balancer ${:.2} + {} public IPv4 ${:.2} + {} alarm(s) and {} dashboard(s) ${:.2}",
        cost.total_monthly(),
        cost.fargate_monthly,
        cost.tasks,
        cost.vcpu,
        cost.memory_gb,
        if cost.arm64 { "ARM64" } else { "x86_64" },
        cost.load_balancer_monthly,
        cost.public_ips,
        cost.ipv4_monthly,
        cost.alarms,
        cost.dashboards,
        cost.watch_monthly,
    );
    println!("  assuming {}", ApiCost::ASSUMPTIONS);
}

pub fn run_destroy(args: DestroyArgs) -> Result<()> {
    let (_, plan) = plan(args.target.stage, args.target.architecture)?;
    let only = resolve_names(&plan, &args.only)?;
    if !args.yes {
        let question = if args.purge {
            "Destroy the stacks AND delete the orders table, buckets and image repository (irreversible)?"
        } else {
            "Destroy the stacks (the table, buckets and repository are retained)?"
        };
        if !confirm(question)? {
            bail!("not confirmed");
        }
    }
    runtime()?.block_on(async {
        let deployer = Deployer::new(target(&args.target).await?);
        let bars = Arc::new(bars::Bars::new());
        let result = deployer.destroy(&plan, &only, args.purge, bars.clone()).await;
        bars.clear();
        let report = result.map_err(|error| anyhow::anyhow!(explain(&error)))?;
        for resource in &report.purged {
            println!("purged {resource}");
        }
        fail_on(&report)?;
        if !args.purge {
            println!("retained: the orders table, the buckets and the image repository (`--purge` deletes them)");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::render_drift;
    use eventforge_deployer::drift::{DriftState, PropertyDrift, ResourceDrift, StackDrift};

    #[test]
    fn drift_names_each_changed_property_with_both_values() {
        let drifts = [
            StackDrift {
                stack: "eventforge-dev-data".to_owned(),
                state: DriftState::InSync,
            },
            StackDrift {
                stack: "eventforge-dev-messaging".to_owned(),
                state: DriftState::Drifted(vec![ResourceDrift {
                    logical_id: "EmailQueue".to_owned(),
                    resource_type: "AWS::SQS::Queue".to_owned(),
                    status: "MODIFIED".to_owned(),
                    properties: vec![PropertyDrift {
                        path: "/VisibilityTimeout".to_owned(),
                        difference: "NOT_EQUAL".to_owned(),
                        expected: "180".to_owned(),
                        actual: "30".to_owned(),
                    }],
                }]),
            },
        ];
        let text = render_drift(&drifts);
        assert!(
            text.contains(&format!("{:<32} in sync\n", "eventforge-dev-data")),
            "{text}"
        );
        assert!(text.contains("eventforge-dev-messaging         DRIFTED (1 resource(s))\n"));
        assert!(text.contains("    MODIFIED EmailQueue (AWS::SQS::Queue)\n"));
        assert!(text.contains("        NOT_EQUAL /VisibilityTimeout: expected 180, actual 30\n"));
    }
}
