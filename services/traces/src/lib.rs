//! Local tracing: what X-Ray does on AWS, for `cargo xtask dev`.
//!
//! [`SqliteSpans`] keeps finished spans in one SQLite file; the API records each request's span
//! into it and serves an order's trace from it. [`TracingHost`] wraps the runtime's
//! [`FunctionHost`](eventforge_local::FunctionHost): every saga step and every message a
//! processor handles becomes a span of the trace named by the event that caused it, so one
//! order's trace shows the request, each step and each processor with their durations.
//! [`AlarmWatch`] evaluates the API's CloudWatch alarms over the request spans and warns in the
//! log at the same thresholds.

mod alarms;
mod host;
mod sqlite;

pub use alarms::{AlarmChange, AlarmWatch, Window};
pub use host::TracingHost;
pub use sqlite::SqliteSpans;
