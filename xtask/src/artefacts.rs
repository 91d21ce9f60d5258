//! Building what ships, with cargo: the Lambda zips (cargo-lambda, the `lambda` profile) and the
//! static API binary (release). `deploy` uploads them; `bench saga` measures the zips and their
//! cold start. The tests build neither (see `lambdas/functions/tests/packaging.rs`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::{cargo, run, target_dir, workspace_root};
use crate::synth::ArchitectureArg;

impl ArchitectureArg {
    /// The architecture of this machine.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Arm64
        } else {
            Self::X86_64
        }
    }

    /// The name in OCI image configurations.
    pub fn oci_name(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "amd64",
        }
    }

    fn rust_arch(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The glibc Rust target: what the functions are built for.
    pub fn gnu_target(self) -> String {
        format!("{}-unknown-linux-gnu", self.rust_arch())
    }

    pub fn flag(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86-64",
        }
    }
}

fn installed_targets() -> Vec<String> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let mut targets: Vec<String> = listed.lines().map(|line| line.trim().to_owned()).collect();
    // Without rustup, the compiler's own target is the one there is.
    if targets.is_empty() {
        targets.push(ArchitectureArg::host().gnu_target());
    }
    targets
}

/// The glibc target the functions are built for, when it is installed.
#[cfg(feature = "deploy")]
pub fn functions_target(architecture: ArchitectureArg) -> Result<String> {
    installed_target(architecture, &[architecture.gnu_target()])
}

/// The first of `candidates` that is installed, or an error saying how to get it.
fn installed_target(architecture: ArchitectureArg, candidates: &[String]) -> Result<String> {
    let installed = installed_targets();
    if let Some(found) = candidates.iter().find(|c| installed.contains(c)) {
        return Ok(found.clone());
    }
    let wanted = &candidates[0];
    bail!(
        "building for {} needs the Rust target {wanted}, which is not installed: \
         `rustup target add {wanted}`, or build for this machine with `--architecture {}` \
         (the stacks then declare that architecture)",
        architecture.flag(),
        ArchitectureArg::host().flag()
    )
}

/// The static target the API binary is built for: musl when installed, otherwise glibc with the
/// C runtime linked statically, which runs on any Linux of that architecture.
pub fn api_target(architecture: ArchitectureArg) -> Result<String> {
    let arch = architecture.rust_arch();
    installed_target(
        architecture,
        &[
            format!("{arch}-unknown-linux-musl"),
            architecture.gnu_target(),
        ],
    )
}

/// How the shipped artefacts are compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuildProfile {
    /// What `deploy` ships: the `lambda` profile for the zips (smallest: fat LTO), `api` for
    /// the API binary (fat LTO, optimised for speed).
    #[default]
    Ship,
    /// `cargo xtask watch`: the `watch` profile for both, incremental and without LTO, so a
    /// change to one file rebuilds in seconds; bigger binaries, for development stages.
    #[cfg_attr(
        not(feature = "deploy"),
        expect(dead_code, reason = "watch is a deploy command")
    )]
    Watch,
}

impl BuildProfile {
    fn lambda_profile(self) -> &'static str {
        match self {
            Self::Ship => "lambda",
            Self::Watch => "watch",
        }
    }

    fn api_profile(self) -> &'static str {
        match self {
            Self::Ship => "api",
            Self::Watch => "watch",
        }
    }

    /// Where cargo-lambda puts the zips of this profile, so a watch build never replaces the
    /// zips a deploy ships.
    pub fn lambda_dir(self) -> PathBuf {
        target_dir().join(match self {
            Self::Ship => "lambda",
            Self::Watch => "lambda-watch",
        })
    }
}

/// The glibc the functions link against: `provided.al2023`'s. Linking against it rather than
/// cargo-lambda's default (2.17) leaves libpthread and libdl out, whose loading was part of
/// every cold start (since 2.34 they are stubs inside libc).
const LAMBDA_GLIBC: &str = "2.34";

/// Builds the functions of `eventforge-functions` (all of them when `only` is empty) into
/// `<function>/bootstrap.zip` under the returned directory, with cargo-lambda (which links
/// against an old glibc through zig, so the binaries run on Lambda's `provided.al2023`).
/// `path` replaces `PATH` for cargo-lambda when given.
pub fn build_lambda_zips(
    architecture: ArchitectureArg,
    profile: BuildProfile,
    only: &[String],
    path: Option<&OsString>,
) -> Result<PathBuf> {
    let triple = installed_target(architecture, &[architecture.gnu_target()])?;
    let dir = profile.lambda_dir();
    let mut command = cargo();
    command.current_dir(workspace_root()).args([
        "lambda",
        "build",
        "--profile",
        profile.lambda_profile(),
        "--target",
        &format!("{triple}.{LAMBDA_GLIBC}"),
        "--output-format",
        "zip",
        "-p",
        "eventforge-functions",
    ]);
    command.arg("--lambda-dir").arg(&dir);
    // Not position-independent: a PIE binary carried 300 KB of relocations that the loader
    // applies on every cold start to pages it then has to copy (BENCHMARKS.md, "Functions").
    // The price is a fixed address for the binary's own code (libc and the heap are still
    // randomised); the functions are Rust without `unsafe` of our own. An explicit --target
    // keeps the flag off build scripts.
    command.env(
        format!(
            "CARGO_TARGET_{}_RUSTFLAGS",
            triple.to_uppercase().replace('-', "_")
        ),
        "-C relocation-model=static",
    );
    for function in only {
        command.args(["--bin", function]);
    }
    if let Some(path) = path {
        command.env("PATH", path);
    }
    run(&mut command).context(
        "building the Lambda zips needs cargo-lambda and zig: `cargo xtask test` installs both \
         (or `pip install cargo-lambda ziglang`)",
    )?;
    Ok(dir)
}

/// The binary of `function` that [`build_lambda_zips`] zipped as its `bootstrap`, where the
/// `lambda` profile's build left it.
pub fn lambda_binary(architecture: ArchitectureArg, function: &str) -> PathBuf {
    target_dir()
        .join(architecture.gnu_target())
        .join("lambda")
        .join(function)
}

/// Builds the static API binary with the profile; returns its path.
pub fn build_api_binary(architecture: ArchitectureArg, profile: BuildProfile) -> Result<PathBuf> {
    let triple = api_target(architecture)?;
    let variable = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace('-', "_")
    );
    let mut command = cargo();
    command
        .current_dir(workspace_root())
        .args([
            "build",
            "--profile",
            profile.api_profile(),
            "-p",
            "eventforge-api",
            "--bin",
            "eventforge-api",
            "--target",
            &triple,
        ])
        // An explicit --target keeps these flags off build scripts and the host build's cache.
        // Symbols are stripped: they are a fifth of the binary and the image is pulled on every
        // task start.
        .env(variable, "-C target-feature=+crt-static -C strip=symbols");
    run(&mut command)?;
    Ok(api_binary(&triple, profile))
}

/// Where [`build_api_binary`] leaves the binary for `triple`.
pub fn api_binary(triple: &str, profile: BuildProfile) -> PathBuf {
    target_dir()
        .join(triple)
        .join(profile.api_profile())
        .join("eventforge-api")
}
