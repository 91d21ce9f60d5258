//! What deploying EventForge adds to the generic deployer (`eventforge-deployer`, which knows
//! nothing of the platform it deploys): publishing the dashboard to the frontend stack's bucket
//! with the `config.json` the deployed stacks' outputs make ([`site`]), and what the API stack
//! costs while it runs ([`cost`], what `teardown-ecs` stops paying). Both read the stacks'
//! output names from `eventforge-topology`.
//!
//! The deployer's generic engine reads the bootstrap stack's outputs by names of its own
//! (`eventforge_deployer::deploy::ASSET_BUCKET_OUTPUT`, `REPOSITORY_OUTPUT`); the tests here
//! check that EventForge's bootstrap stack declares them.
//!
//! # What this crate must not depend on
//! The CLI (it reports through [`site::SiteReporter`] and fails with [`SiteError`]), and the
//! platform's stacks (it reads deployed outputs, not templates it would synthesise).

pub mod cost;
pub mod error;
pub mod site;

pub use error::SiteError;
pub use site::{SitePublisher, SiteReport};

#[cfg(test)]
mod tests {
    use eventforge_deployer::deploy::{ASSET_BUCKET_OUTPUT, REPOSITORY_OUTPUT};
    use eventforge_stacks::platform::{self, Config, Stage};

    #[test]
    fn the_platform_s_bootstrap_stack_declares_the_outputs_the_deployer_reads() {
        let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
        let bootstrap = assembly
            .stacks
            .iter()
            .find(|stack| stack.name.ends_with("-bootstrap"))
            .expect("a bootstrap stack");
        for output in [ASSET_BUCKET_OUTPUT, REPOSITORY_OUTPUT] {
            assert!(
                bootstrap.template["Outputs"].get(output).is_some(),
                "{} declares no output {output}",
                bootstrap.name
            );
        }
    }
}
