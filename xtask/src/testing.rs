//! `cargo xtask test`: every test of the project, with the tools the tests need installed first.
//!
//! First, before anything is built, a check for the system programs that only Debian's
//! packages provide (the registry and Docker daemon of the deployer's image tests, Chromium).
//! Stages, in order: the Python tools (moto's AWS emulator, cfn-lint) into a private virtual
//! environment; `cargo test --workspace`; the dashboard's unit tests and production build; the
//! browser end-to-end tests against a real `cargo xtask dev` on a free loopback port. A stage that
//! cannot run says what to install and exits non-zero; nothing is skipped silently.

mod tally;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use std::{env, fs};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::dev_server::{self, DevServer, free_port};
use crate::frontend::Frontend;
use crate::process::{self, Observed, run, run_observed, run_observing};
#[cfg(feature = "deploy")]
use eventforge_deployer::local_docker::LocalDocker;
#[cfg(feature = "deploy")]
use eventforge_deployer::local_registry;
use tally::Tally;

#[derive(Args)]
pub struct TestArgs {
    /// The inner loop's tier: the Rust tests that need no emulator, browser, Docker or Python
    /// tool, through cargo-nextest; no dashboard. Not the whole suite: run the full one (no
    /// flag) before you push.
    #[arg(long, conflicts_with_all = ["skip_frontend", "skip_e2e"])]
    pub quick: bool,
    /// Skip the dashboard entirely: its unit tests, its build and the browser tests.
    #[arg(long)]
    pub skip_frontend: bool,
    /// Skip only the browser end-to-end tests (they need Debian's `chromium`).
    #[arg(long)]
    pub skip_e2e: bool,
    /// Arguments passed on to `cargo test` (or `cargo nextest run` with --quick), e.g.
    /// `cargo xtask test -- -p eventforge-core`.
    #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
    pub cargo_args: Vec<String>,
}

/// The test binaries that need more than Rust: an emulator, a Docker daemon, a registry or a
/// Python tool (package, test target, what it needs). `--quick` leaves exactly these out.
pub const NEEDS_TOOLS: &[(&str, &str, &str)] = &[
    ("eventforge-store-dynamodb", "dynamo", "moto_server"),
    ("eventforge-store-dynamodb", "conformance", "moto_server"),
    (
        "eventforge-platform-deploy",
        "platform_on_moto",
        "moto_server, docker-registry",
    ),
    (
        "eventforge-deployer",
        "docker",
        "docker-registry, a Docker daemon",
    ),
    ("eventforge-api", "schema_fuzz", "schemathesis"),
    ("eventforge-functions", "on_moto", "moto_server"),
    ("eventforge-functions", "packaging", "cargo-lambda and zig"),
    ("eventforge-stacks", "cfn_lint", "cfn-lint"),
    ("eventforge-stacks", "scanners", "checkov and parliament"),
    ("xtask", "codegen_no_diff", "cfn-lint's schemas"),
    ("xtask", "workflows", "actionlint"),
    ("xtask", "on_moto", "moto_server, cargo-lambda and zig"),
    ("xtask", "faults", "moto_server and docker-registry"),
];

pub fn run_all(args: TestArgs) -> Result<()> {
    let mut tally = Tally::default();
    let mut stages = Stages::default();
    let outcome = if args.quick {
        run_quick(&args, &mut stages, &mut tally)
    } else if cfg!(not(feature = "deploy")) {
        // The full run checks for the deployer's test programs and tests the deploy commands.
        return process::rerun_with_feature("deploy");
    } else {
        run_stages(&args, &mut stages, &mut tally)
    };
    stages.finish();
    print!("{stages}");
    print!("{}", tally.slowest_binaries(10));
    // The last line covers every runner: what CI reads to know how many tests ran.
    println!("\ntotal: {tally}");
    outcome
}

/// `--quick`: the tests that need nothing but Rust, through nextest (which can leave out
/// whole test binaries by name; `cargo test` cannot).
fn run_quick(args: &TestArgs, stages: &mut Stages, tally: &mut Tally) -> Result<()> {
    stages.start("cargo nextest run (quick tier)");
    let root = process::workspace_root();
    let mut nextest = process::cargo();
    nextest
        .current_dir(&root)
        .args(["nextest", "run"])
        .args(package_selection(&args.cargo_args))
        .args(["--no-fail-fast", "-E"])
        .arg(quick_filter())
        .args(&args.cargo_args);
    run_observing(&mut nextest, Observed::Stderr, |line| {
        tally.nextest_line(line)
    })
    .context(
        "the quick tier runs through cargo-nextest: `cargo install cargo-nextest --locked` \
         if it is missing",
    )
}

