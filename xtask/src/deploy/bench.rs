//! `cargo xtask bench deploy`: full, no-op and one-function deploy wall times against moto and a
//! local registry, the API image's size and each Lambda zip's size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use eventforge_deployer::ContainerImage;
use eventforge_deployer::image::{Image, ImageSpec};
use eventforge_deployer::local_registry::LocalRegistry;
use eventforge_deployer::progress::Silent;
use eventforge_deployer::{Assets, DeployOptions, Deployer, EmulatorProfile, Target};
use eventforge_stacks::platform::Stage;
use eventforge_store_dynamodb::moto::MotoServer;

use crate::artefacts::{BuildProfile, api_target, build_api_binary};
use crate::process::target_dir;
use crate::synth::{ArchitectureArg, StageArg};

#[derive(Args)]
pub struct DeployBenchArgs {
    /// Timed no-op deploys after the full one.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Put this executable in the API image instead of building eventforge-api (release,
    /// static).
    #[arg(long, value_name = "PATH")]
    pub api_binary: Option<PathBuf>,
    /// Replace the `## Deploy` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

/// Runs the benchmark; returns the BENCHMARKS.md section.
pub fn run(args: &DeployBenchArgs) -> Result<String> {
    // This machine's architecture: what it can build the API binary for.
    let architecture = ArchitectureArg::host();
    let (_, plan) = super::plan(StageArg::Dev, architecture)?;
    debug_assert_eq!(plan.app, format!("eventforge-{}", Stage::Dev.name()));
    let scratch = tempfile::tempdir()?;

    // Real zips when cargo-lambda has built them; otherwise placeholders, said so.
    let functions = plan.lambda_functions();
    let built_dir = target_dir().join("lambda");
    let built: BTreeMap<String, PathBuf> = functions
        .iter()
        .map(|function| {
            (
                function.clone(),
                built_dir.join(function).join("bootstrap.zip"),
            )
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    let real_zips = built.len() == functions.len();
    let lambda_zips: BTreeMap<String, PathBuf> = if real_zips {
        built
    } else {
        functions
            .iter()
            .map(|function| {
                let path = scratch.path().join(format!("{function}.zip"));
                std::fs::write(&path, format!("placeholder {function}"))?;
                Ok((function.clone(), path))
            })
            .collect::<Result<_>>()?
    };

    let (binary, how) = match &args.api_binary {
        Some(binary) => (binary.clone(), "given binary".to_owned()),
        None => (
            build_api_binary(architecture, BuildProfile::Ship)?,
            format!(
                "`{}` release, +crt-static, symbols stripped",
                api_target(architecture)?
            ),
        ),
    };
    let binary_size = std::fs::metadata(&binary)
        .with_context(|| format!("cannot read {}", binary.display()))?
        .len();
    let started = Instant::now();
    let image = Image::build(&ImageSpec {
        binary: &binary,
        name: "eventforge-api",
        architecture: architecture.oci_name(),
        exposed_port: Some(8080),
    })?;
    let image_build = started.elapsed();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (full, no_op, one_function, stacks) = runtime.block_on(async {
        let moto = MotoServer::start()?;
        let registry = LocalRegistry::start()?;
        let sdk = moto
            .sdk_config()
            .await
            .to_builder()
            .endpoint_url(moto.direct_endpoint())
            .build();
        let deployer = Deployer::new(Target {
            sdk,
            emulator: Some(EmulatorProfile::Moto),
            registry: Some(registry.endpoint.clone()),
            cfn_execution_role: None,
        });
        let mut assets = Assets {
            lambda_zips: lambda_zips.clone(),
            image: Some(ContainerImage::Oci(image.clone())),
        };
        let options = DeployOptions::default();
        let timed = |assets: Assets| {
            let deployer = deployer.clone();
            let plan = plan.clone();
            let options = options.clone();
            async move {
                let started = Instant::now();
                deployer
                    .deploy(&plan, &assets, &options, Arc::new(Silent))
                    .await?;
                Ok::<Duration, anyhow::Error>(started.elapsed())
            }
        };
        let full = timed(assets.clone()).await?;
        let mut no_op = Vec::new();
        for _ in 0..args.runs {
            no_op.push(timed(assets.clone()).await?);
        }
        let changed = scratch.path().join("changed.zip");
        std::fs::write(&changed, b"changed code")?;
        assets.lambda_zips.insert(functions[0].clone(), changed);
        let one_function = timed(assets).await?;
        Ok::<_, anyhow::Error>((full, no_op, one_function, plan.stacks.len()))
    })?;

    let mut sorted = no_op.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let mut section = String::from("## Deploy\n\n");
    let _ = writeln!(
        section,
        "`cargo xtask bench deploy` ({}, {} cores): the {stacks} stacks against moto_server 5.2.1 and Debian's docker-registry on \
         127.0.0.1, emulator profile on. moto applies stacks synchronously, so these time the deployer (synthesis \
         is separate, asset hashing, uploads, the push, the API calls), not CloudFormation; the machine's \
         hello-world ceiling of the same day is in \"API\".\n",
        crate::bench::provenance()?,
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let _ = writeln!(section, "| measure | result |\n| --- | --- |");
    let _ = writeln!(
        section,
        "| full deploy (empty emulator) | {:.2} s |",
        full.as_secs_f64()
    );
    let _ = writeln!(
        section,
        "| no-op deploy (every stack skipped), median of {} | **{:.0} ms** (min {:.0}, max {:.0}); target under 2 s |",
        no_op.len(),
        median.as_secs_f64() * 1000.0,
        sorted[0].as_secs_f64() * 1000.0,
        sorted[sorted.len() - 1].as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        section,
        "| one function changed (functions stack only) | {:.0} ms |",
        one_function.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        section,
        "| API image, compressed (what is pushed and pulled) | **{:.2} MB**; target under 15 MB |",
        image.compressed_size() as f64 / 1_000_000.0
    );
    let _ = writeln!(
        section,
        "| API binary ({how}, {}) | {:.2} MB; image built in {:.1} s |",
        architecture.oci_name(),
        binary_size as f64 / 1_000_000.0,
        image_build.as_secs_f64()
    );
    if real_zips {
        for (function, path) in &lambda_zips {
            let size = std::fs::metadata(path)
                .map(|metadata| metadata.len())
                .unwrap_or_default();
            let _ = writeln!(
                section,
                "| Lambda zip `{function}` | {:.2} MB |",
                size as f64 / 1_000_000.0
            );
        }
    } else {
        let _ = writeln!(
            section,
            "| Lambda zips | not built here (no `cargo lambda` output in {}); placeholder zips were deployed |",
            built_dir.display()
        );
    }
    Ok(section)
}
