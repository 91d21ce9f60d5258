//! What EventForge is made of, as plain data: its [`Function`]s, [`Queue`]s, event [`rules`]
//! and sources, timeouts, alarm thresholds, the order saga ([`saga::saga_definition`]) and the
//! [`StackOutput`]s the deployer reads.
//!
//! One description, read by everything that runs or deploys the platform: the stacks
//! (`eventforge-stacks`) build their resources from it, the local runtime (`eventforge-local`)
//! wires its queues, bus and state machine from it, and the handlers and Lambda binaries name
//! their functions and errors with it. So a processor is added here first, and every `match` on
//! [`Function`] or [`Queue`] that does not handle it yet is a compile error, not a surprise at
//! run time.
//!
//! # What this crate must not depend on
//! Anything but `serde_json` and `states-language`: no CloudFormation library, no SDK, no runtime.
//! A Lambda binary that names its function compiles this and nothing more.

pub mod alarms;
mod function;
mod messaging;
mod outputs;
pub mod saga;

pub use function::{
    Function, FunctionSpec, PROCESSOR_MAX_CONCURRENCY, PROCESSOR_TIMEOUT_SECONDS,
    SAGA_STEP_TIMEOUT_SECONDS, Trigger, functions,
};
pub use messaging::{
    EVENT_SOURCE, INGESTED_EVENT_SOURCE, Queue, QueueSettings, RuleSpec, RuleTarget, event_source,
    queues, rules,
};
pub use outputs::StackOutput;