/// What the test run builds: the whole workspace with xtask's `deploy` feature, as CI builds it,
/// unless the arguments pick packages themselves (`-p eventforge-core`), which `--workspace`
/// would silently override.
fn package_selection(cargo_args: &[String]) -> &'static [&'static str] {
    let picks_packages = cargo_args
        .iter()
        .take_while(|arg| *arg != "--")
        .any(|arg| arg == "--package" || arg.starts_with("--package=") || arg.starts_with("-p"));
    if picks_packages {
        &[]
    } else {
        &["--workspace", "--features", "xtask/deploy"]
    }
}

/// The nextest filter expression that leaves out every binary of [`NEEDS_TOOLS`].
fn quick_filter() -> String {
    let excluded: Vec<String> = NEEDS_TOOLS
        .iter()
        .map(|(package, target, _)| format!("binary_id({package}::{target})"))
        .collect();
    format!("not ({})", excluded.join(" | "))
}

fn run_stages(args: &TestArgs, stages: &mut Stages, tally: &mut Tally) -> Result<()> {
    let chromium = check_system_programs(args)?;
    let root = process::workspace_root();
    stages.start("Python test tools");
    let tools = python_tools(&root)?;
    let path = prepend_to_path(&tools)?;

    // Built first, in a stage of its own, so the summary splits building from testing.
    stages.start("build the tests (cargo test --no-run)");
    let mut build = process::cargo();
    build
        .current_dir(&root)
        .arg("test")
        .args(package_selection(&args.cargo_args))
        .arg("--no-run")
        .args(&args.cargo_args);
    run(&mut build)?;

    stages.start("cargo test");
    let mut cargo = process::cargo();
    cargo
        .current_dir(&root)
        .env("PATH", &path)
        .arg("test")
        .args(package_selection(&args.cargo_args))
        .arg("--no-fail-fast")
        .args(&args.cargo_args);
    run_observing(&mut cargo, Observed::Both, |line| tally.cargo_line(line))?;

    // The whole workspace's documentation, only when the whole workspace is tested: a broken
    // intra-doc link is a claim about the code that stopped being true.
    if package_selection(&args.cargo_args).contains(&"--workspace") {
        stages.start("documentation (cargo doc, warnings denied)");
        let mut doc = process::cargo();
        doc.current_dir(&root)
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--workspace", "--no-deps", "--all-features"]);
        run(&mut doc).context(
            "cargo doc found a broken link or invalid documentation: fix what it names above",
        )?;
    }

    if args.skip_frontend {
        println!("\nskipped the dashboard (--skip-frontend)");
        return Ok(());
    }
    let frontend = Frontend::new(root.join("frontend"));
    if !frontend.exists() {
        bail!(
            "{} has no package.json: the dashboard is missing from this checkout",
            frontend.dir().display()
        );
    }
    stages.record("dashboard packages (npm ci)");
    frontend.install()?;
    stages.start("dashboard unit tests (npm test)");
    run_observed(&mut frontend.npm(&["test"]), |line| tally.vitest_line(line))?;
    stages.record("dashboard build (vite)");
    frontend.build()?;

    if args.skip_e2e {
        println!("\nskipped the browser tests (--skip-e2e)");
        return Ok(());
    }
    stages.start("dashboard end-to-end in Chromium against `cargo xtask dev`");
    browser_tests(&frontend, &chromium, &path, tally)
}

/// Each stage's wall time, printed at the end of the run.
#[derive(Default)]
struct Stages {
    done: Vec<(String, Duration)>,
    current: Option<(String, Instant)>,
}

impl Stages {
    /// Ends the running stage, if any, and starts `title`.
    fn start(&mut self, title: &str) {
        self.finish();
        println!("\n==> {title}");
        self.current = Some((title.to_owned(), Instant::now()));
    }

    /// Like [`Stages::start`], for a step that announces itself.
    fn record(&mut self, title: &str) {
        self.finish();
        self.current = Some((title.to_owned(), Instant::now()));
    }

    fn finish(&mut self) {
        if let Some((title, started)) = self.current.take() {
            self.done.push((title, started.elapsed()));
        }
    }
}

impl std::fmt::Display for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\nstages (wall time):")?;
        let total: Duration = self.done.iter().map(|(_, time)| *time).sum();
        for (title, time) in &self.done {
            writeln!(f, "  {:>8.1} s  {title}", time.as_secs_f64())?;
        }
        writeln!(f, "  {:>8.1} s  all stages", total.as_secs_f64())
    }
}

/// The Python tools of `xtask/tools/requirements.txt` in a virtual environment under the user's
/// cache; reinstalled only when the requirements change. Returns the environment's `bin` dir.
fn python_tools(root: &Path) -> Result<PathBuf> {
    let requirements_file = root.join("xtask/tools/requirements.txt");
    let requirements = fs::read_to_string(&requirements_file)
        .with_context(|| format!("cannot read {}", requirements_file.display()))?;
    let venv = process::cache_dir()?.join("tools/venv");
    let stamp = venv.join("installed-requirements.txt");
    let bin = venv.join("bin");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(bin);
    }
    println!("installing the Python test tools into {}", venv.display());
    let python = env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run(Command::new(&python).arg("-m").arg("venv").arg(&venv)).context(
        "cannot create a Python virtual environment: install Python 3 with its venv module \
         (Debian: `apt-get install python3 python3-venv`), or name the interpreter in $PYTHON",
    )?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
        .arg(&requirements_file))
    .context("cannot install the Python test tools (is the PyPI registry reachable?)")?;
    fs::write(&stamp, requirements).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(bin)
}

