//! `cargo xtask watch`: deploy once, then on every saved change rebuild only what the change
//! goes into and put it live: a function's zip or the API image hotswapped (no CloudFormation),
//! the dashboard republished; a change that can alter the templates (the stacks, or a crate
//! they build on) rebuilds this command and starts it again, which synthesises afresh and
//! deploys the stacks whose templates changed through CloudFormation. One line per cycle.

pub mod bench;
mod sources;

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_deployer::progress::{Outcome, Progress, Reporter};
use eventforge_deployer::{Assets, DeployOptions, DeployReport, Deployer, Plan};
use eventforge_platform_deploy::SitePublisher;
use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use super::approval::{self, RequireApprovalArg};
use super::assets::{self, AssetArgs};
use super::bars::Bars;
use super::{TargetArgs, confirm, explain, resolve_names, runtime};
use crate::artefacts::{BuildProfile, build_api_binary, build_lambda_zips};
use crate::process::{cargo, run, target_dir, workspace_root};
use sources::{Functions, Sources, Work};

/// Set by a watch that starts itself again: when the change it restarts for was saved.
const SAVED_AT_VARIABLE: &str = "EVENTFORGE_WATCH_SAVED_AT_MS";

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Watch and deploy only these stacks (full or short names); their dependencies must be
    /// deployed already.
    #[arg(long, value_name = "STACK", num_args = 1..)]
    pub only: Vec<String>,
    /// When to ask before the first deploy (and after a restart for changed templates): as
    /// `deploy --require-approval`.
    #[arg(long, value_enum, default_value_t = RequireApprovalArg::Broadening)]
    pub require_approval: RequireApprovalArg,
    /// How long the files must be quiet after a change before a cycle starts, so that a save
    /// of several files (or a formatter's pass) is one cycle.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub debounce_ms: u64,
    /// Built artefacts to use instead of building from source. `--lambda-dir`, `--api-binary`
    /// and `--site-dir` are then watched themselves: a zip, binary or dashboard file that
    /// changes there is put live, for code built by other means.
    #[command(flatten)]
    pub assets: AssetArgs,
}

