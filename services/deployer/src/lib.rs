//! Deploys a synthesised assembly (`manifest.json` and its templates) to CloudFormation (or an
//! emulator of it). It knows nothing of the platform it deploys: what deploying EventForge adds
//! (the dashboard's publishing, the API's cost) is `eventforge-platform-deploy`.
//!
//! The flow of `deploy`: read every deployed stack in one call -> bootstrap stack (asset bucket
//! and container repository) when missing or selected -> upload Lambda zips under
//! content-addressed keys and push the API image tagged with its digest, both skipped when
//! already there -> every stack in the dependency order `typed-cloudformation` derived, each as
//! soon as its dependencies are done (independent stacks concurrently), via change sets.
//!
//! A stack is skipped when the fingerprint tag it carries (template + parameter values, asset
//! parameters being content hashes) matches what would be sent: no change set, no API call
//! beyond the one `DescribeStacks` for all stacks. The template hash is tagged separately, which
//! tells `status` whether the local templates differ and `--hotswap` whether only code changed.
//!
//! Against an emulator, an [`emulator::EmulatorProfile`] adapts templates to what the emulator
//! implements and reports every adaptation; see that module for moto's gaps.
//!
//! Every run that changes stacks holds the stage's lock ([`lock`]) once the asset bucket exists;
//! a stack an earlier operation left in progress is waited out, and a first creation that
//! failed and rolled back is deleted and created again, so a deploy that was killed or failed
//! needs no manual clean-up. AWS calls are retried with jittered exponential backoff
//! ([`deploy::retries`]).
//!
//! # What this crate must not depend on
//! Nothing of the CLI (no terminal, no clap, no anyhow): it reports through
//! [`progress::Reporter`] and fails with [`DeployError`]. It builds no Rust code: the caller
//! hands it built zips and a binary for the image.

pub mod assets;
pub mod cfn;
pub mod deploy;
pub mod docker;
pub mod drift;
pub mod emulator;
pub mod error;
pub mod image;
#[cfg(feature = "local-registry")]
pub mod local_docker;
#[cfg(feature = "local-registry")]
pub mod local_registry;
pub mod lock;
pub mod plan;
pub mod progress;
pub mod security;

pub use deploy::{
    Assets, ContainerImage, DeployOptions, DeployReport, Deployer, DestroyReport, Target,
};
pub use emulator::EmulatorProfile;
pub use error::DeployError;
pub use plan::Plan;

/// Static credentials, for emulators that accept any (re-exported so the CLI needs no SDK crate).
pub use aws_sdk_cloudformation::config::Credentials;
