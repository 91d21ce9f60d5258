//! Api: the REST API on ECS Fargate (ARM64 unless the config says otherwise) behind an
//! Application Load Balancer and, for https, a CloudFront distribution; target tracking
//! autoscaling, a task role scoped to what the API uses, and the API's alarms and dashboard.
//!
//! Only CloudFront reaches the load balancer. Its security group admits port 80 from
//! CloudFront's origin-facing managed prefix list alone (the deployer looks the list's id up in
//! the region and passes it as a parameter), and its listener answers 403 unless the request
//! carries the origin key CloudFront adds as a custom header (kept in Secrets Manager by the auth
//! stack, resolved by CloudFormation, never in a template). The leg from CloudFront to the load
//! balancer stays HTTP: https there needs a certificate for a domain of the operator's own,
//! which this platform does not assume (see ARCHITECTURE.md, "The API's origin").

use std::collections::BTreeMap;

use eventforge_topology::StackOutput;
use eventforge_topology::alarms::{API_5XX_PER_PERIOD, API_P99_SECONDS};
use typed_cloudformation::generated::applicationautoscaling::scaling_policy as scaling;
use typed_cloudformation::generated::cloudfront::distribution as cf;
use typed_cloudformation::generated::ecs::{service as svc, task_definition as td};
use typed_cloudformation::generated::elasticloadbalancingv2::{
    listener, listener_rule, load_balancer, target_group,
};
use typed_cloudformation::generated::{
    applicationautoscaling, cloudfront, cloudwatch, ec2, ecs, elasticloadbalancingv2, logs,
};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::iam::{Grants, Unscoped, add_role};
use typed_cloudformation::stack::{Accepted, AssetKind, ResourceOptions};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{JsonText, Pseudo, Value};

use super::auth::ORIGIN_VERIFY_HEADER;
use super::components::{LOGS_ENCRYPTED_BY_CLOUDWATCH, grant_log_writes};
use super::frontend::DISTRIBUTION_WITHOUT_A_DOMAIN;
use super::observability::{AlarmSpec, Statistic, add_alarm, metric_widget};
use super::{Built, Config, auth, bootstrap, data, frontend, messaging, network, observability};

/// The port the API listens on inside its container.
pub const CONTAINER_PORT: i32 = 8080;
/// The path the load balancer probes.
pub const HEALTH_CHECK_PATH: &str = "/health";
/// Average CPU the autoscaler aims for.
const TARGET_CPU_PERCENT: f64 = 60.0;
/// The AWS Distro for OpenTelemetry collector sidecar, pinned: a new version is a deliberate
/// change of the template. Its bundled `ecs-xray.yaml` pipeline takes OTLP in and sends X-Ray
/// segments out.
pub const OTEL_COLLECTOR_IMAGE: &str =
    "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1";
const OTEL_COLLECTOR_CONFIG: &str = "--config=/etc/ecs/ecs-xray.yaml";
/// OTLP over HTTP, where the API exports its spans.
pub const OTLP_HTTP_PORT: i32 = 4318;

pub struct Uses<'a> {
    pub assets: &'a bootstrap::Outputs,
    pub network: &'a network::Outputs,
    pub data: &'a data::Outputs,
    pub messaging: &'a messaging::Outputs,
    pub auth: &'a auth::Outputs,
    /// The dashboard's distribution: its origin may call the API from the browser.
    pub frontend: &'a frontend::Outputs,
    /// The topic the API's alarms notify.
    pub alarms: &'a observability::Outputs,
}

/// The managed prefix list of CloudFront's origin-facing servers: the only sources the load
/// balancer admits.
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// AWS's managed `CachingDisabled` cache policy: API answers are never cached.
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// AWS's managed `AllViewerExceptHostHeader` origin request policy: headers, query strings and
/// cookies reach the API, the Host header being the load balancer's own.
const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

pub struct Outputs {}

fn env(name: &str, value: impl Into<Value<String>>) -> td::KeyValuePair {
    td::KeyValuePair::new().name(name).value(value)
}

