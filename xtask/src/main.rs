//! `cargo xtask`: the EventForge-rs command line.
//!
//! One module per command, plain Rust, no shell scripts. This binary is the product's front door:
//! it runs the platform locally, synthesises and deploys the stacks, and runs the tests and
//! benchmarks.

// The doc comments of the commands are their `--help` text, where `<stage>` is a placeholder
// for the reader, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

mod artefacts;
mod aws;
mod bench;
mod catalogue;
mod codegen;
#[cfg(feature = "deploy")]
mod deploy;
mod dev;
mod dev_server;
mod frontend;
mod graph;
mod process;
mod synth;
mod testing;

use clap::{Parser, Subcommand};

#[cfg(feature = "deploy")]
use deploy::doctor::DoctorArgs;
#[cfg(feature = "deploy")]
use deploy::watch::WatchArgs;
#[cfg(feature = "deploy")]
use deploy::{DeployArgs, DestroyArgs, DiffArgs, DriftArgs, StatusArgs, TeardownEcsArgs};
#[cfg(not(feature = "deploy"))]
use with_deploy::{
    DeployArgs, DestroyArgs, DiffArgs, DoctorArgs, DriftArgs, StatusArgs, TeardownEcsArgs,
    WatchArgs,
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "EventForge-rs: run the order platform locally, synthesise and deploy its infrastructure",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform locally on SQLite: API, dashboard, saga and processors. No AWS account needed.
    Dev(dev::DevArgs),
    /// Regenerate the typed CloudFormation resources in stacks/typed-cloudformation/src/generated from cfn-lint's schemas.
    Codegen(codegen::CodegenArgs),
    /// Synthesise the platform's CloudFormation templates and manifest.json (deploy order, assets).
    Synth(synth::SynthArgs),
    /// Draw the platform from its typed model: stacks and cross-stack references, the event
    /// flow, the saga's states; Mermaid (`*.mmd`) and SVG into docs/diagrams (or --out).
    Graph(graph::GraphArgs),
    /// Measure the platform: `bench synth` times synthesising every stack.
    Bench(bench::BenchArgs),
    /// Manage the products that can be ordered, locally (SQLite) or in a deployed stage's table:
    /// import a JSON or CSV file, list, set one product's stock.
    Catalogue(catalogue::CatalogueArgs),
    /// Run every test: Rust (with moto and cfn-lint installed first), dashboard unit and browser tests.
    Test(testing::TestArgs),
    /// Deploy the platform: bootstrap, assets (Lambda zips, API image), then every stack in
    /// dependency order via change sets, skipping unchanged stacks.
    Deploy(DeployArgs),
    /// Deploy, then on every saved change rebuild only what it goes into and put it live: a
    /// function's zip or the API image hotswapped, the dashboard republished; a change to the
    /// stacks (or what they build on) synthesises again and deploys the changed stacks. One
    /// line per cycle with what was swapped and how long it took. Dev stage.
    Watch(WatchArgs),
    /// Check what a deploy needs, before anything is built: credentials and account, region,
    /// the bootstrap stack, the Rust targets, cargo-lambda and zig, the SES identity; every
    /// problem with its fix. `deploy` runs the same checks first.
    Doctor(DoctorArgs),
    /// Preview what deploy would change in each stack (change sets, nothing executed).
    Diff(DiffArgs),
    /// Each stack's status, last update, outputs, and whether the local template differs.
    Status(StatusArgs),
    /// Run CloudFormation's drift detection on every deployed stack and list what changed
    /// outside CloudFormation, resource by resource and property by property; exits 1 when a
    /// stack drifted (for CI).
    Drift(DriftArgs),
    /// Delete the ECS part (api stack: service, task definition, load balancer) and what
    /// watches it, keeping data, queues, functions, workflow, auth and frontend; prints the
    /// monthly cost that stops.
    TeardownEcs(TeardownEcsArgs),
    /// Delete every stack in reverse dependency order; data is retained unless --purge.
    Destroy(DestroyArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Graph(args) => graph::run(&args),
        Command::Bench(args) => bench::run(args),
        Command::Test(args) => testing::run_all(args),
        Command::Catalogue(args) => catalogue::run(args),
        #[cfg(feature = "deploy")]
        Command::Deploy(args) => deploy::run_deploy(args),
        #[cfg(feature = "deploy")]
        Command::Watch(args) => deploy::watch::run_watch(args),
        #[cfg(feature = "deploy")]
        Command::Doctor(args) => deploy::doctor::run(args),
        #[cfg(feature = "deploy")]
        Command::Diff(args) => deploy::run_diff(args),
        #[cfg(feature = "deploy")]
        Command::Status(args) => deploy::run_status(args),
        #[cfg(feature = "deploy")]
        Command::Drift(args) => deploy::run_drift(args),
        #[cfg(feature = "deploy")]
        Command::TeardownEcs(args) => deploy::run_teardown_ecs(args),
        #[cfg(feature = "deploy")]
        Command::Destroy(args) => deploy::run_destroy(args),
        #[cfg(not(feature = "deploy"))]
        Command::Deploy(_)
        | Command::Watch(_)
        | Command::Doctor(_)
        | Command::Diff(_)
        | Command::Status(_)
        | Command::Drift(_)
        | Command::TeardownEcs(_)
        | Command::Destroy(_) => with_deploy::rerun(),
    }
}

/// Without the `deploy` feature: the deploy commands' arguments are taken as they come and
/// handed to a build of this binary with the feature, which parses them (and answers `--help`).
#[cfg(not(feature = "deploy"))]
mod with_deploy {
    use clap::Args;

    /// Arguments of a deploy command, parsed by the build with the `deploy` feature.
    #[derive(Args)]
    #[command(disable_help_flag = true)]
    pub struct Forwarded {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _args: Vec<std::ffi::OsString>,
    }

    pub type DeployArgs = Forwarded;
    pub type DiffArgs = Forwarded;
    pub type StatusArgs = Forwarded;
    pub type DriftArgs = Forwarded;
    pub type TeardownEcsArgs = Forwarded;
    pub type DestroyArgs = Forwarded;
    pub type DoctorArgs = Forwarded;
    pub type WatchArgs = Forwarded;

    /// Runs this command line again through `cargo run -p xtask --features deploy`, which
    /// builds the deployer and its AWS SDK clients the first time (minutes on a cold cache;
    /// cargo shows its progress) and reuses that build afterwards.
    pub fn rerun() -> anyhow::Result<()> {
        crate::process::rerun_with_feature("deploy")
    }
}
