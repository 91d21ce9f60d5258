//! The EventForge platform, written with the typed model: one function per stack, wired together
//! by passing handles, never by names.
//!
//! [`app`] builds every stack for a [`Config`]; the deploy order falls out of the references
//! between them. The plain-data views the local runtime needs (the saga's ASL, the EventBridge
//! rules, the queue settings) come from the same definitions the stacks are built from:
//! [`workflow::saga_definition`], [`messaging::rules`] and [`messaging::queues`].

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod components;
pub mod data;
pub mod deploy_access;
pub mod frontend;
pub mod functions;
pub mod messaging;
pub mod network;
pub mod observability;
pub mod workflow;

use crate::error::SynthError;
use crate::synth::{App, Assembly};

/// The EventBridge `source` of every event the platform publishes (the outbox publisher sets it;
/// every rule matches on it).
pub const EVENT_SOURCE: &str = "eventforge.orders";

/// A deployment stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Dev,
    Prod,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Prod => "prod",
        }
    }
}

/// Everything that differs between deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub stage: Stage,
    /// Fargate task size in CPU units (256 = 0.25 vCPU) and MiB.
    pub api_cpu: u32,
    pub api_memory_mib: u32,
    pub api_desired_count: u32,
    pub api_max_count: u32,
    pub function_memory_mib: u32,
    pub log_retention_days: u32,
}

impl Config {
    pub fn for_stage(stage: Stage) -> Self {
        match stage {
            Stage::Dev => Self {
                stage,
                api_cpu: 256,
                api_memory_mib: 512,
                api_desired_count: 1,
                api_max_count: 2,
                function_memory_mib: 256,
                log_retention_days: 14,
            },
            Stage::Prod => Self {
                stage,
                api_cpu: 512,
                api_memory_mib: 1024,
                api_desired_count: 2,
                api_max_count: 6,
                function_memory_mib: 512,
                log_retention_days: 90,
            },
        }
    }

    /// The prefix of every stack and physical name, e.g. `eventforge-dev`.
    pub fn prefix(&self) -> String {
        format!("eventforge-{}", self.stage.name())
    }
}

/// Every stack of the platform. Declaration order does not matter for deployment: synthesis
/// derives it from the references.
pub fn app(config: &Config) -> App {
    let mut app = App::new(&config.prefix());
    let bootstrap = bootstrap::stack(&app);
    let network = network::stack(&app);
    let data = data::stack(&app, config);
    let messaging = messaging::stack(&app, config);
    let frontend = frontend::stack(&app);
    let auth = auth::stack(&app, config, &frontend.outputs);
    let functions = functions::stack(
        &app,
        config,
        &functions::Uses {
            assets: &bootstrap.outputs,
            data: &data.outputs,
            messaging: &messaging.outputs,
        },
    );
    let workflow = workflow::stack(&app, config, &functions.outputs, &messaging.outputs);
    let api = api::stack(
        &app,
        config,
        &api::Uses {
            assets: &bootstrap.outputs,
            network: &network.outputs,
            data: &data.outputs,
            messaging: &messaging.outputs,
            auth: &auth.outputs,
        },
    );
    let deploy_access = deploy_access::stack(
        &app,
        config,
        &deploy_access::Uses {
            assets: &bootstrap.outputs,
            frontend: &frontend.outputs,
        },
    );
    let observability = observability::stack(
        &app,
        config,
        &observability::Watches {
            messaging: &messaging.outputs,
            workflow: &workflow.outputs,
            api: &api.outputs,
        },
    );
    for built in [
        bootstrap.stack,
        network.stack,
        data.stack,
        messaging.stack,
        auth.stack,
        functions.stack,
        workflow.stack,
        api.stack,
        frontend.stack,
        observability.stack,
        deploy_access.stack,
    ] {
        app.add(built);
    }
    app
}

/// Synthesises the platform for `config`.
pub fn synth(config: &Config) -> Result<Assembly, SynthError> {
    workflow::saga_definition()
        .validate()
        .map_err(|problems| SynthError::InvalidStateMachine {
            name: workflow::SAGA_NAME.to_owned(),
            problems,
        })?;
    app(config).synth()
}

/// A stack and the handles other stacks may use.
pub struct Built<T> {
    pub stack: crate::stack::Stack,
    pub outputs: T,
}