pub fn stack(app: &App, config: &Config, uses: &Uses<'_>) -> Built<Outputs> {
    let mut stack = app.new_stack("api", "EventForge API: ECS Fargate service behind an ALB");
    let image_tag = stack.asset_parameter(
        "ApiImageTag",
        "Tag (content digest) of the API image in the bootstrap repository",
        AssetKind::ContainerImage {
            name: "api".to_owned(),
        },
    );
    let cloudfront_prefix_list = stack.asset_parameter(
        "CloudFrontPrefixListId",
        "Id of CloudFront's origin-facing managed prefix list in this region",
        AssetKind::ManagedPrefixList {
            name: CLOUDFRONT_ORIGIN_FACING.to_owned(),
        },
    );
    let vpc = uses.network.vpc.reference();

    let alb_group = stack.add(
        "LoadBalancerSecurityGroup",
        ec2::SecurityGroup::new("EventForge API load balancer: HTTP from CloudFront only")
            .vpc_id(vpc.clone())
            .security_group_ingress(vec![
                ec2::security_group::Ingress::new("tcp")
                    .source_prefix_list_id(cloudfront_prefix_list.value())
                    .from_port(80)
                    .to_port(80)
                    .description("HTTP from CloudFront's origin-facing servers"),
            ]),
    );
    let task_group = stack.add(
        "ServiceSecurityGroup",
        ec2::SecurityGroup::new("EventForge API tasks: traffic from the load balancer only")
            .vpc_id(vpc.clone())
            .security_group_ingress(vec![
                ec2::security_group::Ingress::new("tcp")
                    .source_security_group_id(alb_group.group_id())
                    .from_port(CONTAINER_PORT)
                    .to_port(CONTAINER_PORT)
                    .description("API from the load balancer"),
            ]),
    );
    let load_balancer = stack.add_with(
        "LoadBalancer",
        elasticloadbalancingv2::LoadBalancer::new()
            .scheme("internet-facing")
            .r#type("application")
            .subnets(uses.network.subnet_ids())
            .security_groups(vec![alb_group.group_id()])
            .load_balancer_attributes(vec![
                load_balancer::LoadBalancerAttribute::new()
                    .key("routing.http.drop_invalid_header_fields.enabled")
                    .value("true"),
            ]),
        ResourceOptions::default().accept(&[Accepted {
            check: "CKV_AWS_91",
            reason: "The API logs every request it serves (id, method, path, user, status, \
                     latency) to its log group, and CloudFront's logs (prod) record every \
                     viewer. ALB logs would be a third copy, and their bucket policy must name \
                     the region's ELB account, which differs by region.",
        }]),
    );
    let target_group = stack.add(
        "TargetGroup",
        elasticloadbalancingv2::TargetGroup::new()
            .vpc_id(vpc)
            .port(CONTAINER_PORT)
            .protocol("HTTP")
            .target_type("ip")
            .health_check_path(HEALTH_CHECK_PATH)
            .health_check_interval_seconds(15)
            .healthy_threshold_count(2)
            .matcher(target_group::Matcher::new().http_code("200"))
            .target_group_attributes(vec![
                target_group::TargetGroupAttribute::new()
                    .key("deregistration_delay.timeout_seconds")
                    .value("30"),
            ]),
    );
    // The origin key, resolved by CloudFormation from Secrets Manager when it applies the
    // template: the key's value appears in no template, parameter or output.
    let origin_key = sub![
        "{{resolve:secretsmanager:",
        uses.auth.origin_secret.reference(),
        ":SecretString}}"
    ];
    let http = stack.add_with(
        "HttpListener",
        elasticloadbalancingv2::Listener::new(
            vec![
                listener::Action::new("fixed-response").fixed_response_config(
                    listener::FixedResponseConfig::new("403")
                        .content_type("application/json")
                        .message_body(FORBIDDEN_BODY),
                ),
            ],
            load_balancer.reference(),
        )
        .port(80)
        .protocol("HTTP"),
        ResourceOptions::default().accept(&ORIGIN_OVER_HTTP),
    );
    let from_cloudfront = stack.add(
        "FromCloudFrontRule",
        elasticloadbalancingv2::ListenerRule::new(
            vec![
                listener_rule::Action::new("forward")
                    .target_group_arn(target_group.target_group_arn()),
            ],
            vec![
                listener_rule::RuleCondition::new()
                    .field("http-header")
                    .http_header_config(
                        listener_rule::HttpHeaderConfig::new()
                            .http_header_name(ORIGIN_VERIFY_HEADER)
                            .values(vec![origin_key.clone()]),
                    ),
            ],
            1,
        )
        .listener_arn(http.reference()),
    );

    let cluster = stack.add(
        "Cluster",
        ecs::Cluster::new().cluster_settings(vec![
            ecs::cluster::ClusterSettings::new()
                .name("containerInsights")
                .value("enabled"),
        ]),
    );
    let log_group = stack.add_with(
        "ApiLogGroup",
        logs::LogGroup::new()
            .log_group_name(format!("/ecs/{}-api", config.prefix()))
            .retention_in_days(config.log_retention_days),
        ResourceOptions::delete().accept(&[LOGS_ENCRYPTED_BY_CLOUDWATCH]),
    );
    let ingest_secret = &uses.auth.ingest_secret;

    // Pulling the image, writing logs and reading the secret happen before the app starts.
    let mut execution = Grants::new();
    execution.allow(
        &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ],
        vec![uses.assets.repository.arn()],
    );
    execution.allow_unscoped(Unscoped::EcrAuthorizationToken);
    grant_log_writes(&log_group, &mut execution);
    execution.allow(
        &["secretsmanager:GetSecretValue"],
        vec![ingest_secret.reference()],
    );
    let execution_role = add_role(
        &mut stack,
        "ExecutionRole",
        "ecs-tasks.amazonaws.com",
        "Starts the API tasks: image pull, logs, secret injection",
        &execution,
    );

    // What the API itself does.
    let mut task = Grants::new();
    uses.data.table.grant_read_write(&mut task);
    uses.messaging.bus.grant_put_events(&mut task);
    uses.data.receipts.grant_read(&mut task);
    // The collector beside the API sends the API's segments to X-Ray as the task.
    task.allow_unscoped(Unscoped::XRayTracing);
    let task_role = add_role(
        &mut stack,
        "TaskRole",
        "ecs-tasks.amazonaws.com",
        "The API's own permissions",
        &task,
    );

    let mut log_options = BTreeMap::new();
    log_options.insert("awslogs-group".to_owned(), log_group.reference());
    log_options.insert("awslogs-region".to_owned(), Pseudo::Region.value());
    log_options.insert("awslogs-stream-prefix".to_owned(), Value::from("api"));
    let container = td::ContainerDefinition::new(
        sub![
            uses.assets.repository.repository_uri(),
            ":",
            image_tag.value()
        ],
        "api",
    )
    .essential(true)
    .port_mappings(vec![
        td::PortMapping::new()
            .container_port(CONTAINER_PORT)
            .protocol("tcp"),
    ])
    .environment(vec![
        env("EVENTFORGE_STORE", "dynamodb"),
        env("EVENTFORGE_TABLE", uses.data.table.handle.reference()),
        env("EVENTFORGE_EVENT_BUS", uses.messaging.bus.name()),
        env("EVENTFORGE_JWKS_URL", uses.auth.jwks_url()),
        env("EVENTFORGE_ISSUER", uses.auth.issuer()),
        env("EVENTFORGE_CLIENT_ID", uses.auth.client.reference()),
        env("EVENTFORGE_RECEIPTS_BUCKET", uses.data.receipts.name()),
        env("PORT", CONTAINER_PORT.to_string()),
        env("EVENTFORGE_LOG_FORMAT", "json"),
        env(
            "EVENTFORGE_CORS_ORIGINS",
            sub!["https://", uses.frontend.distribution.domain_name()],
        ),
        env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{OTLP_HTTP_PORT}"),
        ),
    ])
    .secrets(vec![td::Secret::new(
        "EVENTFORGE_INGEST_SECRET",
        ingest_secret.reference(),
    )])
    .readonly_root_filesystem(true)
    // The image is `FROM scratch`: no shell or curl to check with, so the binary asks itself
    // (`eventforge-api health`, tested on the real image in services/deployer/tests/api_image.rs).
    .health_check(
        td::HealthCheck::new()
            .command(
                ["CMD", "/eventforge-api", "health"]
                    .map(Value::from)
                    .to_vec(),
            )
            .interval(15)
            .retries(3)
            .start_period(10),
    )
    .log_configuration(td::LogConfiguration::new("awslogs").options(log_options.clone()));
    // A task's containers share one network namespace (awsvpc), so the API reaches the
    // collector on 127.0.0.1. Not essential: losing traces must not stop the API.
    log_options.insert("awslogs-stream-prefix".to_owned(), Value::from("otel"));
    let otel_collector = td::ContainerDefinition::new(OTEL_COLLECTOR_IMAGE, "otel-collector")
        .essential(false)
        .command(vec![Value::from(OTEL_COLLECTOR_CONFIG)])
        .cpu(64)
        .memory_reservation(128)
        .port_mappings(vec![
            td::PortMapping::new()
                .container_port(OTLP_HTTP_PORT)
                .protocol("tcp"),
        ])
        .log_configuration(td::LogConfiguration::new("awslogs").options(log_options));
    let task_definition = stack.add(
        "TaskDefinition",
        ecs::TaskDefinition::new()
            .family(task_family(config))
            .cpu(config.api_cpu.to_string())
            .memory(config.api_memory_mib.to_string())
            .network_mode("awsvpc")
            .requires_compatibilities(vec![Value::from("FARGATE")])
            .runtime_platform(
                td::RuntimePlatform::new()
                    .cpu_architecture(config.architecture.ecs_name())
                    .operating_system_family("LINUX"),
            )
            .execution_role_arn(execution_role.arn())
            .task_role_arn(task_role.arn())
            .container_definitions(vec![container, otel_collector]),
    );
    let service = stack.add_with(
        "Service",
        ecs::Service::new()
            .cluster(cluster.reference())
            .task_definition(task_definition.reference())
            .launch_type("FARGATE")
            .desired_count(config.api_desired_count)
            .health_check_grace_period_seconds(30)
            .deployment_configuration(
                svc::DeploymentConfiguration::new()
                    .minimum_healthy_percent(100)
                    .maximum_percent(200)
                    .deployment_circuit_breaker(svc::DeploymentCircuitBreaker::new(true, true)),
            )
            .network_configuration(
                svc::NetworkConfiguration::new().awsvpc_configuration(
                    svc::AwsVpcConfiguration::new()
                        .assign_public_ip("ENABLED")
                        .subnets(uses.network.subnet_ids())
                        .security_groups(vec![task_group.group_id()]),
                ),
            )
            .load_balancers(vec![
                svc::LoadBalancer::new()
                    .container_name("api")
                    .container_port(CONTAINER_PORT)
                    .target_group_arn(target_group.target_group_arn()),
            ]),
        // A target group can only receive tasks once a listener rule forwards to it.
        ResourceOptions::default().depends_on(&from_cloudfront),
    );
    let scalable = stack.add(
        "ScalableTarget",
        applicationautoscaling::ScalableTarget::new(
            config.api_max_count,
            config.api_desired_count,
            sub!["service/", cluster.reference(), "/", service.name()],
            "ecs:service:DesiredCount",
            "ecs",
        ),
    );
    stack.add(
        "CpuScaling",
        applicationautoscaling::ScalingPolicy::new("cpu-target-tracking", "TargetTrackingScaling")
            .scaling_target_id(scalable.reference())
            .target_tracking_scaling_policy_configuration(
                scaling::TargetTrackingScalingPolicyConfiguration::new(TARGET_CPU_PERCENT)
                    .predefined_metric_specification(scaling::PredefinedMetricSpecification::new(
                        "ECSServiceAverageCPUUtilization",
                    ))
                    .scale_in_cooldown(120)
                    .scale_out_cooldown(60),
            ),
    );
    // The dashboard is served over https, so its browser may only call an https API: CloudFront
    // gives the load balancer an https address without a domain or certificate of our own.
    let (api_distribution, no_logs) = uses.assets.access_logs.distribution(
        cf::DistributionConfig::new(
            cf::DefaultCacheBehavior::new("api", "https-only")
                .cache_policy_id(CACHING_DISABLED)
                .origin_request_policy_id(ALL_VIEWER_EXCEPT_HOST_HEADER)
                .allowed_methods(
                    ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
                        .map(Value::from)
                        .to_vec(),
                )
                .compress(true),
            true,
        )
        .comment("EventForge API")
        .http_version("http2and3")
        .price_class("PriceClass_100")
        .origins(vec![
            cf::Origin::new(load_balancer.dns_name(), "api")
                .custom_origin_config(cf::CustomOriginConfig::new("http-only").http_port(80))
                .origin_custom_headers(vec![cf::OriginCustomHeader::new(
                    ORIGIN_VERIFY_HEADER,
                    origin_key,
                )]),
        ])
        .viewer_certificate(cf::ViewerCertificate::new().cloud_front_default_certificate(true)),
        "api",
    );
    let distribution = stack.add_with(
        "ApiDistribution",
        cloudfront::Distribution::new(api_distribution),
        ResourceOptions::default()
            .accept(&no_logs)
            .accept(&DISTRIBUTION_WITHOUT_A_DOMAIN),
    );
    stack.output(
        StackOutput::ApiUrl.name(),
        "The API's public endpoint (CloudFront in front of the load balancer)",
        sub!["https://", distribution.domain_name()],
    );
    add_api_watch(&mut stack, config, uses, &load_balancer);
    Built {
        stack,
        outputs: Outputs {},
    }
}

