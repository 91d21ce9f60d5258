//! Workflow: the order saga ([`eventforge_topology::saga`]) as a Step Functions state machine,
//! and the rule that starts it.

use std::collections::BTreeMap;

use eventforge_topology::saga::{SAGA_NAME, saga_definition};
use eventforge_topology::{RuleSpec, RuleTarget, rules};
use typed_cloudformation::asl::placeholder;
use typed_cloudformation::generated::{events, logs, stepfunctions};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::iam::{Grants, Unscoped, add_role};
use typed_cloudformation::stack::ResourceOptions;
use typed_cloudformation::synth::App;

use super::components::LOGS_ENCRYPTED_BY_CLOUDWATCH;
use super::{Built, Config, functions, messaging};

pub struct Outputs {
    pub state_machine: Handle<stepfunctions::StateMachine>,
}

pub fn stack(
    app: &App,
    config: &Config,
    functions: &functions::Outputs,
    messaging: &messaging::Outputs,
) -> Built<Outputs> {
    let mut stack = app.new_stack("workflow", "EventForge workflow: the order saga");
    let definition = saga_definition();
    let log_group = stack.add_with(
        "SagaLogGroup",
        logs::LogGroup::new()
            .log_group_name(format!(
                "/aws/vendedlogs/states/{}-{SAGA_NAME}",
                config.prefix()
            ))
            .retention_in_days(config.log_retention_days),
        ResourceOptions::delete().accept(&[LOGS_ENCRYPTED_BY_CLOUDWATCH]),
    );

    // The role may invoke exactly the functions the definition's tasks name.
    let mut grants = Grants::new();
    let mut substitutions = BTreeMap::new();
    let invoked: Vec<_> = definition
        .invoked_functions()
        .into_iter()
        .filter_map(|name| functions.functions.get(name.as_str()).map(|f| (name, f)))
        .collect();
    for (name, function) in &invoked {
        substitutions.insert(placeholder(name), function.arn().to_json());
    }
    grants.allow(
        &["lambda:InvokeFunction"],
        invoked.iter().map(|(_, function)| function.arn()).collect(),
    );
    grants.allow_unscoped(Unscoped::LogDelivery);
    grants.allow_unscoped(Unscoped::XRayTracing);
    let role = add_role(
        &mut stack,
        "SagaRole",
        "states.amazonaws.com",
        "Runs the order saga",
        &grants,
    );

    let state_machine = stack.add(
        "Saga",
        stepfunctions::StateMachine::new(role.arn())
            .state_machine_name(format!("{}-{SAGA_NAME}", config.prefix()))
            .state_machine_type("STANDARD")
            .definition(definition.to_json())
            .definition_substitutions(substitutions)
            .logging_configuration(
                stepfunctions::state_machine::LoggingConfiguration::new()
                    .level("ALL")
                    .include_execution_data(true)
                    .destinations(vec![
                        stepfunctions::state_machine::LogDestination::new()
                            .cloud_watch_logs_log_group(
                                stepfunctions::state_machine::CloudWatchLogsLogGroup::new()
                                    .log_group_arn(log_group.arn()),
                            ),
                    ]),
            )
            .tracing_configuration(
                stepfunctions::state_machine::TracingConfiguration::new().enabled(true),
            ),
    );

    // The trigger rule lives with its target: its role needs the state machine's ARN.
    let mut starter = Grants::new();
    starter.allow(&["states:StartExecution"], vec![state_machine.reference()]);
    let events_role = add_role(
        &mut stack,
        "SagaTriggerRole",
        "events.amazonaws.com",
        "Lets EventBridge start the order saga",
        &starter,
    );
    for rule in rules() {
        for target in &rule.targets {
            if *target != RuleTarget::StateMachine(SAGA_NAME) {
                continue;
            }
            let mut rule_target = events::rule::Target::new(state_machine.reference(), SAGA_NAME)
                .role_arn(events_role.arn());
            if let Some(path) = RuleSpec::input_path(target) {
                rule_target = rule_target.input_path(path);
            }
            stack.add(
                &format!(
                    "{}Rule",
                    typed_cloudformation::naming::upper_camel(rule.name)
                ),
                events::Rule::new()
                    .description(rule.description)
                    .event_bus_name(messaging.bus.name())
                    .event_pattern(rule.pattern())
                    .targets(vec![rule_target]),
            );
        }
    }
    Built {
        stack,
        outputs: Outputs { state_machine },
    }
}
