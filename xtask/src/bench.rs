//! `cargo xtask bench`: measured figures for BENCHMARKS.md.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eventforge_stacks::platform::{self, Config, Stage};
use typed_cloudformation::manifest::Format;
use typed_cloudformation::synth::Assembly;

mod api;
mod dashboard;
mod load;
mod saga;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,
}

#[derive(Subcommand)]
pub enum BenchTarget {
    /// Time synthesising every stack of the platform (model, references, order, JSON bytes).
    Synth(SynthBenchArgs),
    /// Deploy every stack to moto and a local registry: full, no-op and one-function deploy
    /// times, the API image's size, each Lambda zip's size.
    #[cfg(feature = "deploy")]
    Deploy(crate::deploy::bench::DeployBenchArgs),
    /// Deploy every stack to moto and a local registry (built with the deployer on first use).
    #[cfg(not(feature = "deploy"))]
    #[command(disable_help_flag = true)]
    Deploy {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _args: Vec<std::ffi::OsString>,
    },
    /// Time `cargo xtask watch` from a saved change to one function's source to its new code
    /// live, against moto and a local registry (builds the functions with the `watch` profile).
    #[cfg(feature = "deploy")]
    Watch(crate::deploy::watch::bench::WatchBenchArgs),
    /// Time `cargo xtask watch` against moto (built with the deployer on first use).
    #[cfg(not(feature = "deploy"))]
    #[command(disable_help_flag = true)]
    Watch {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _args: Vec<std::ffi::OsString>,
    },
    /// Load the API: authenticated POST /api/orders and GET /api/orders/{id} on SQLite, and
    /// GET /health (the middleware alone), beside an axum hello-world as the ceiling; prints
    /// req/s and p50/p99 latency.
    Api(api::ApiBenchArgs),
    /// Lighthouse over the dashboard in Chromium: performance, accessibility and best-practices
    /// scores, load metrics and script bytes of the sign-in and orders pages, mobile and desktop.
    Dashboard(dashboard::DashboardBenchArgs),
    /// Run orders through the local runtime's saga and processors (completed sagas per second,
    /// order-to-final latency), and time a Lambda binary's cold start; each zip's size.
    Saga(saga::SagaBenchArgs),
}

#[derive(Args)]
pub struct SynthBenchArgs {
    /// Timed runs after one warm-up run.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Replace the `## Synth` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Synth(args) => synth(args),
        BenchTarget::Api(args) => bench_api(&args),
        #[cfg(feature = "deploy")]
        BenchTarget::Deploy(args) => bench_deploy(&args),
        #[cfg(feature = "deploy")]
        BenchTarget::Watch(args) => {
            refuse_debug_record(args.record, "watch")?;
            let section = crate::deploy::watch::bench::run(&args)?;
            publish(&section, args.record, "watch")
        }
        #[cfg(not(feature = "deploy"))]
        BenchTarget::Deploy { .. } | BenchTarget::Watch { .. } => {
            crate::process::rerun_with_feature("deploy")
        }
        BenchTarget::Saga(args) => bench_saga(&args),
        BenchTarget::Dashboard(args) => {
            print!("\n{}", dashboard::run_benchmark(&args)?);
            Ok(())
        }
    }
}

#[cfg(feature = "deploy")]
fn bench_deploy(args: &crate::deploy::bench::DeployBenchArgs) -> Result<()> {
    refuse_debug_record(args.record, "deploy")?;
    let section = crate::deploy::bench::run(args)?;
    publish(&section, args.record, "deploy")
}

fn bench_saga(args: &saga::SagaBenchArgs) -> Result<()> {
    refuse_debug_record(args.record, "saga")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let section = runtime.block_on(saga::run(args))?;
    publish(&section, args.record, "saga")
}

fn bench_api(args: &api::ApiBenchArgs) -> Result<()> {
    refuse_debug_record(args.record, "api")?;
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(api::run(args))?;
    publish(&report, args.record, "api")
}

/// "2026-12-04, commit abc1234": when and on what code the figures were taken.
pub fn provenance() -> Result<String> {
    let commit = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h"])
        .current_dir(crate::process::workspace_root())
        .output()
        .context("cannot run git")?;
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()?;
    Ok(format!(
        "{}, commit {}",
        String::from_utf8_lossy(&date.stdout).trim(),
        String::from_utf8_lossy(&commit.stdout).trim()
    ))
}

/// One full synthesis, as `cargo xtask synth` does it minus the file writes.
fn synthesise(config: &Config) -> Result<(Assembly, usize)> {
    let assembly = platform::synth(config)?;
    let mut bytes = 0;
    for stack in &assembly.stacks {
        bytes += Assembly::render(stack, Format::Json)?.len();
    }
    Ok((assembly, bytes))
}

/// The median, min and max of `times`, in milliseconds.
fn spread(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort();
    (
        millis(times[times.len() / 2]),
        millis(times[0]),
        millis(times[times.len() - 1]),
    )
}

