//! `cargo xtask synth`: write the platform's CloudFormation templates and `manifest.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use eventforge_stacks::platform::{self, Architecture, Config, Stage};
use typed_cloudformation::manifest::{Format, MANIFEST_FILE};
use typed_cloudformation::synth::Assembly;

#[derive(Args)]
pub struct SynthArgs {
    /// Deployment stage whose sizes and names to use.
    #[arg(long, value_enum, default_value_t = StageArg::Dev)]
    pub stage: StageArg,
    /// Directory to write the templates and manifest.json into
    /// [default: .eventforge/synth/<stage>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Template format (the manifest is always JSON).
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Processor architecture of the functions and the API task.
    #[arg(long, value_enum, default_value_t = ArchitectureArg::Arm64)]
    pub architecture: ArchitectureArg,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StageArg {
    /// Small sizes, short log retention, localhost callback URLs allowed.
    Dev,
    /// Production sizes and retention, deletion protection on the user pool.
    Prod,
}

impl From<StageArg> for Stage {
    fn from(stage: StageArg) -> Self {
        match stage {
            StageArg::Dev => Stage::Dev,
            StageArg::Prod => Stage::Prod,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchitectureArg {
    /// Graviton: about 20% cheaper for the same work. Building for it needs the Rust targets
    /// aarch64-unknown-linux-gnu (functions) and aarch64-unknown-linux-musl (API image).
    Arm64,
    /// Intel/AMD.
    #[value(name = "x86-64")]
    X86_64,
}

impl From<ArchitectureArg> for Architecture {
    fn from(architecture: ArchitectureArg) -> Self {
        match architecture {
            ArchitectureArg::Arm64 => Architecture::Arm64,
            ArchitectureArg::X86_64 => Architecture::X86_64,
        }
    }
}

/// The platform's configuration for a stage on an architecture.
pub fn config(stage: StageArg, architecture: ArchitectureArg) -> Config {
    Config {
        architecture: architecture.into(),
        ..Config::for_stage(stage.into())
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Json,
    Yaml,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Json => Format::Json,
            FormatArg::Yaml => Format::Yaml,
        }
    }
}

pub fn run(args: SynthArgs) -> Result<()> {
    let config = config(args.stage, args.architecture);
    let out = args
        .out
        .unwrap_or_else(|| Path::new(".eventforge/synth").join(config.stage.name()));
    let format = Format::from(args.format);
    let assembly = write_assembly(&config, &out, format)?;

    println!(
        "synthesised {} stacks into {}",
        assembly.stacks.len(),
        out.display()
    );
    println!(
        "{:<4} {:<32} {:>9}  depends on",
        "#", "stack (deploy order)", "resources"
    );
    for (index, stack) in assembly.stacks.iter().enumerate() {
        println!(
            "{:<4} {:<32} {:>9}  {}",
            index + 1,
            stack.name,
            stack.resource_count,
            if stack.dependencies.is_empty() {
                "-".to_owned()
            } else {
                stack.dependencies.join(", ")
            }
        );
    }
    let total: usize = assembly
        .stacks
        .iter()
        .map(|stack| stack.resource_count)
        .sum();
    println!(
        "{total} resources; manifest: {}",
        out.join(MANIFEST_FILE).display()
    );
    Ok(())
}

/// Synthesises `config`'s stacks into `out` (templates and `manifest.json`), replacing what an
/// earlier run left there.
pub fn write_assembly(config: &Config, out: &Path, format: Format) -> Result<Assembly> {
    let assembly = platform::synth(config).context("synthesis failed")?;
    clear_previous(out)?;
    assembly
        .write(out, format)
        .with_context(|| format!("cannot write the assembly to {}", out.display()))?;
    Ok(assembly)
}

/// Removes templates of an earlier run, so a stack that no longer exists leaves no file behind.
fn clear_previous(out: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if name == MANIFEST_FILE || name.contains(".template.") {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}
