//! Typed CloudFormation: the resource model, intrinsics, cross-stack references, least-privilege
//! IAM, typed Step Functions definitions, and synthesis to templates, deploy order and a
//! manifest. It knows nothing of the application it describes; its README shows a stack built
//! from scratch (and is compiled and run as this crate's documentation test).
//!
#![doc = include_str!("../README.md")]
//!
//! # How references become exports and deploy order
//! A [`handle::Handle`] remembers the stack its resource belongs to. Synthesis renders each stack
//! in turn; a reference to the stack being rendered becomes `Ref`/`Fn::GetAtt`, a reference to
//! any other stack becomes `Fn::ImportValue` of an export named `<stack>:<LogicalId>[-<Attr>]`,
//! and the producing stack gains the matching `Output` with `Export`. Each such use is also an
//! edge "importer depends on producer"; the deploy order is a topological sort of those edges
//! (ties keep declaration order), so it can never disagree with the templates. A cycle is
//! [`error::SynthError::Cycle`], naming the stacks on it in the order they use each other.
//!
//! # Determinism
//! Every JSON object is rebuilt with sorted keys before it is written, whatever map type
//! `serde_json` was compiled with, and nothing depends on hash order or the clock: the same app
//! gives the same bytes, in JSON and in YAML.
//!
//! # YAML
//! `serde_yaml` is archived (published as `0.9.34+deprecated`) and `serde_yml` is deprecated too.
//! We use `serde_yaml_ng`: a maintained fork with the same API as `serde_yaml`, so it is a
//! drop-in that serialises straight from `serde_json::Value`, and it quotes strings that would
//! otherwise read back as numbers or booleans (a test reads every YAML template back and compares
//! it with the JSON one). `serde_norway` would have served too; `serde_yaml_ng` keeps
//! `serde_yaml`'s API unchanged, so nothing here is specific to a fork.
//!
//! # Prior art, and why the types are generated here
//! - `stratosphere` pre-generates every resource type from the AWS specifications behind one
//!   feature per service. It is pre-1.0 and says it exists to serve its author's monorepo with
//!   breaking changes expected; it models one template at a time (no cross-stack references),
//!   and it turns on `serde_json`'s `arbitrary_precision` and `indexmap` features, which feature
//!   unification would impose on every crate of this workspace.
//! - `rusty-cdk` offers hand-written, validated builders, but for a subset of services (no ECS,
//!   ELBv2, EC2 networking, Cognito or Step Functions), and its main crate brings the AWS SDK
//!   and a full tokio runtime into what should be a pure function.
//!
//! So we do what both do at heart, with our own constraints: generate typed structs from the
//! official schemas for the types we use (`cargo xtask codegen`, 40 types, about 20k lines that
//! compile in seconds), and keep references, exports and ordering in this crate.
//!
//! # What this crate must not depend on
//! No AWS SDK, no async runtime, no network, no clock, and nothing of EventForge: synthesis is a
//! pure function of the typed app. The platform's stacks (`eventforge-stacks`) are built on it;
//! the deployer reads what it writes (`manifest.json`, the templates).

/// Amazon States Language, typed: the `states-language` crate.
pub use states_language as asl;
pub mod error;
pub mod generated;
pub mod handle;
pub mod iam;
pub mod manifest;
/// Logical ids derived from kebab-case names.
pub mod naming {
    pub use states_language::upper_camel;
}
pub mod order;
pub mod resource;
pub mod stack;
pub mod synth;
pub mod validate;
pub mod value;
