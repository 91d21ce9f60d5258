//! Functions: the saga steps, the queue processors and the outbox publisher, each a
//! `provided.al2023` Lambda on the config's architecture running the `bootstrap` binary of its
//! own zip, with its own log group and a role holding exactly what its uses grant.

use std::collections::BTreeMap;

use typed_cloudformation::generated::{iam, lambda, logs};
use typed_cloudformation::handle::{Handle, Param};
use typed_cloudformation::iam::{Grants, Unscoped, add_role};
use typed_cloudformation::stack::{Accepted, AssetKind, Parameter, ResourceOptions, Stack};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{Json, Pseudo, Value};

use eventforge_topology::{FunctionSpec, PROCESSOR_MAX_CONCURRENCY, Queue, Trigger, functions};

use super::components::{LOGS_ENCRYPTED_BY_CLOUDWATCH, grant_log_writes};
use super::{Built, Config, auth, bootstrap, data, messaging};

/// What every function accepts, and why.
const FUNCTION_FINDINGS: [Accepted; 4] = [
    Accepted {
        check: "CKV_AWS_115",
        reason: "Reserved concurrency is refused on a new account, whose concurrency quota is 10 \
                 and must keep 10 unreserved, so the first deploy would fail. Concurrency is \
                 bounded where the work arrives instead: each queue's event source mapping has \
                 MaximumConcurrency, the table stream runs one batch per shard, and the saga \
                 steps run once per order.",
    },
    Accepted {
        check: "CKV_AWS_116",
        reason: "No function is invoked asynchronously, and a function's DLQ receives only failed \
                 asynchronous invocations. Step Functions invokes the saga steps synchronously \
                 (its Retry and Catch handle failures); the processors' failed messages go to \
                 their queue's dead-letter queue; the stream mapping retries and bisects.",
    },
    Accepted {
        check: "CKV_AWS_117",
        reason: "The functions call AWS APIs only (DynamoDB, EventBridge, S3, SES, Cognito), over \
                 TLS with IAM signatures; there is nothing private to reach. A VPC would need a \
                 NAT gateway or an interface endpoint per service, at an hourly cost per zone.",
    },
    Accepted {
        check: "CKV_AWS_173",
        reason: "The environment holds resource names, ARNs and the sender address, no secret. \
                 Lambda encrypts it at rest with an AWS-managed key; a customer-managed key \
                 would add kms:Decrypt to every role to protect names.",
    },
];

pub struct Uses<'a> {
    pub assets: &'a bootstrap::Outputs,
    pub data: &'a data::Outputs,
    pub messaging: &'a messaging::Outputs,
    /// The user pool, where the email processor finds each customer's verified address.
    pub auth: &'a auth::Outputs,
}

pub struct Outputs {
    /// Every function by name ([`eventforge_topology::Function::name`]).
    pub functions: BTreeMap<&'static str, Handle<lambda::Function>>,
    /// Every function's log group, by the function's name.
    pub log_groups: BTreeMap<&'static str, Handle<logs::LogGroup>>,
}

pub fn stack(app: &App, config: &Config, uses: &Uses<'_>) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "functions",
        "EventForge functions: saga steps, processors, outbox publisher",
    );
    let email = EmailSender {
        address: stack.parameter(
            "EmailFromAddress",
            Parameter::string("Address order emails are sent from")
                .with_default("orders@example.com"),
        ),
        identity: stack.parameter(
            "EmailIdentity",
            Parameter::string("SES identity (domain or address) verified for sending the emails")
                .with_default("example.com"),
        ),
    };
    let mut outputs = Outputs {
        functions: BTreeMap::new(),
        log_groups: BTreeMap::new(),
    };
    for spec in functions() {
        let (function, log_group) = add_function(&mut stack, config, uses, &email, spec);
        outputs.functions.insert(spec.name, function);
        outputs.log_groups.insert(spec.name, log_group);
    }
    Built { stack, outputs }
}

/// The SES identity order emails are sent as.
struct EmailSender {
    address: Param<String>,
    identity: Param<String>,
}