/// Times `runs` whole `cargo xtask synth --stage prod` processes of this very binary (start-up,
/// every stack, the templates and manifest written), after a warm-up, for the format.
fn synth_processes(runs: u32, format: &str) -> Result<Vec<Duration>> {
    let binary = std::env::current_exe().context("cannot find the running xtask binary")?;
    let out = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut command = std::process::Command::new(&binary);
    command
        .args(["synth", "--stage", "prod", "--format", format, "--out"])
        .arg(out.path())
        .stdout(std::process::Stdio::null());
    let mut times = Vec::with_capacity(runs as usize);
    for run in 0..=runs {
        let start = Instant::now();
        let status = command
            .status()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let elapsed = start.elapsed();
        if !status.success() {
            anyhow::bail!("`xtask synth --format {format}` failed ({status})");
        }
        if run > 0 {
            times.push(elapsed);
        }
    }
    Ok(times)
}

fn synth(args: SynthBenchArgs) -> Result<()> {
    refuse_debug_record(args.record, "synth")?;
    let config = Config::for_stage(Stage::Prod);
    let (assembly, bytes) = synthesise(&config)?;
    let mut times: Vec<Duration> = Vec::with_capacity(args.runs as usize);
    for _ in 0..args.runs {
        let start = Instant::now();
        synthesise(&config)?;
        times.push(start.elapsed());
    }
    let (median, min, max) = spread(times);
    let (json, json_min, json_max) = spread(synth_processes(args.runs, "json")?);
    let (yaml, yaml_min, yaml_max) = spread(synth_processes(args.runs, "yaml")?);
    let resources: usize = assembly
        .stacks
        .iter()
        .map(|stack| stack.resource_count)
        .sum();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let report = format!(
        "## Synth\n\n\
         `cargo xtask bench synth` ({profile} build, {runs} runs of each after a warm-up, \
         {provenance}, 2 cores).\n\n\
         - The whole `cargo xtask synth --stage prod` process, as a user runs it from the built \
         binary (start-up, all {stacks} stacks with {resources} resources, every template and \
         the manifest written): **{json:.2} ms** median with JSON templates ({json_min:.2} to \
         {json_max:.2}), **{yaml:.2} ms** with YAML ({yaml_min:.2} to {yaml_max:.2}). Target: \
         under 20 ms.\n\
         - In the process, synthesis alone (the typed model, every cross-stack reference, the \
         order of the stacks, {kib} KiB of JSON rendered; no start-up, no files): \
         **{median:.2} ms** median, {min:.2} ms min, {max:.2} ms max.\n\n\
         For comparison, `cdk synth` of an app this size \
         typically takes several seconds, Node.js start-up included; that figure is the common \
         experience, not measured on this machine.\n",
        runs = args.runs,
        stacks = assembly.stacks.len(),
        kib = bytes / 1024,
        provenance = provenance()?,
    );
    publish(&report, args.record, "synth")
}

/// Figures are quoted from optimised builds only, so `--record` from a debug build is refused
/// before anything is measured (a debug xtask ran the saga at less than half its speed).
fn refuse_debug_record(record: bool, command: &str) -> Result<()> {
    if record && cfg!(debug_assertions) {
        bail!(
            "`--record` writes the figures to quote, which come from a release build: run \
             `cargo run --release -p xtask -- bench {command} --record`"
        );
    }
    Ok(())
}

/// Prints `section`, says so when it comes from a debug build, and with `record` writes it
/// into BENCHMARKS.md in place of the section of the same title.
fn publish(section: &str, record: bool, command: &str) -> Result<()> {
    print!("\n{section}");
    if cfg!(debug_assertions) {
        println!(
            "\nnote: this is a debug build; `cargo run --release -p xtask -- bench {command}` gives the figures to quote"
        );
    }
    if record {
        record_section(Path::new("BENCHMARKS.md"), section)?;
        println!("recorded in BENCHMARKS.md");
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Replaces (or appends) the section (its first line is the heading) in the file, leaving other sections untouched.
fn record_section(path: &Path, section: &str) -> Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    std::fs::write(path, replace_section(&existing, section))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn replace_section(existing: &str, section: &str) -> String {
    let heading = section.lines().next().unwrap_or_default();
    let mut lines: Vec<&str> = existing.lines().collect();
    match lines.iter().position(|line| line.trim_end() == heading) {
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|line| line.starts_with("## "))
                .map_or(lines.len(), |offset| start + 1 + offset);
            let section_lines: Vec<&str> = section.lines().chain(std::iter::once("")).collect();
            lines.splice(start..end, section_lines);
            lines.join("\n").trim_end().to_owned() + "\n"
        }
        None => format!("{}\n\n{section}", existing.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_section;

    #[test]
    fn recording_replaces_only_the_synth_section() {
        let before = "# Benchmarks\n\n## Api\n\nfast\n\n## Synth\n\nold\n\n## Other\n\nkept\n";
        let after = replace_section(before, "## Synth\n\nnew\n");
        assert_eq!(
            after,
            "# Benchmarks\n\n## Api\n\nfast\n\n## Synth\n\nnew\n\n## Other\n\nkept\n"
        );
    }

    #[test]
    fn recording_appends_the_section_when_absent() {
        let after = replace_section("# Benchmarks\n\n## Api\n\nfast\n", "## Synth\n\nnew\n");
        assert_eq!(after, "# Benchmarks\n\n## Api\n\nfast\n\n## Synth\n\nnew\n");
    }
}
