//! `cargo xtask`: the EventForge-rs command line.
//!
//! One module per command, plain Rust, no shell scripts. This binary is the product's front door:
//! it runs the platform locally, synthesises and deploys the stacks, and runs the tests and
//! benchmarks.

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
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