/// What the function's code is given and allowed, by what it does.
fn environment_and_grants(
    uses: &Uses<'_>,
    email: &EmailSender,
    spec: FunctionSpec,
) -> (BTreeMap<String, Json>, Grants) {
    let mut grants = Grants::new();
    let mut environment = BTreeMap::new();
    let table = &uses.data.table;
    environment.insert("TABLE_NAME".to_owned(), table.handle.reference().to_json());
    environment.insert(
        "EVENT_BUS_NAME".to_owned(),
        uses.messaging.bus.name().to_json(),
    );
    // Every function records state and events in the table (the outbox makes that one write).
    table.grant_read_write(&mut grants);
    match spec.trigger {
        Trigger::Saga => {}
        Trigger::Queue(name) => {
            if let Some(queue) = uses.messaging.queue(name) {
                queue.grant_consume(&mut grants);
            }
            match name {
                Queue::Receipt => {
                    uses.data.receipts.grant_write(&mut grants);
                    environment.insert(
                        "RECEIPTS_BUCKET".to_owned(),
                        uses.data.receipts.name().to_json(),
                    );
                }
                Queue::Email => {
                    grants.allow(
                        &["ses:SendEmail", "ses:SendRawEmail"],
                        vec![sub![
                            "arn:",
                            Pseudo::Partition.value(),
                            ":ses:",
                            Pseudo::Region.value(),
                            ":",
                            Pseudo::AccountId.value(),
                            ":identity/",
                            email.identity.value()
                        ]],
                    );
                    environment.insert("EMAIL_FROM".to_owned(), email.address.value().to_json());
                    // The customer's address: looked up by the order's user (the token's `sub`).
                    grants.allow(&["cognito-idp:ListUsers"], vec![uses.auth.user_pool.arn()]);
                    environment.insert(
                        "USER_POOL_ID".to_owned(),
                        uses.auth.user_pool.reference().to_json(),
                    );
                }
                // Webhooks go to the customers' own HTTPS endpoints: no AWS service beyond
                // the table.
                Queue::Webhook => {}
            }
        }
        Trigger::TableStream => {
            table.grant_stream_read(&mut grants);
            uses.messaging.bus.grant_put_events(&mut grants);
        }
    }
    grants.allow_unscoped(Unscoped::XRayTracing);
    (environment, grants)
}

fn add_function(
    stack: &mut Stack,
    config: &Config,
    uses: &Uses<'_>,
    email: &EmailSender,
    spec: FunctionSpec,
) -> (Handle<lambda::Function>, Handle<logs::LogGroup>) {
    let id = typed_cloudformation::naming::upper_camel(spec.name);
    let function_name = format!("{}-{}", config.prefix(), spec.name);
    let code_key = stack.asset_parameter(
        &format!("{id}CodeKey"),
        &format!("S3 key of the {} zip in the asset bucket", spec.name),
        AssetKind::LambdaZip {
            function: spec.name.to_owned(),
        },
    );
    let log_group = stack.add_with(
        &format!("{id}LogGroup"),
        logs::LogGroup::new()
            .log_group_name(format!("/aws/lambda/{function_name}"))
            .retention_in_days(config.log_retention_days),
        ResourceOptions::delete().accept(&[LOGS_ENCRYPTED_BY_CLOUDWATCH]),
    );
    let (environment, mut grants) = environment_and_grants(uses, email, spec);
    grant_log_writes(&log_group, &mut grants);
    let role: Handle<iam::Role> = add_role(
        stack,
        &format!("{id}Role"),
        "lambda.amazonaws.com",
        spec.description,
        &grants,
    );
    let function = stack.add_with(
        &format!("{id}Function"),
        lambda::Function::new(
            lambda::function::Code::new()
                .s3_bucket(uses.assets.asset_bucket.name())
                .s3_key(code_key.value()),
            role.arn(),
        )
        .function_name(function_name)
        .description(spec.description)
        .runtime("provided.al2023")
        .handler("bootstrap")
        .architectures(vec![Value::from(config.architecture.lambda_name())])
        .memory_size(config.function_memory_mib)
        .timeout(spec.timeout_seconds)
        .tracing_config(lambda::function::TracingConfig::new().mode("Active"))
        .logging_config(
            lambda::function::LoggingConfig::new()
                .log_format("JSON")
                .log_group(log_group.reference()),
        )
        .environment(lambda::function::Environment::new().variables(environment)),
        ResourceOptions::default().accept(&FUNCTION_FINDINGS),
    );
    match spec.trigger {
        Trigger::Saga => {}
        Trigger::Queue(name) => {
            if let Some(queue) = uses.messaging.queue(name) {
                let settings = name.settings();
                stack.add_with(
                    &format!("{id}Source"),
                    lambda::EventSourceMapping::new(function.reference())
                        .event_source_arn(queue.queue.arn())
                        .batch_size(settings.batch_size)
                        .scaling_config(
                            lambda::event_source_mapping::ScalingConfig::new()
                                .maximum_concurrency(PROCESSOR_MAX_CONCURRENCY),
                        )
                        .function_response_types(vec![Value::from("ReportBatchItemFailures")]),
                    // The role must allow polling before the mapping is validated.
                    ResourceOptions::default().depends_on(&role),
                );
            }
        }
        Trigger::TableStream => {
            stack.add_with(
                &format!("{id}Source"),
                lambda::EventSourceMapping::new(function.reference())
                    .event_source_arn(uses.data.table.handle.stream_arn())
                    .starting_position("TRIM_HORIZON")
                    .batch_size(100)
                    .maximum_batching_window_in_seconds(1)
                    .bisect_batch_on_function_error(true)
                    .maximum_retry_attempts(10)
                    .function_response_types(vec![Value::from("ReportBatchItemFailures")]),
                ResourceOptions::default().depends_on(&role),
            );
        }
    }
    (function, log_group)
}
