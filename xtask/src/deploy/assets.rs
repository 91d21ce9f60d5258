//! Building what the stacks refer to: the Lambda zips (cargo-lambda) and the API image (a static
//! `eventforge-api` in a one-layer OCI image, no Docker daemon; or, with `--docker`, the same
//! image built by the Docker daemon); and the dashboard, published to the frontend stack's
//! bucket after the stacks.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_deployer::docker::Docker;
use eventforge_deployer::image::{Image, ImageSpec};
use eventforge_deployer::plan::Plan;
use eventforge_deployer::{Assets, ContainerImage};
use eventforge_stacks::stack::AssetKind;

use crate::frontend::Frontend;
use crate::process::{cargo, run, target_dir, workspace_root};
use crate::synth::ArchitectureArg;

#[derive(Args, Clone, Default)]
pub struct AssetArgs {
    /// Directory with the Lambda zips in cargo-lambda's layout, <function>/bootstrap.zip
    /// [default: <cargo target dir>/lambda].
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Put this executable in the API image instead of building eventforge-api.
    #[arg(long, value_name = "PATH")]
    pub api_binary: Option<PathBuf>,
    /// The dashboard build to publish to the frontend stack's bucket [default: frontend/dist,
    /// built with npm when its sources are newer].
    #[arg(long, value_name = "DIR")]
    pub site_dir: Option<PathBuf>,
    /// Build nothing: use the zips, binary and dashboard already built.
    #[arg(long)]
    pub no_build: bool,
    /// Build the API image with the Docker daemon (`docker build` of a FROM-scratch
    /// Dockerfile) and push it with `docker push`, instead of assembling and pushing it with no
    /// daemon. The image holds the same binary, user, port and entrypoint either way.
    #[arg(long)]
    pub docker: bool,
}

/// The dashboard build to publish: `--site-dir`, else `frontend/dist`, rebuilt (npm ci when the
/// lock file changed, then vite) unless `--no-build` or nothing changed since the last build, so
/// a redeploy of the same sources stays quick.
pub fn build_site(args: &AssetArgs) -> Result<PathBuf> {
    if let Some(dir) = &args.site_dir {
        return Ok(dir.clone());
    }
    let frontend = Frontend::new(workspace_root().join("frontend"));
    if !args.no_build {
        frontend.install()?;
        if frontend.is_stale() {
            frontend.build()?;
        }
    }
    Ok(frontend.dist())
}

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
    fn gnu_target(self) -> String {
        format!("{}-unknown-linux-gnu", self.rust_arch())
    }

    fn flag(self) -> &'static str {
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

/// Builds every function of `eventforge-functions` into `<function>/bootstrap.zip` under the
/// returned directory, with cargo-lambda (which links against an old glibc through zig, so the
/// binaries run on Lambda's `provided.al2023`).
/// `path` replaces `PATH` for cargo-lambda when given.
pub fn build_lambda_zips(
    architecture: ArchitectureArg,
    path: Option<&OsString>,
) -> Result<PathBuf> {
    installed_target(architecture, &[architecture.gnu_target()])?;
    let mut command = cargo();
    command.current_dir(workspace_root()).args([
        "lambda",
        "build",
        "--profile",
        "lambda",
        &format!("--{}", architecture.flag()),
        "--output-format",
        "zip",
        "-p",
        "eventforge-functions",
    ]);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    run(&mut command).context(
        "building the Lambda zips needs cargo-lambda and zig: `cargo xtask test` installs both \
         (or `pip install cargo-lambda ziglang`)",
    )?;
    Ok(target_dir().join("lambda"))
}

/// The binary of `function` that [`build_lambda_zips`] zipped as its `bootstrap`, where the
/// `lambda` profile's build left it.
pub fn lambda_binary(architecture: ArchitectureArg, function: &str) -> PathBuf {
    target_dir()
        .join(architecture.gnu_target())
        .join("lambda")
        .join(function)
}

/// Builds the static API binary in release mode; returns its path.
pub fn build_api_binary(architecture: ArchitectureArg) -> Result<PathBuf> {
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
    Ok(target_dir().join(&triple).join("release/eventforge-api"))
}

/// Builds (unless told not to) and collects the assets of the selected stacks.
pub fn build(
    plan: &Plan,
    args: &AssetArgs,
    only: &[String],
    architecture: ArchitectureArg,
) -> Result<Assets> {
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
        assets.lambda_zips = lambda_zips(&functions, args, architecture)?;
    }
    if needs_image {
        let binary = match &args.api_binary {
            Some(binary) => binary.clone(),
            None if args.no_build => target_dir()
                .join(api_target(architecture)?)
                .join("release/eventforge-api"),
            None => build_api_binary(architecture)?,
        };
        let spec = ImageSpec {
            binary: &binary,
            name: "eventforge-api",
            architecture: architecture.oci_name(),
            exposed_port: Some(8080),
        };
        let context = || format!("cannot build the API image from {}", binary.display());
        let image = if args.docker {
            let docker = Docker::from_environment();
            docker.server_version().context(
                "--docker needs a running Docker daemon; start one, or deploy without --docker",
            )?;
            let image = docker
                .build(&spec, "eventforge-api")
                .with_context(context)?;
            ContainerImage::Docker { docker, image }
        } else {
            ContainerImage::Oci(Image::build(&spec).with_context(context)?)
        };
        assets.image = Some(image);
    }
    Ok(assets)
}

fn lambda_zips(
    functions: &[String],
    args: &AssetArgs,
    architecture: ArchitectureArg,
) -> Result<BTreeMap<String, PathBuf>> {
    let dir = match &args.lambda_dir {
        Some(dir) => dir.clone(),
        None if args.no_build => target_dir().join("lambda"),
        None => build_lambda_zips(architecture, None)?,
    };
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
            "no Lambda zip for {} in {}; build them with `cargo lambda build --release --arm64 --output-format zip \
             -p eventforge-functions`, or point --lambda-dir at <function>/bootstrap.zip files",
            missing.join(", "),
            display(&dir)
        );
    }
    Ok(zips)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