/// The API task definition's family: each hot-swapped image registers a new revision of it.
pub fn task_family(config: &Config) -> String {
    format!("{}-api", config.prefix())
}

/// Between CloudFront and the load balancer the API is plain HTTP, on purpose.
const ORIGIN_OVER_HTTP: [Accepted; 2] = [
    Accepted {
        check: "CKV_AWS_2",
        reason: "Viewers reach the API over HTTPS only, at CloudFront. An HTTPS listener needs an \
                 ACM certificate for a domain of our own, which the platform does not have; the \
                 listener admits CloudFront's origin-facing addresses only and answers 403 unless \
                 the request carries the origin key CloudFront adds.",
    },
    Accepted {
        check: "CKV_AWS_103",
        reason: "The listener is HTTP (see CKV_AWS_2): there is no TLS policy to set until the \
                 platform has a domain and certificate of its own.",
    },
];

/// The load balancer's answer to a request that did not come through CloudFront.
const FORBIDDEN_BODY: &str = r#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"use the API's CloudFront address"}"#;

/// The API's alarms (5xx answers, p99 latency) and its dashboard: here rather than in the
/// observability stack, so they go with the load balancer they watch.
fn add_api_watch(
    stack: &mut typed_cloudformation::stack::Stack,
    config: &Config,
    uses: &Uses<'_>,
    load_balancer: &Handle<elasticloadbalancingv2::LoadBalancer>,
) {
    let topic = &uses.alarms.topic;
    let full_name = load_balancer.load_balancer_full_name();
    add_alarm(
        stack,
        topic,
        AlarmSpec {
            id: "Api5xxAlarm".to_owned(),
            description: "The API answered with 5xx responses".to_owned(),
            namespace: "AWS/ApplicationELB".to_owned(),
            metric: "HTTPCode_Target_5XX_Count",
            statistic: Statistic::Simple("Sum"),
            dimension: Some(("LoadBalancer", full_name.clone())),
            threshold: f64::from(API_5XX_PER_PERIOD),
            periods: 1,
        },
    );
    add_alarm(
        stack,
        topic,
        AlarmSpec {
            id: "ApiLatencyAlarm".to_owned(),
            description: format!(
                "The API's p99 response time stayed above {API_P99_SECONDS} s for 15 minutes"
            ),
            namespace: "AWS/ApplicationELB".to_owned(),
            metric: "TargetResponseTime",
            statistic: Statistic::Percentile("p99"),
            dimension: Some(("LoadBalancer", full_name.clone())),
            threshold: API_P99_SECONDS,
            // One slow period is a blip; three in a row is a trend worth a page.
            periods: 3,
        },
    );
    let mut body = JsonText::new();
    let region = body.value(Pseudo::Region.value());
    let alb = body.value(full_name);
    let dashboard = serde_json::json!({
        "widgets": [
            metric_widget(0, &region, "API responses", serde_json::json!([
                ["AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
            ]), "Sum"),
            metric_widget(1, &region, "API p99 response time (s)", serde_json::json!([
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb],
            ]), "p99"),
        ],
    });
    stack.add(
        "ApiDashboard",
        cloudwatch::Dashboard::new(body.render(&dashboard))
            .dashboard_name(format!("{}-api", config.prefix())),
    );
}
