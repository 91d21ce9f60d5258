//! The EventForge platform, written with the typed model: one function per stack, wired together
//! by passing handles, never by names.
//!
//! [`app`] builds every stack for a [`Config`]; the deploy order falls out of the references
//! between them. What the platform is made of (functions, queues, rules, the saga) is
//! `eventforge-topology`'s plain data, which the local runtime reads too.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod components;
pub mod data;
pub mod deploy_access;
pub mod diagram;
pub mod frontend;
pub mod functions;
pub mod messaging;
pub mod network;
pub mod observability;
pub mod workflow;

use typed_cloudformation::error::SynthError;
use typed_cloudformation::synth::{App, Assembly};

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

/// The processor architecture the functions and the API task run on. ARM64 (Graviton) is the
/// default: about 20% cheaper than x86_64 for the same work. Deploy builds the code for the
/// architecture the stacks declare, so both always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Architecture {
    #[default]
    Arm64,
    X86_64,
}

impl Architecture {
    /// The name in `AWS::Lambda::Function.Architectures`.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The name in an ECS task definition's `RuntimePlatform.CpuArchitecture`.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Self::Arm64 => "ARM64",
            Self::X86_64 => "X86_64",
        }
    }

    /// The Rust target triple (glibc) of Linux on this architecture.
    pub fn linux_gnu_target(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64-unknown-linux-gnu",
            Self::X86_64 => "x86_64-unknown-linux-gnu",
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
    /// Whether the buckets and distributions write access logs (to a log bucket of their own).
    pub access_logs: bool,
    pub architecture: Architecture,
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
                access_logs: false,
                architecture: Architecture::default(),
            },
            Stage::Prod => Self {
                stage,
                api_cpu: 512,
                api_memory_mib: 1024,
                api_desired_count: 2,
                api_max_count: 6,
                function_memory_mib: 512,
                log_retention_days: 90,
                access_logs: true,
                architecture: Architecture::default(),
            },
        }
    }

    /// The prefix of every stack and physical name, e.g. `eventforge-dev`.
    pub fn prefix(&self) -> String {
        format!("eventforge-{}", self.stage.name())
    }

    /// The name of the stage's DynamoDB table (the data stack's), e.g. `eventforge-dev-orders`:
    /// what the catalogue command and `deploy` address without asking CloudFormation.
    pub fn table_name(&self) -> String {
        format!("{}-orders", self.prefix())
    }
}

/// Every stack of the platform. Declaration order does not matter for deployment: synthesis
/// derives it from the references.
pub fn app(config: &Config) -> App {
    let mut app = App::new(&config.prefix());
    let bootstrap = bootstrap::stack(&app, config);
    let network = network::stack(&app);
    let data = data::stack(&app, config, &bootstrap.outputs.access_logs);
    let messaging = messaging::stack(&app, config);
    let frontend = frontend::stack(&app, &bootstrap.outputs.access_logs);
    let auth = auth::stack(&app, config, &frontend.outputs);
    let functions = functions::stack(
        &app,
        config,
        &functions::Uses {
            assets: &bootstrap.outputs,
            data: &data.outputs,
            messaging: &messaging.outputs,
            auth: &auth.outputs,
        },
    );
    let workflow = workflow::stack(&app, config, &functions.outputs, &messaging.outputs);
    let observability = observability::stack(
        &app,
        config,
        &observability::Watches {
            functions: &functions.outputs,
            messaging: &messaging.outputs,
            workflow: &workflow.outputs,
        },
    );
    let api = api::stack(
        &app,
        config,
        &api::Uses {
            assets: &bootstrap.outputs,
            network: &network.outputs,
            data: &data.outputs,
            messaging: &messaging.outputs,
            auth: &auth.outputs,
            frontend: &frontend.outputs,
            alarms: &observability.outputs,
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
    eventforge_topology::saga::saga_definition()
        .validate()
        .map_err(|problems| SynthError::InvalidStateMachine {
            name: eventforge_topology::saga::SAGA_NAME.to_owned(),
            problems,
        })?;
    app(config).synth()
}

/// A stack and the handles other stacks may use.
pub struct Built<T> {
    pub stack: typed_cloudformation::stack::Stack,
    pub outputs: T,
}
