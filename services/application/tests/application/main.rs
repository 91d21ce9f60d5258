//! One test binary for the crate's integration tests (one link of the dependency tree instead
//! of one per file); each module is the specification of one part.

mod common;

mod conservation;
mod redelivery;
mod runtime;
mod webhook_delivery;
mod webhook_retry;
mod webhook_tls;
