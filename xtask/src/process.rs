//! Shared plumbing of the commands: where the workspace and the user's cache are, and running a
//! child process with an error that names the command when it fails.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root: xtask's manifest directory is `<root>/xtask`.
///
/// Read from the environment `cargo run` (the `cargo xtask` alias) gives this process first, and
/// from the build only when run directly: two checkouts sharing one target directory (CI's
/// clones and a working copy) share one xtask binary whenever cargo finds it fresh, and the
/// build's path would then send every command to the other checkout.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf)
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, or `target/` of the workspace.
pub fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `$EVENTFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/eventforge`, else `~/.cache/eventforge`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("EVENTFORGE_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("eventforge"));
    }
    let home = env::var_os("HOME")
        .context("neither EVENTFORGE_CACHE_DIR, XDG_CACHE_HOME nor HOME is set; set one of them")?;
    Ok(PathBuf::from(home).join(".cache/eventforge"))
}

/// A `cargo` command that builds as `cargo` run from a shell would, so the two share one build.
///
/// `cargo run` (the `cargo xtask` alias) hands this process `CARGO_MANIFEST_DIR` and the
/// `CARGO_PKG_*` variables; a child cargo would inherit them, and build scripts that watch one of
/// them (ring's watches `CARGO_MANIFEST_DIR`) would count as changed, rebuilding ring and the whole
/// TLS and AWS SDK tree above it at every switch between a shell's cargo and xtask's.
pub fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in env::vars_os() {
        if name
            .to_str()
            .is_some_and(is_set_by_cargo_run_for_its_binary)
        {
            command.env_remove(name);
        }
    }
    command
}

fn is_set_by_cargo_run_for_its_binary(name: &str) -> bool {
    matches!(
        name,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
    ) || name.starts_with("CARGO_PKG_")
}

/// Runs this process's command line again through `cargo run -p xtask --features <feature>` and
/// exits with its status: the commands that need the deployer build it on first use.
pub fn rerun_with_feature(feature: &str) -> Result<()> {
    eprintln!(
        "this command needs xtask's `{feature}` feature: running it through \
         `cargo run -p xtask --features {feature}` (the first time compiles the AWS SDK clients)"
    );
    let mut rerun = cargo();
    rerun.current_dir(workspace_root()).args([
        "run",
        "--quiet",
        "--package",
        "xtask",
        "--features",
        feature,
    ]);
    // The same build as this one: a release xtask (benchmarks) reruns as release.
    if !cfg!(debug_assertions) {
        rerun.arg("--release");
    }
    let status = rerun
        .arg("--")
        .args(env::args_os().skip(1))
        .status()
        .context("cannot run cargo")?;
    std::process::exit(status.code().unwrap_or(1))
}

/// Runs the command with inherited standard streams; an error names it and its exit status.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = describe(command);
    let status = command
        .status()
        .with_context(|| format!("cannot run `{shown}` (is it installed and on PATH?)"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs the command like [`run`], but reads its standard output line by line, echoing each line
/// and handing it to `observe` (standard error stays the terminal's). Fails as `run` does.
pub fn run_observed(command: &mut Command, observe: impl FnMut(&str)) -> Result<()> {
    run_observing(command, Observed::Stdout, observe)
}

/// The stream of a child process that [`run_observing`] reads.
pub enum Observed {
    Stdout,
    /// For programs that report on standard error, as cargo-nextest does.
    Stderr,
    /// Both, in the order they were written, as a terminal shows them: `cargo test` names each
    /// test binary on standard error and the binary reports on standard output.
    Both,
}

/// Runs the command like [`run`], reading the `observed` stream line by line, echoing each line
/// to this process's standard output and handing it to `observe`. Fails as `run` does.
pub fn run_observing(
    command: &mut Command,
    observed: Observed,
    mut observe: impl FnMut(&str),
) -> Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    let shown = describe(command);
    let mut merged = None;
    match observed {
        Observed::Stdout => {
            command.stdout(Stdio::piped());
        }
        Observed::Stderr => {
            command.stderr(Stdio::piped());
        }
        Observed::Both => {
            let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
            command.stdout(writer.try_clone().context("cannot create a pipe")?);
            command.stderr(writer);
            merged = Some(reader);
        }
    }
    let spawned = command
        .spawn()
        .with_context(|| format!("cannot run `{shown}` (is it installed and on PATH?)"));
    // The command holds the pipe's writing ends until told otherwise; the reader sees the end
    // of the stream only once the child's are the last ones open.
    command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let mut child = spawned?;
    let stream: Option<Box<dyn Read>> = match observed {
        Observed::Stdout => child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        Observed::Stderr => child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
        Observed::Both => merged.map(|s| Box::new(s) as Box<dyn Read>),
    };
    if let Some(stream) = stream {
        let mut echo = std::io::stdout().lock();
        for line in BufReader::new(stream).lines() {
            let line = line.with_context(|| format!("cannot read the output of `{shown}`"))?;
            writeln!(echo, "{line}").context("cannot write to standard output")?;
            observe(&line);
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("`{shown}` did not finish"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_is_named_in_the_error() {
        let error = run(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`sh -c exit 3` failed"), "{message}");
        assert!(message.contains('3'), "{message}");
    }

    #[test]
    fn observed_output_is_handed_over_line_by_line_and_failures_still_fail() {
        let mut lines = Vec::new();
        run_observed(
            Command::new("sh").args(["-c", "echo one; echo two"]),
            |line| lines.push(line.to_owned()),
        )
        .unwrap();
        assert_eq!(lines, ["one", "two"]);
        let error =
            run_observed(Command::new("sh").args(["-c", "echo x; exit 4"]), |_| {}).unwrap_err();
        assert!(error.to_string().contains("failed"), "{error}");
    }

    #[test]
    fn both_streams_are_observed_in_the_order_written() {
        let mut lines = Vec::new();
        run_observing(
            Command::new("sh").args(["-c", "echo one; echo two >&2; echo three"]),
            Observed::Both,
            |line| lines.push(line.to_owned()),
        )
        .unwrap();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn a_child_cargo_does_not_inherit_what_cargo_run_set_for_this_binary() {
        // `cargo test` sets it for the test binary as `cargo run` does for xtask.
        assert!(env::var_os("CARGO_MANIFEST_DIR").is_some());
        let command = cargo();
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert!(
            removed.iter().any(|name| name == "CARGO_MANIFEST_DIR"),
            "{removed:?}"
        );
        assert!(
            removed.iter().any(|name| name == "CARGO_PKG_NAME"),
            "{removed:?}"
        );
        assert!(
            removed
                .iter()
                .all(|name| name != "CARGO_TARGET_DIR" && name != "CARGO_HOME"),
            "{removed:?}"
        );
    }

    #[test]
    fn a_missing_program_says_to_install_it() {
        let error = run(&mut Command::new("eventforge-no-such-program")).unwrap_err();
        assert!(error.to_string().contains("is it installed"), "{error}");
    }

    #[test]
    fn the_workspace_root_holds_the_workspace_manifest() {
        let manifest = fs_read(workspace_root().join("Cargo.toml"));
        assert!(manifest.contains("[workspace]"));
    }

    fn fs_read(path: PathBuf) -> String {
        std::fs::read_to_string(path).expect("workspace Cargo.toml is readable")
    }
}
