//! `cargo xtask`: the EventForge-rs command line.
//!
//! One module per command, plain Rust, no shell scripts. This binary is the product's front door:
//! it runs the platform locally, synthesises and deploys the stacks, and runs the tests and
//! benchmarks.

mod bench;
mod codegen;
mod dev;
mod frontend;
mod process;
mod synth;
mod testing;

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Test(args) => testing::run_all(args),
    }
}
