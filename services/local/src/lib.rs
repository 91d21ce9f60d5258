//! The local runtime of `cargo xtask dev`: the deployed definitions, run in one process with no
//! AWS and no Docker.
//!
//! - [`machine`] + [`interpreter`] + [`executor`]: a Step Functions executor for the saga's ASL
//!   document exactly as `eventforge-stacks` synthesises it, persisted after every transition so
//!   a restart resumes in-flight executions.
//! - [`pattern`] + [`bus`]: the platform's EventBridge rules (same patterns, same targets).
//! - [`queues`]: SQS semantics (visibility timeout, receive counts, redrive to a dead-letter
//!   queue, partial batch failures) in SQLite.
//! - [`outbox`]: the store's transactional outbox drained to the bus.
//! - [`host`]: how functions are called; [`runtime`] assembles everything.
//!
//! This crate may depend on the domain (`eventforge-core`), the stack definitions
//! (`eventforge-stacks`, for the values only) and the handler crates; it must not depend on the
//! AWS SDK, the API crate or a particular store backend.

pub mod bus;
pub mod db;
pub mod error;
pub mod executor;
pub mod functions;
pub mod host;
pub mod interpreter;
pub mod machine;
pub mod outbox;
pub mod paths;
pub mod pattern;
pub mod queues;
pub mod runtime;
pub mod tasks;

pub use error::{LocalError, LocalResult};
pub use functions::Functions;
pub use host::{FunctionError, FunctionHost, QueueMessage};
pub use interpreter::TimeScale;
pub use runtime::{Runtime, RuntimeConfig, RuntimeHandle};