pub fn run_watch(mut args: WatchArgs) -> Result<()> {
    if matches!(args.target.stage, crate::synth::StageArg::Prod) {
        bail!(
            "watch is for the dev stage: it updates code around CloudFormation (hotswap), which \
             leaves the stacks drifted until the next deploy; deploy prod with `cargo xtask \
             deploy --stage prod`"
        );
    }
    if args.assets.no_build {
        bail!(
            "watch builds what changes; to put artefacts built elsewhere live, point \
             --lambda-dir, --api-binary or --site-dir at them instead of --no-build"
        );
    }
    args.assets.profile = BuildProfile::Watch;
    // Compared with the watcher's absolute paths.
    for given in [
        &mut args.assets.lambda_dir,
        &mut args.assets.api_binary,
        &mut args.assets.site_dir,
    ]
    .into_iter()
    .flatten()
    {
        *given = std::path::absolute(&*given)
            .with_context(|| format!("cannot resolve {}", given.display()))?;
    }
    let saved_at = restarted_for();
    let (config, plan) = super::plan(args.target.stage, args.target.architecture)?;
    let only = resolve_names(&plan, &args.only)?;
    let sources = Sources::read(&workspace_root())?;
    let runtime = runtime()?;
    let target = runtime.block_on(super::target(&args.target))?;
    let publisher = SitePublisher::new(&target);
    let deployer = Deployer::new(target);
    let reviews = runtime.block_on(eventforge_deployer::security::review(
        &deployer, &plan, &only,
    ))?;
    approval::approve(args.require_approval, &reviews, confirm)?;

    let frontend_stack = format!("{}-frontend", plan.app);
    let site = only.is_empty() || only.contains(&frontend_stack);
    let (functions, needs_image) = assets::needed(&plan, &only);
    let mut watch = Watch {
        args,
        plan,
        only,
        deployer,
        publisher,
        runtime,
        sources,
        assets: Assets::default(),
        functions,
        needs_image,
        site,
        cycle: 0,
    };
    // Watching starts before the first build, so a save made while it runs (or while a
    // restarted watch starts) is the next cycle rather than lost.
    let (events, receiver) = mpsc::channel();
    let mut debouncer = new_debouncer(
        Duration::from_millis(watch.args.debounce_ms),
        None,
        move |result: DebounceEventResult| {
            // The receiver only goes away when this command ends.
            let _ = events.send(result);
        },
    )
    .context("cannot watch files (inotify)")?;
    let watched = watch.watched();
    for path in &watched {
        let mode = if path.is_dir() {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer
            .watch(path, mode)
            .with_context(|| format!("cannot watch {}", path.display()))?;
    }
    // Everything is built and deployed once, with the progress bars of `deploy`.
    let started = Instant::now();
    watch.assets = assets::build(
        &watch.plan,
        &watch.args.assets,
        &watch.only,
        watch.args.target.architecture,
    )?;
    let built = started.elapsed();
    let bars = Arc::new(Bars::new());
    let deployed = watch.deploy(bars.clone());
    bars.clear();
    let report = deployed?;
    if watch.site {
        watch.publish_site()?;
    }
    let live = saved_at.map_or_else(
        || {
            format!(
                "live {:.1} s after the start",
                started.elapsed().as_secs_f64()
            )
        },
        |saved| format!("live {:.1} s after the save", since(saved)),
    );
    println!(
        "[0] everything ready in {:.1} s; {}; {live}",
        built.as_secs_f64(),
        describe(&report)
    );

    println!(
        "watching {} paths of the {} stage for changes; Ctrl-C to stop",
        watched.len(),
        config.stage.name()
    );
    loop {
        let (paths, saved) = next_batch(&receiver)?;
        watch.cycle(&paths, saved);
    }
}

/// The running state: what is deployed from, and the artefacts of the last cycle.
struct Watch {
    args: WatchArgs,
    plan: Plan,
    only: Vec<String>,
    deployer: Deployer,
    publisher: SitePublisher,
    runtime: tokio::runtime::Runtime,
    sources: Sources,
    assets: Assets,
    /// What the selected stacks deploy, fixed for this process: their functions, whether the
    /// API image, whether the dashboard.
    functions: Vec<String>,
    needs_image: bool,
    site: bool,
    cycle: u32,
}

impl Watch {
    /// The sources to watch, and the given artefacts (their directories: a build that writes a
    /// new file and renames it over the old one would end a watch on the file itself).
    fn watched(&self) -> Vec<PathBuf> {
        let given = &self.args.assets;
        let mut paths = self.sources.watched(self.site && given.site_dir.is_none());
        paths.extend(given.lambda_dir.iter().cloned());
        paths.extend(
            given
                .api_binary
                .iter()
                .filter_map(|binary| binary.parent().map(Path::to_path_buf)),
        );
        if self.site {
            paths.extend(given.site_dir.iter().cloned());
        }
        paths
    }

    /// What changed files call for, the given artefacts included.
    fn work(&self, paths: &[PathBuf]) -> Work {
        let given = &self.args.assets;
        let mut work = self
            .sources
            .classify_all(paths.iter().map(PathBuf::as_path));
        // Built elsewhere: nothing to build here, the artefacts are taken as they are.
        if given.lambda_dir.is_some() {
            work.functions = Functions::None;
        }
        if given.api_binary.is_some() {
            work.api = false;
        }
        if given.site_dir.is_some() {
            work.site = false;
        }
        for path in paths {
            if given
                .lambda_dir
                .as_ref()
                .is_some_and(|dir| path.starts_with(dir))
                && path.file_name().is_some_and(|name| name == "bootstrap.zip")
            {
                work.functions = Functions::All;
            }
            if given.api_binary.as_ref() == Some(path) {
                work.api = true;
            }
            if given
                .site_dir
                .as_ref()
                .is_some_and(|dir| path.starts_with(dir))
            {
                work.site = true;
            }
        }
        if self.functions.is_empty() {
            work.functions = Functions::None;
        }
        work.api &= self.needs_image;
        work.site &= self.site;
        work
    }

    /// One cycle: build what the change goes into, put it live, say so in one line. A failure
    /// is reported and the watch goes on, so the next save can fix it.
    fn cycle(&mut self, paths: &[PathBuf], saved: Instant) {
        self.cycle += 1;
        let work = self.work(paths);
        if work.is_empty() {
            return;
        }
        let head = format!("[{}] {}", self.cycle, self.name(paths));
        if let Some(reason) = &work.restart {
            println!(
                "{head}: {reason} changed, which the templates or this command are built from: \
                 building xtask again to synthesise"
            );
            match self.restart(saved) {
                Ok(never) => match never {},
                Err(error) => {
                    println!("{head}: not restarted: {error:#}; watching for the fix");
                    return;
                }
            }
        }
        let started = Instant::now();
        let built = match self.build(&work) {
            Ok(built) => built,
            Err(error) => {
                println!("{head}: build failed: {error:#}; watching for the fix");
                return;
            }
        };
        let mut line = format!(
            "{head}: {built} ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // A dashboard change alone leaves the stacks as they are.
        if work.functions != Functions::None || work.api {
            let deploy_started = Instant::now();
            match self.deploy(Arc::new(QuietReporter)) {
                Ok(report) => line.push_str(&format!(
                    "; {} in {:.1} s",
                    describe(&report),
                    deploy_started.elapsed().as_secs_f64()
                )),
                Err(error) => {
                    println!("{line}; deploy failed: {error:#}; watching for the fix");
                    return;
                }
            }
        }
        if work.site {
            match self.publish_site() {
                Ok(published) => line.push_str(&format!("; {published}")),
                Err(error) => line.push_str(&format!("; dashboard not published: {error:#}")),
            }
        }
        println!(
            "{line}; live {:.1} s after the save",
            saved.elapsed().as_secs_f64()
        );
    }

    /// The first changed path, relative to the workspace, and how many more.
    fn name(&self, paths: &[PathBuf]) -> String {
        let root = workspace_root();
        let first = paths
            .first()
            .map(|path| {
                path.strip_prefix(&root)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .unwrap_or_default();
        match paths.len() {
            0 | 1 => first,
            more => format!("{first} and {} more", more - 1),
        }
    }

    /// Builds what `work` names (or reads it from where it was given) and swaps it into the
    /// assets; says what is ready.
    fn build(&mut self, work: &Work) -> Result<String> {
        let given = &self.args.assets;
        let architecture = self.args.target.architecture;
        let mut built = Vec::new();
        let functions = match &work.functions {
            Functions::None => None,
            Functions::All => Some(Vec::new()),
            Functions::Only(only) => Some(only.iter().cloned().collect()),
        };
        if let Some(only) = functions {
            let dir = match &given.lambda_dir {
                Some(dir) => dir.clone(),
                None => build_lambda_zips(architecture, given.profile, &only, None)?,
            };
            self.assets.lambda_zips = assets::lambda_zips(&self.functions, &dir)?;
            built.push(match (&given.lambda_dir, only.is_empty()) {
                (Some(dir), _) => format!("the zips in {}", dir.display()),
                (None, true) => format!("{} functions", self.functions.len()),
                (None, false) => only.join(", "),
            });
        }
        if work.api {
            let binary = match &given.api_binary {
                Some(binary) => binary.clone(),
                None => build_api_binary(architecture, given.profile)?,
            };
            self.assets.image = Some(assets::image(&binary, given, architecture)?);
            built.push("the API image".to_owned());
        }
        if work.site {
            built.push("the dashboard".to_owned());
        }
        Ok(built.join(", "))
    }

    fn deploy(&self, reporter: Arc<dyn Reporter>) -> Result<DeployReport> {
        let options = DeployOptions {
            only: self.only.clone(),
            hotswap: true,
            parameters: Default::default(),
        };
        self.runtime
            .block_on(
                self.deployer
                    .deploy(&self.plan, &self.assets, &options, reporter),
            )
            .map_err(|error| anyhow::anyhow!(explain(&error)))
    }

    /// Builds the dashboard (unless given) and publishes what changed.
    fn publish_site(&self) -> Result<String> {
        let dist = assets::build_site(&self.args.assets)?;
        let report = self.runtime.block_on(async {
            let outputs = self.deployer.outputs(&self.plan).await?;
            anyhow::Ok(
                self.publisher
                    .publish(&self.plan.app, &outputs, &dist, &|_| {})
                    .await?,
            )
        })?;
        Ok(format!(
            "dashboard: {} uploaded, {} deleted",
            report.uploaded.len(),
            report.deleted.len()
        ))
    }

    /// Builds xtask with the deployer and replaces this process with it, same arguments:
    /// returns only when that fails.
    fn restart(&self, saved: Instant) -> Result<std::convert::Infallible> {
        run(cargo().current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "--package",
            "xtask",
            "--features",
            "deploy",
        ]))?;
        // This binary was just replaced on disk, so `current_exe` would name a deleted file.
        let binary = target_dir().join("debug/xtask");
        let saved_at_ms = SystemTime::now()
            .checked_sub(saved.elapsed())
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_millis());
        let error = std::process::Command::new(&binary)
            .args(std::env::args_os().skip(1))
            .env(SAVED_AT_VARIABLE, saved_at_ms.to_string())
            .exec();
        Err(error).with_context(|| format!("cannot run {}", binary.display()))
    }
}

/// The next batch of changed files (waiting for the first, then taking whatever else is
/// already queued, so changes made during a long cycle are one cycle, not many), and when the
/// first of them changed.
fn next_batch(receiver: &Receiver<DebounceEventResult>) -> Result<(Vec<PathBuf>, Instant)> {
    let mut paths = BTreeSet::new();
    let mut saved: Option<Instant> = None;
    loop {
        let first = receiver
            .recv()
            .context("the file watcher stopped; start watch again")?;
        for result in std::iter::once(first).chain(receiver.try_iter()) {
            match result {
                Ok(events) => {
                    for event in events {
                        if event.kind.is_access() {
                            continue;
                        }
                        saved = Some(saved.map_or(event.time, |saved| saved.min(event.time)));
                        paths.extend(event.event.paths);
                    }
                }
                Err(errors) => {
                    for error in errors {
                        eprintln!("watch: {error}");
                    }
                }
            }
        }
        if let Some(saved) = saved {
            return Ok((paths.into_iter().collect(), saved));
        }
    }
}

/// Stacks deployed through CloudFormation and code swapped, in a few words.
fn describe(report: &DeployReport) -> String {
    let mut swapped = Vec::new();
    let mut deployed = Vec::new();
    for (stack, outcome) in &report.outcomes {
        match outcome {
            Outcome::Hotswapped(updated) => swapped.extend(updated.iter().cloned()),
            Outcome::Created => deployed.push(format!("{stack} created")),
            Outcome::Updated => deployed.push(format!("{stack} updated")),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    if !swapped.is_empty() {
        parts.push(format!("hotswapped {}", swapped.join(", ")));
    }
    if !deployed.is_empty() {
        parts.push(format!("deployed {}", deployed.join(", ")));
    }
    if parts.is_empty() {
        "nothing to put live (the built code is the deployed code)".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Between cycles only a failing resource is worth a line of its own; the cycle's line says
/// the rest.
struct QuietReporter;

impl Reporter for QuietReporter {
    fn report(&self, progress: Progress) {
        if let Progress::Event { stack, event } = progress
            && event.status.ends_with("_FAILED")
        {
            println!(
                "  {stack}: {} {} {}: {}",
                event.logical_id,
                event.resource_type,
                event.status,
                event.reason.unwrap_or_default()
            );
        }
    }
}

/// When the change this process was restarted for was saved, if it was.
fn restarted_for() -> Option<SystemTime> {
    let millis: u64 = std::env::var(SAVED_AT_VARIABLE).ok()?.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(millis))
}

fn since(time: SystemTime) -> f64 {
    SystemTime::now()
        .duration_since(time)
        .unwrap_or_default()
        .as_secs_f64()
}