fn prepend_to_path(dir: &Path) -> Result<OsString> {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).context("a PATH entry contains a separator")
}

/// Checks, before anything is built, for the system programs that only Debian's packages
/// provide, and names every missing one at once: finding out after twenty minutes of
/// compiling, one program at a time, is what this saves. Returns where Chromium is.
fn check_system_programs(args: &TestArgs) -> Result<PathBuf> {
    let mut missing = Vec::new();
    // Only the whole workspace is sure to run the deployer's image tests.
    #[cfg(feature = "deploy")]
    if args.cargo_args.is_empty() {
        if let Err(error) = local_registry::registry_executable() {
            missing.push(format!("the deployer's image tests: {error}"));
        }
        if let Err(error) = LocalDocker::available() {
            missing.push(format!(
                "the deployer's image tests found no running Docker daemon, and {error}"
            ));
        }
    }
    let chromium = dev_server::chromium();
    if !(args.skip_frontend || args.skip_e2e || chromium.exists()) {
        missing.push(format!(
            "the browser tests need Chromium at {}: install Debian's package \
             (`apt-get install chromium`), name another binary in $EVENTFORGE_CHROMIUM, \
             or pass --skip-e2e",
            chromium.display()
        ));
    }
    if !missing.is_empty() {
        bail!(
            "missing system programs (`.ci/run` installs them all):\n  - {}",
            missing.join("\n  - ")
        );
    }
    Ok(chromium)
}

fn browser_tests(
    frontend: &Frontend,
    chromium: &Path,
    path: &OsString,
    tally: &mut Tally,
) -> Result<()> {
    let data = tempfile::tempdir().context("cannot create a temporary directory")?;
    let port = free_port()?;
    let mut dev = DevServer::start(port, &data.path().join("dev.db"), path)?;
    dev.wait_until_healthy(port)?;
    let url = format!("http://127.0.0.1:{port}");
    let outcome = run_observed(
        frontend
            .npm(&["run", "e2e"])
            .env("EVENTFORGE_E2E_URL", &url)
            .env("EVENTFORGE_CHROMIUM", chromium),
        |line| tally.playwright_line(line),
    );
    dev.stop();
    outcome.with_context(|| {
        format!(
            "browser tests failed: each failing test's trace and screenshot are in {}, \
             and the report in {} (`npx playwright show-report e2e/report` in frontend/)",
            frontend.dir().join("e2e/results").display(),
            frontend.dir().join("e2e/report").display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory of a workspace package, from its name (`eventforge-store-dynamodb` ->
    /// `services/store-dynamodb`, `eventforge-functions` -> `lambdas/functions`).
    fn package_dir(package: &str) -> PathBuf {
        let root = process::workspace_root();
        let short = package.trim_start_matches("eventforge-");
        ["services", "lambdas", ""]
            .iter()
            .map(|parent| root.join(parent).join(short))
            .find(|dir| dir.join("Cargo.toml").is_file())
            .unwrap_or_else(|| panic!("no package directory for {package}"))
    }

    #[test]
    fn every_test_binary_the_quick_tier_leaves_out_exists() {
        // A renamed or merged test file must not silently join the quick tier.
        for (package, target, _) in NEEDS_TOOLS {
            let tests = package_dir(package).join("tests");
            assert!(
                tests.join(format!("{target}.rs")).is_file()
                    || tests.join(target).join("main.rs").is_file(),
                "{package} has no test target {target} in {}",
                tests.display()
            );
        }
    }

    #[test]
    fn the_whole_workspace_is_tested_unless_the_arguments_pick_packages() {
        let args = |list: &[&str]| list.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
        let workspace: &[&str] = &["--workspace", "--features", "xtask/deploy"];
        assert_eq!(package_selection(&[]), workspace);
        assert_eq!(package_selection(&args(&["--", "--nocapture"])), workspace);
        // After `--` the arguments are the test binaries', not cargo's.
        assert_eq!(package_selection(&args(&["--", "-p"])), workspace);
        for picking in [
            &["-p", "eventforge-core"][..],
            &["--package", "eventforge-core"],
            &["--package=eventforge-core"],
            &["-peventforge-core"],
        ] {
            assert!(package_selection(&args(picking)).is_empty(), "{picking:?}");
        }
    }

    #[test]
    fn the_quick_filter_names_every_binary_it_leaves_out() {
        let filter = quick_filter();
        assert!(filter.starts_with("not ("), "{filter}");
        for (package, target, _) in NEEDS_TOOLS {
            assert!(filter.contains(&format!("binary_id({package}::{target})")));
        }
    }
}
