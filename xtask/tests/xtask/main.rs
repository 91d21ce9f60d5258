//! One test binary for the crate's integration tests (one link of the dependency tree instead
//! of one per file); each module is the specification of one part.

mod deploy_cli;
mod shares_the_workspace_build;
mod synth_cli;
mod test_cli;
