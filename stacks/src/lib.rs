//! The EventForge platform's stacks, written with [`typed_cloudformation`]: one function per
//! stack, wired together by passing handles, never by names.
//!
//! The typed definitions here are the only description of the system. From them come the
//! CloudFormation templates (`cargo xtask synth`), the saga's Amazon States Language document,
//! the EventBridge rules and the queue settings, and so the wiring of the local runtime, which
//! executes the very same ASL document and evaluates the very same event patterns.
//!
//! The generic machinery (resource types, intrinsics, exports, deploy order, IAM, ASL) is
//! `typed-cloudformation`'s; what is here is EventForge's own.
//!
//! # What this crate must not depend on
//! No AWS SDK, no async runtime, no network, no clock: synthesis is a pure function of the typed
//! app. It depends on `eventforge-core` only for the table's key schema
//! (`eventforge_core::table_schema`), so the deployed table and the store cannot drift apart.
//! The deployer and the local runtime depend on this crate, never the other way round.

pub mod platform;
