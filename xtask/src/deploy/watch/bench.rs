//! `cargo xtask bench watch`: from a saved change to one function's source to its new code live,
//! through `cargo xtask watch` as a person runs it (its own process, real cargo-lambda builds
//! with the `watch` profile) against moto and a local registry.
//!
//! The change is made for real: a line that puts a new string into the function's binary is
//! written into its source file, once per run, and the file is put back as it was at the end
//! (also when the benchmark fails), so that what is timed is a rebuild with a different result.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_deployer::local_registry::LocalRegistry;
use eventforge_store_dynamodb::moto::MotoServer;

use crate::process::workspace_root;
use crate::synth::ArchitectureArg;

/// Where the benchmark's line goes: the first statement of the function's `main`.
const MAIN: &str = "fn main() -> Result<(), lambda_runtime::Error> {\n";

#[derive(Args)]
pub struct WatchBenchArgs {
    /// Timed saves after the first build.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// The function whose source is changed (a binary of eventforge-functions).
    #[arg(long, default_value = "charge-payment")]
    pub function: String,
    /// Replace the `## Watch` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

/// One save's cycle, as the watch line reports it.
struct Cycle {
    build: f64,
    swap: f64,
    live: f64,
}

/// The function's source as it was, written back when dropped.
struct Restore {
    path: PathBuf,
    original: String,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(error) = std::fs::write(&self.path, &self.original) {
            eprintln!(
                "could not put {} back as it was: {error}; `git checkout` it",
                self.path.display()
            );
        }
    }
}

/// The watch process, stopped by its PID when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the benchmark; returns the BENCHMARKS.md section.
pub fn run(args: &WatchBenchArgs) -> Result<String> {
    let source = workspace_root()
        .join("lambdas/functions/src/bin")
        .join(format!("{}.rs", args.function));
    let original = std::fs::read_to_string(&source)
        .with_context(|| format!("no function {} ({})", args.function, source.display()))?;
    if !original.contains(MAIN) {
        bail!(
            "{} has no `{}`: the benchmark changes the first line of main",
            source.display(),
            MAIN.trim()
        );
    }
    let architecture = ArchitectureArg::host();
    let moto = MotoServer::start()?;
    let registry = LocalRegistry::start()?;
    // The API and the dashboard are not what is measured: stand-ins, deployed once.
    let scratch = tempfile::tempdir()?;
    let api = scratch.path().join("eventforge-api");
    std::fs::write(&api, "#!/bin/false\n")?;
    let site = scratch.path().join("site");
    std::fs::create_dir_all(&site)?;
    std::fs::write(site.join("index.html"), "<html></html>")?;

    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["watch", "--architecture", architecture.flag()])
        .args(["--require-approval", "never"])
        .args(["--endpoint-url", &moto.direct_endpoint()])
        .args(["--registry-url", &registry.endpoint])
        .arg("--api-binary")
        .arg(&api)
        .arg("--site-dir")
        .arg(&site)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo xtask watch")?;
    let lines = lines_of(child.stdout.take().context("no output to read")?);
    let _running = Running(child);
    // The first build compiles every dependency for the `watch` profile on a cold target.
    let first = wait_for(&lines, "[0]", Duration::from_secs(3600))?;
    let first_cycle = started.elapsed();
    wait_for(&lines, "watching", Duration::from_secs(60))?;
    println!("{first}");

    let _restore = Restore {
        path: source.clone(),
        original: original.clone(),
    };
    let function = format!("eventforge-dev-{}", args.function);
    let mut cycles = Vec::new();
    for run in 1..=args.runs {
        let marked = original.replacen(
            MAIN,
            &format!("{MAIN}    std::hint::black_box(\"cargo xtask bench watch, run {run}\");\n"),
            1,
        );
        std::fs::write(&source, marked)?;
        let line = wait_for(&lines, "[", Duration::from_secs(600))?;
        println!("{line}");
        if !line.contains(&format!("hotswapped {function} in")) {
            bail!("the change did not reach {function}: {line}");
        }
        cycles.push(parse(&line).with_context(|| format!("no figures in: {line}"))?);
    }
    Ok(section(args, &cycles, first_cycle, architecture))
}

