//! Building what the stacks refer to: the Lambda zips (cargo-lambda) and the API image (a static
//! `eventforge-api` in a one-layer OCI image, no Docker daemon; or, with `--docker`, the same
//! image built by the Docker daemon); and the dashboard, published to the frontend stack's
//! bucket after the stacks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_deployer::docker::Docker;
use eventforge_deployer::image::{Image, ImageSpec};
use eventforge_deployer::plan::Plan;
use eventforge_deployer::{Assets, ContainerImage};
use typed_cloudformation::stack::AssetKind;

use crate::artefacts::{BuildProfile, api_binary, api_target, build_api_binary, build_lambda_zips};
use crate::frontend::Frontend;
use crate::process::workspace_root;
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
    /// How the zips and the API binary are compiled: `watch` sets its own.
    #[arg(skip)]
    pub profile: BuildProfile,
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

/// What the selected stacks need built: their functions, by name, and whether the API image.
pub fn needed(plan: &Plan, only: &[String]) -> (Vec<String>, bool) {
    let mut functions = Vec::new();
    let mut needs_image = false;
    let selected = plan
        .stacks
        .iter()
        .filter(|stack| only.is_empty() || only.contains(&stack.name));
    for asset in selected.flat_map(|stack| &stack.assets) {
        match &asset.kind {
            AssetKind::LambdaZip { function } => functions.push(function.clone()),
            AssetKind::ContainerImage { .. } => needs_image = true,
            // Looked up in the region by the deployer; nothing to build.
            AssetKind::ManagedPrefixList { .. } => {}
        }
    }
    (functions, needs_image)
}

/// Builds (unless told not to) and collects the assets of the selected stacks.
pub fn build(
    plan: &Plan,
    args: &AssetArgs,
    only: &[String],
    architecture: ArchitectureArg,
) -> Result<Assets> {
    let (functions, needs_image) = needed(plan, only);
    let mut assets = Assets::default();
    if !functions.is_empty() {
        let dir = match &args.lambda_dir {
            Some(dir) => dir.clone(),
            None if args.no_build => args.profile.lambda_dir(),
            None => build_lambda_zips(architecture, args.profile, &[], None)?,
        };
        assets.lambda_zips = lambda_zips(&functions, &dir)?;
    }
    if needs_image {
        let binary = match &args.api_binary {
            Some(binary) => binary.clone(),
            None if args.no_build => api_binary(&api_target(architecture)?, args.profile),
            None => build_api_binary(architecture, args.profile)?,
        };
        assets.image = Some(image(&binary, args, architecture)?);
    }
    Ok(assets)
}

/// The API image around `binary`: assembled here, or built by the Docker daemon (`--docker`).
pub fn image(
    binary: &Path,
    args: &AssetArgs,
    architecture: ArchitectureArg,
) -> Result<ContainerImage> {
    let spec = ImageSpec {
        binary,
        name: "eventforge-api",
        architecture: architecture.oci_name(),
        exposed_port: Some(8080),
    };
    let context = || format!("cannot build the API image from {}", binary.display());
    if args.docker {
        let docker = Docker::from_environment();
        docker.server_version().context(
            "--docker needs a running Docker daemon; start one, or deploy without --docker",
        )?;
        let image = docker
            .build(&spec, "eventforge-api")
            .with_context(context)?;
        Ok(ContainerImage::Docker { docker, image })
    } else {
        Ok(ContainerImage::Oci(
            Image::build(&spec).with_context(context)?,
        ))
    }
}

/// The zips of `functions` in `dir` (cargo-lambda's layout, `<function>/bootstrap.zip`).
pub fn lambda_zips(functions: &[String], dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
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
            "no Lambda zip for {} in {}; build them with `cargo lambda build --profile lambda --target \
             aarch64-unknown-linux-gnu.2.34 --output-format zip -p eventforge-functions`, or point \
             --lambda-dir at <function>/bootstrap.zip files",
            missing.join(", "),
            display(dir)
        );
    }
    Ok(zips)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
