//! Building what the stacks refer to: the Lambda zips (cargo-lambda) and the API image (a static
//! `eventforge-api` in a one-layer OCI image, no Docker daemon).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_deployer::Assets;
use eventforge_deployer::image::{Image, ImageSpec};
use eventforge_deployer::plan::Plan;
use eventforge_stacks::stack::AssetKind;

use crate::process::{run, workspace_root};

#[derive(Args, Clone, Default)]
pub struct AssetArgs {
    /// Directory with the Lambda zips in cargo-lambda's layout, <function>/bootstrap.zip
    /// [default: <cargo target dir>/lambda].
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Put this executable in the API image instead of building eventforge-api.
    #[arg(long, value_name = "PATH")]
    pub api_binary: Option<PathBuf>,
    /// Build nothing: use the zips and binary already built.
    #[arg(long)]
    pub no_build: bool,
}

/// The static target the API binary is built for, and its OCI architecture name. A musl target
/// when one is installed (the ARM64 one matches the task definition); otherwise the host's glibc
/// target with the C runtime linked statically, which runs on any Linux of that architecture.
pub fn api_target() -> (String, &'static str) {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    for (triple, architecture) in [
        ("aarch64-unknown-linux-musl", "arm64"),
        ("x86_64-unknown-linux-musl", "amd64"),
    ] {
        if installed.lines().any(|line| line.trim() == triple) {
            return (triple.to_owned(), architecture);
        }
    }
    if cfg!(target_arch = "aarch64") {
        ("aarch64-unknown-linux-gnu".to_owned(), "arm64")
    } else {
        ("x86_64-unknown-linux-gnu".to_owned(), "amd64")
    }
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the static API binary in release mode; returns its path and OCI architecture.
pub fn build_api_binary() -> Result<(PathBuf, &'static str)> {
    let (triple, architecture) = api_target();
    let variable = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace('-', "_")
    );
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
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
    Ok((
        target_dir().join(&triple).join("release/eventforge-api"),
        architecture,
    ))
}

/// Builds (unless told not to) and collects the assets of the selected stacks.
pub fn build(plan: &Plan, args: &AssetArgs, only: &[String]) -> Result<Assets> {
    let selected = plan
        .stacks
        .iter()
        .filter(|stack| only.is_empty() || only.contains(&stack.name));
    let mut functions = Vec::new();
    let mut needs_image = false;
    for asset in selected.flat_map(|stack| &stack.assets) {
        match &asset.kind {
            AssetKind::LambdaZip { function } => functions.push(function.clone()),
            AssetKind::ContainerImage { .. } => needs_image = true,
        }
    }
    let mut assets = Assets::default();
    if !functions.is_empty() {
        assets.lambda_zips = lambda_zips(&functions, args)?;
    }
    if needs_image {
        let (binary, architecture) = match &args.api_binary {
            Some(binary) => (
                binary.clone(),
                if cfg!(target_arch = "aarch64") {
                    "arm64"
                } else {
                    "amd64"
                },
            ),
            None if args.no_build => {
                let (triple, architecture) = api_target();
                (
                    target_dir().join(triple).join("release/eventforge-api"),
                    architecture,
                )
            }
            None => build_api_binary()?,
        };
        if architecture != "arm64" {
            eprintln!(
                "note: the API image is {architecture} (no aarch64 musl target installed); the task definition asks for ARM64, \
                 so on AWS install `rustup target add aarch64-unknown-linux-musl` first"
            );
        }
        let image = Image::build(&ImageSpec {
            binary: &binary,
            name: "eventforge-api",
            architecture,
            exposed_port: Some(8080),
        })
        .with_context(|| format!("cannot build the API image from {}", binary.display()))?;
        assets.image = Some(image);
    }
    Ok(assets)
}

fn lambda_zips(functions: &[String], args: &AssetArgs) -> Result<BTreeMap<String, PathBuf>> {
    let dir = args
        .lambda_dir
        .clone()
        .unwrap_or_else(|| target_dir().join("lambda"));
    let lambdas = workspace_root().join("lambdas");
    if !args.no_build && args.lambda_dir.is_none() && lambdas.join("Cargo.toml").is_file() {
        let mut command = Command::new("cargo");
        command.current_dir(&lambdas).args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--output-format",
            "zip",
        ]);
        run(&mut command).context(
            "building the Lambda zips needs cargo-lambda (`cargo install cargo-lambda`)",
        )?;
    }
    let mut zips = BTreeMap::new();
    let mut missing = Vec::new();
    for function in functions {
        let zip = dir.join(function).join("bootstrap.zip");
        if zip.is_file() {
            zips.insert(function.clone(), zip);
        } else {
            missing.push(function.as_str());
        }
    }
    if !missing.is_empty() {
        bail!(
            "no Lambda zip for {} in {}; build them with `cargo lambda build --release --arm64 --output-format zip` \
             in lambdas/, or point --lambda-dir at <function>/bootstrap.zip files",
            missing.join(", "),
            display(&dir)
        );
    }
    Ok(zips)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