/// The process's standard output, line by line, on a channel.
fn lines_of(stdout: std::process::ChildStdout) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn wait_for(lines: &Receiver<String>, prefix: &str, limit: Duration) -> Result<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .with_context(|| format!("watch printed no line starting with {prefix:?}"))?;
        if line.starts_with(prefix) {
            return Ok(line);
        }
    }
}

/// `... ready in 3.9 s; hotswapped ... in 0.4 s; live 4.6 s after the save`.
fn parse(line: &str) -> Option<Cycle> {
    let seconds = |after: &str, from: &str| -> Option<f64> {
        let rest = &from[from.find(after)? + after.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let build = seconds(" ready in ", line)?;
    let swapped = &line[line.find("; hotswapped ")?..];
    let swap = seconds(" in ", swapped)?;
    let live = seconds("; live ", line)?;
    Some(Cycle { build, swap, live })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn section(
    args: &WatchBenchArgs,
    cycles: &[Cycle],
    first: Duration,
    architecture: ArchitectureArg,
) -> String {
    let provenance = crate::bench::provenance().unwrap_or_else(|_| "date unknown".to_owned());
    let mut section = String::from("## Watch\n\n");
    let _ = writeln!(
        section,
        "`cargo xtask bench watch` ({provenance}, 2 cores): `cargo xtask watch` in its own process \
         against moto_server and Debian's docker-registry on 127.0.0.1, functions built from source \
         by cargo-lambda with the `watch` profile for {}; each run writes a line that puts a new \
         string into `{}`'s `main` and waits for watch's line. Target: under 10 s from save to \
         new code live.\n",
        architecture.flag(),
        args.function
    );
    let _ = writeln!(section, "| measure | median of {} | runs |", cycles.len());
    let _ = writeln!(section, "| --- | --- | --- |");
    let row = |section: &mut String, name: &str, values: Vec<f64>| {
        let all: Vec<String> = values.iter().map(|value| format!("{value:.1}")).collect();
        let _ = writeln!(
            section,
            "| {name} | **{:.1} s** | {} |",
            median(values.clone()),
            all.join(", ")
        );
    };
    row(
        &mut section,
        "save to new code live",
        cycles.iter().map(|cycle| cycle.live).collect(),
    );
    row(
        &mut section,
        "of which cargo-lambda build (one binary)",
        cycles.iter().map(|cycle| cycle.build).collect(),
    );
    row(
        &mut section,
        "of which deploy (upload, UpdateFunctionCode)",
        cycles.iter().map(|cycle| cycle.swap).collect(),
    );
    let _ = writeln!(
        section,
        "| first cycle (every function built, every stack created) | {:.0} s | with whatever the `watch` profile had not compiled yet |",
        first.as_secs_f64()
    );
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_come_from_the_watch_line() {
        let cycle = parse(
            "[2] lambdas/functions/src/bin/charge-payment.rs: charge-payment ready in 3.9 s; \
             hotswapped eventforge-dev-charge-payment in 0.4 s; live 4.6 s after the save",
        )
        .expect("figures");
        assert_eq!((cycle.build, cycle.swap, cycle.live), (3.9, 0.4, 4.6));
        assert!(parse("[3] x: build failed: cargo; watching for the fix").is_none());
    }

    #[test]
    fn every_function_has_the_line_the_benchmark_changes() {
        let bin = workspace_root().join("lambdas/functions/src/bin");
        for entry in std::fs::read_dir(&bin).expect("functions") {
            let path = entry.expect("entry").path();
            let source = std::fs::read_to_string(&path).expect("source");
            assert!(source.contains(MAIN), "{}", path.display());
        }
    }
}
