//! `cargo xtask`: the EventForge-rs command line.
//!
//! One module per command, plain Rust, no shell scripts. This binary is the product's front door:
//! it runs the platform locally, synthesises and deploys the stacks, and runs the tests and
//! benchmarks.

mod bench;
mod codegen;
mod deploy;
mod dev;
mod frontend;
mod process;
mod synth;
mod testing;

use clap::{Parser, Subcommand};

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
    /// Regenerate the typed CloudFormation resources in stacks/src/generated from cfn-lint's schemas.
    Codegen(codegen::CodegenArgs),
    /// Synthesise the platform's CloudFormation templates and manifest.json (deploy order, assets).
    Synth(synth::SynthArgs),
    /// Measure the platform: `bench synth` times synthesising every stack.
    Bench(bench::BenchArgs),
    /// Run every test: Rust (with moto and cfn-lint installed first), dashboard unit and browser tests.
    Test(testing::TestArgs),
    /// Deploy the platform: bootstrap, assets (Lambda zips, API image), then every stack in
    /// dependency order via change sets, skipping unchanged stacks.
    Deploy(deploy::DeployArgs),
    /// Preview what deploy would change in each stack (change sets, nothing executed).
    Diff(deploy::DiffArgs),
    /// Each stack's status, last update, outputs, and whether the local template differs.
    Status(deploy::StatusArgs),
    /// Delete the ECS part (api stack: service, task definition, load balancer) and what
    /// watches it, keeping data, queues, functions, workflow, auth and frontend; prints the
    /// monthly cost that stops.
    TeardownEcs(deploy::TeardownEcsArgs),
    /// Delete every stack in reverse dependency order; data is retained unless --purge.
    Destroy(deploy::DestroyArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Test(args) => testing::run_all(args),
        Command::Deploy(args) => deploy::run_deploy(args),
        Command::Diff(args) => deploy::run_diff(args),
        Command::Status(args) => deploy::run_status(args),
        Command::TeardownEcs(args) => deploy::run_teardown_ecs(args),
        Command::Destroy(args) => deploy::run_destroy(args),
    }
}
