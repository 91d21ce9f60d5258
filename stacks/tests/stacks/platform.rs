//! The platform's stacks, checked against the design: what each stack must contain.

use eventforge_core::table_schema::{GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY};
use eventforge_stacks::platform::{self, Architecture, Config, Stage};
use eventforge_topology::{functions, queues};
use serde_json::{Value as Json, json};
use typed_cloudformation::manifest::Format;
use typed_cloudformation::naming::upper_camel;
use typed_cloudformation::stack::AssetKind;
use typed_cloudformation::synth::Assembly;

fn dev() -> Assembly {
    platform::synth(&Config::for_stage(Stage::Dev)).unwrap()
}

fn template<'a>(assembly: &'a Assembly, short: &str) -> &'a Json {
    let name = format!("eventforge-dev-{short}");
    &assembly
        .stacks
        .iter()
        .find(|s| s.name == name)
        .unwrap()
        .template
}

fn resources_of_type<'a>(template: &'a Json, kind: &str) -> Vec<(&'a String, &'a Json)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .collect()
}

#[test]
fn the_table_follows_the_core_key_schema_with_pitr_stream_and_retention() {
    let assembly = dev();
    let table = &template(&assembly, "data")["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(properties["KeySchema"][0]["AttributeName"], PARTITION_KEY);
    assert_eq!(properties["KeySchema"][1]["AttributeName"], SORT_KEY);
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        properties["StreamSpecification"]["StreamViewType"],
        "NEW_IMAGE"
    );
    let indexes = properties["GlobalSecondaryIndexes"].as_array().unwrap();
    assert_eq!(indexes.len(), GLOBAL_INDEXES.len());
    for (index, expected) in indexes.iter().zip(GLOBAL_INDEXES) {
        assert_eq!(index["IndexName"], expected.name);
        assert_eq!(
            index["KeySchema"][0]["AttributeName"],
            expected.partition_key
        );
        assert_eq!(index["KeySchema"][1]["AttributeName"], expected.sort_key);
    }
    for attribute in properties["AttributeDefinitions"].as_array().unwrap() {
        assert_eq!(attribute["AttributeType"], "S");
    }
}

#[test]
fn every_function_is_an_arm64_custom_runtime_with_tracing_its_own_log_group_and_the_table_and_bus()
{
    let assembly = dev();
    let template = template(&assembly, "functions");
    let functions_found = resources_of_type(template, "AWS::Lambda::Function");
    assert_eq!(functions_found.len(), functions().len());
    for (id, function) in functions_found {
        let p = &function["Properties"];
        assert_eq!(p["Architectures"], json!(["arm64"]), "{id}");
        assert_eq!(p["Runtime"], "provided.al2023", "{id}");
        assert_eq!(p["Handler"], "bootstrap", "{id}");
        assert_eq!(p["TracingConfig"]["Mode"], "Active", "{id}");
        let log_group = p["LoggingConfig"]["LogGroup"]["Ref"].as_str().unwrap();
        assert!(
            template["Resources"][log_group]["Properties"]["RetentionInDays"].is_number(),
            "{id}"
        );
        let variables = &p["Environment"]["Variables"];
        assert!(
            variables["TABLE_NAME"].is_object() && variables["EVENT_BUS_NAME"].is_object(),
            "{id}"
        );
        assert!(
            p["Code"]["S3Key"]["Ref"]
                .as_str()
                .unwrap()
                .ends_with("CodeKey"),
            "{id}"
        );
    }
}

#[test]
fn processors_report_partial_batch_failures_and_the_outbox_reads_the_table_stream() {
    let assembly = dev();
    let mappings = resources_of_type(
        template(&assembly, "functions"),
        "AWS::Lambda::EventSourceMapping",
    );
    assert_eq!(mappings.len(), 4);
    for (id, mapping) in &mappings {
        assert_eq!(
            mapping["Properties"]["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"]),
            "{id}"
        );
    }
    let outbox = mappings
        .iter()
        .find(|(id, _)| *id == "OutboxPublisherSource")
        .unwrap()
        .1;
    assert_eq!(
        outbox["Properties"]["EventSourceArn"],
        json!({ "Fn::ImportValue": "eventforge-dev-data:Table-StreamArn" })
    );
}

#[test]
fn every_work_queue_is_encrypted_and_dead_letters_after_its_max_receive_count() {
    let assembly = dev();
    let template = template(&assembly, "messaging");
    for settings in queues() {
        let id = format!("{}Queue", upper_camel(settings.name));
        let p = &template["Resources"][&id]["Properties"];
        assert_eq!(p["SqsManagedSseEnabled"], true, "{id}");
        assert_eq!(
            p["RedrivePolicy"]["maxReceiveCount"], settings.max_receive_count,
            "{id}"
        );
        assert_eq!(
            p["VisibilityTimeout"], settings.visibility_timeout_seconds,
            "{id}"
        );
        let dlq = p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        assert_eq!(
            template["Resources"][dlq]["Properties"]["SqsManagedSseEnabled"],
            true
        );
    }
    assert_eq!(
        resources_of_type(template, "AWS::SQS::QueuePolicy").len(),
        3
    );
}

#[test]
fn the_api_container_gets_exactly_its_configuration_and_the_ingest_secret() {
    let assembly = dev();
    let template = template(&assembly, "api");
    let container =
        &template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    let mut names: Vec<&str> = container["Environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair["Name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "EVENTFORGE_CLIENT_ID",
            "EVENTFORGE_CORS_ORIGINS",
            "EVENTFORGE_EVENT_BUS",
            "EVENTFORGE_ISSUER",
            "EVENTFORGE_JWKS_URL",
            "EVENTFORGE_LOG_FORMAT",
            "EVENTFORGE_RECEIPTS_BUCKET",
            "EVENTFORGE_STORE",
            "EVENTFORGE_TABLE",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "PORT"
        ]
    );
    assert_eq!(container["Secrets"][0]["Name"], "EVENTFORGE_INGEST_SECRET");
    // The secret lives in the auth stack, which outlives `teardown-ecs`.
    let secret = container["Secrets"][0]["ValueFrom"].to_string();
    assert!(secret.contains("Fn::ImportValue"), "{secret}");
    assert!(secret.contains("IngestSecret"), "{secret}");
    assert!(resources_of_type(template, "AWS::SecretsManager::Secret").is_empty());
    assert_eq!(
        container["HealthCheck"]["Command"],
        json!(["CMD", "/eventforge-api", "health"]),
        "a FROM-scratch image checks itself"
    );
    let task = &template["Resources"]["TaskDefinition"]["Properties"];
    assert_eq!(task["RuntimePlatform"]["CpuArchitecture"], "ARM64");
    assert_eq!(
        template["Resources"]["TargetGroup"]["Properties"]["HealthCheckPath"],
        "/health"
    );
    assert_eq!(
        resources_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").len(),
        1
    );
}

#[test]
fn the_dashboard_bucket_is_private_and_only_the_distribution_may_read_it() {
    let assembly = dev();
    let template = template(&assembly, "frontend");
    let block =
        &template["Resources"]["SiteBucket"]["Properties"]["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let statement =
        &template["Resources"]["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Principal"],
        json!({ "Service": "cloudfront.amazonaws.com" })
    );
    assert!(
        statement["Condition"]["StringEquals"]["AWS:SourceArn"]
            .to_string()
            .contains("SiteDistribution.Id")
    );
    let errors = &template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]["CustomErrorResponses"];
    for response in errors.as_array().unwrap() {
        assert_eq!(response["ResponsePagePath"], "/index.html");
    }
}

#[test]
fn every_dead_letter_queue_the_api_the_saga_and_webhooks_have_an_alarm_that_notifies_the_topic() {
    let assembly = dev();
    let observability = template(&assembly, "observability");
    let alarms = resources_of_type(observability, "AWS::CloudWatch::Alarm");
    // One per DLQ, failed sagas, failed webhook deliveries.
    assert_eq!(alarms.len(), queues().len() + 2);
    let metrics: Vec<&str> = alarms
        .iter()
        .map(|(_, a)| a["Properties"]["MetricName"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics
            .iter()
            .filter(|m| **m == "ApproximateNumberOfMessagesVisible")
            .count(),
        3
    );
    assert!(metrics.contains(&"ExecutionsFailed"));
    for (id, alarm) in alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            json!([{ "Ref": "AlarmTopic" }]),
            "{id}"
        );
    }
    // The API's alarms go with the load balancer they watch, and notify the same topic.
    let api = template(&assembly, "api");
    let api_alarms = resources_of_type(api, "AWS::CloudWatch::Alarm");
    let api_metrics: Vec<&str> = api_alarms
        .iter()
        .map(|(_, a)| a["Properties"]["MetricName"].as_str().unwrap())
        .collect();
    assert_eq!(
        api_metrics,
        ["HTTPCode_Target_5XX_Count", "TargetResponseTime"]
    );
    let latency = api_alarms
        .iter()
        .find(|(_, a)| a["Properties"]["MetricName"] == "TargetResponseTime")
        .expect("a latency alarm");
    assert_eq!(latency.1["Properties"]["ExtendedStatistic"], "p99");
    for (id, alarm) in api_alarms {
        let actions = alarm["Properties"]["AlarmActions"].to_string();
        assert!(
            actions.contains("Fn::ImportValue") && actions.contains("AlarmTopic"),
            "{id}: {actions}"
        );
    }
}

#[test]
fn teardown_of_the_api_stack_leaves_every_other_stack_whole() {
    // `teardown-ecs` deletes the api stack and whatever depends on it: nothing may.
    for stage in [Stage::Dev, Stage::Prod] {
        let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
        let api = format!("eventforge-{}-api", stage.name());
        let dependants: Vec<&str> = assembly
            .stacks
            .iter()
            .filter(|stack| stack.dependencies.contains(&api))
            .map(|stack| stack.name.as_str())
            .collect();
        assert!(dependants.is_empty(), "{dependants:?} depend on {api}");
    }
}

/// Every ingress rule of every stage's templates: inline in security groups, and standalone.
fn ingress_rules(assembly: &Assembly) -> Vec<(String, Json)> {
    let mut rules = Vec::new();
    for stack in &assembly.stacks {
        for (id, group) in resources_of_type(&stack.template, "AWS::EC2::SecurityGroup") {
            for rule in group["Properties"]["SecurityGroupIngress"]
                .as_array()
                .into_iter()
                .flatten()
            {
                rules.push((format!("{} {id}", stack.name), rule.clone()));
            }
        }
        for (id, rule) in resources_of_type(&stack.template, "AWS::EC2::SecurityGroupIngress") {
            rules.push((format!("{} {id}", stack.name), rule["Properties"].clone()));
        }
    }
    rules
}

#[test]
fn no_security_group_admits_the_internet() {
    for stage in [Stage::Dev, Stage::Prod] {
        let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
        let rules = ingress_rules(&assembly);
        assert!(
            !rules.is_empty(),
            "the load balancer and the tasks have rules"
        );
        for (place, rule) in rules {
            for open in ["0.0.0.0/0", "::/0"] {
                assert!(
                    rule["CidrIp"] != open && rule["CidrIpv6"] != open,
                    "{place} admits {open}: {rule}"
                );
            }
        }
    }
}

#[test]
fn only_cloudfront_carrying_the_origin_key_reaches_the_api() {
    let assembly = dev();
    let api = template(&assembly, "api");
    let resources = &api["Resources"];
    // The network: CloudFront's origin-facing servers only, by the prefix list the deployer
    // looks up.
    let ingress = &resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"];
    assert_eq!(ingress.as_array().unwrap().len(), 1);
    assert_eq!(
        ingress[0]["SourcePrefixListId"],
        json!({ "Ref": "CloudFrontPrefixListId" })
    );
    let manifest = assembly.manifest(Format::Json);
    let api_manifest = manifest
        .stacks
        .iter()
        .find(|s| s.name == "eventforge-dev-api")
        .unwrap();
    assert!(
        api_manifest
            .assets
            .iter()
            .any(|a| a.parameter == "CloudFrontPrefixListId"
                && a.kind
                    == AssetKind::ManagedPrefixList {
                        name: "com.amazonaws.global.cloudfront.origin-facing".into()
                    })
    );
    // The listener: 403 unless the origin key is in the header; the key as CloudFront sends it.
    let listener = &resources["HttpListener"]["Properties"];
    assert_eq!(listener["DefaultActions"][0]["Type"], "fixed-response");
    assert_eq!(
        listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"],
        "403"
    );
    let rules = resources_of_type(api, "AWS::ElasticLoadBalancingV2::ListenerRule");
    assert_eq!(rules.len(), 1, "one way in");
    let rule = &rules[0].1["Properties"];
    assert_eq!(rule["Actions"][0]["Type"], "forward");
    let condition = &rule["Conditions"][0];
    assert_eq!(condition["Field"], "http-header");
    let header = &condition["HttpHeaderConfig"];
    assert_eq!(header["HttpHeaderName"], "X-EventForge-Origin-Verify");
    let origin = &resources["ApiDistribution"]["Properties"]["DistributionConfig"]["Origins"][0];
    let sent = &origin["OriginCustomHeaders"][0];
    assert_eq!(sent["HeaderName"], header["HttpHeaderName"]);
    assert_eq!(
        sent["HeaderValue"], header["Values"][0],
        "the same key both ends"
    );
    let key = sent["HeaderValue"].to_string();
    assert!(
        key.contains("{{resolve:secretsmanager:") && key.contains("OriginVerifySecret"),
        "resolved by CloudFormation from the auth stack's secret, never written out: {key}"
    );
    // The service starts once the rule forwards to its target group.
    assert_eq!(
        resources["Service"]["DependsOn"],
        json!(["FromCloudFrontRule"])
    );
}

#[test]
fn the_manifest_lists_every_asset_with_the_parameter_it_fills() {
    let assembly = dev();
    let manifest = assembly.manifest(Format::Json);
    let assets: Vec<_> = manifest
        .stacks
        .iter()
        .flat_map(|s| s.assets.iter().map(move |a| (s, a)))
        .collect();
    // Every function's zip, the API image and CloudFront's prefix list.
    assert_eq!(assets.len(), functions().len() + 2);
    for (stack, asset) in &assets {
        let parameter = stack
            .parameters
            .iter()
            .find(|p| p.name == asset.parameter)
            .unwrap();
        assert!(parameter.from_asset);
    }
    assert!(
        assets
            .iter()
            .any(|(_, a)| a.kind == AssetKind::ContainerImage { name: "api".into() })
    );
}

#[test]
fn stacks_deploy_after_the_stacks_they_use() {
    let assembly = dev();
    let position = |short: &str| {
        assembly
            .stacks
            .iter()
            .position(|s| s.name == format!("eventforge-dev-{short}"))
            .unwrap()
    };
    for (user, used) in [
        ("functions", "bootstrap"),
        ("functions", "data"),
        ("functions", "messaging"),
        ("workflow", "functions"),
        ("auth", "frontend"),
        ("api", "network"),
        ("api", "auth"),
        ("api", "observability"),
        ("observability", "workflow"),
    ] {
        assert!(
            position(used) < position(user),
            "{user} must deploy after {used}"
        );
    }
}

#[test]
fn deploy_access_creates_nothing_until_a_repository_is_named() {
    let assembly = dev();
    let template = template(&assembly, "deploy-access");
    assert_eq!(template["Parameters"]["GitHubRepository"]["Default"], "");
    for (id, resource) in template["Resources"].as_object().unwrap() {
        assert!(
            resource["Condition"] == "HasGitHubRepository"
                || resource["Condition"] == "CreatesOidcProvider",
            "{id} exists without a repository"
        );
    }
}

#[test]
fn only_the_named_repositorys_environment_of_the_stage_may_assume_the_deploy_role() {
    let assembly = dev();
    let template = template(&assembly, "deploy-access");
    let trust = &template["Resources"]["GitHubDeployRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    assert_eq!(trust["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    // What GitHub puts in `sub` for a job with `environment: dev` (.github/workflows/deploy.yml).
    assert_eq!(
        trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
        json!({ "Fn::Sub": "repo:${GitHubRepository}:environment:dev" })
    );
    assert!(trust["Condition"].get("StringLike").is_none());
}

#[test]
fn the_deploy_role_drives_deployments_but_creates_no_resource_itself() {
    let assembly = dev();
    let template = template(&assembly, "deploy-access");
    let statements = template["Resources"]["GitHubDeployRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    // Creating the platform's resources is CloudFormation's job under the execution role.
    let allowed_services = [
        "cloudformation",
        "cloudfront",
        "ec2",
        "ecr",
        "ecs",
        "iam",
        "lambda",
        "s3",
    ];
    for statement in statements {
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            let (service, verb) = action.split_once(':').unwrap();
            assert!(allowed_services.contains(&service), "{action}");
            assert!(
                !verb.starts_with("Create")
                    || verb == "CreateChangeSet"
                    || verb == "CreateInvalidation",
                "{action}"
            );
            if service == "iam" {
                assert_eq!(verb, "PassRole");
            }
            if service == "ec2" {
                // The api stack's prefix-list parameter, looked up at every deploy.
                assert_eq!(verb, "DescribeManagedPrefixLists");
            }
        }
    }
    let execution = &template["Resources"]["CloudFormationExecutionRole"]["Properties"];
    assert_eq!(
        execution["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "cloudformation.amazonaws.com"
    );
}

#[test]
fn every_queue_with_a_dead_letter_queue_has_an_alarm_on_it_and_every_alarm_has_an_action() {
    for stage in [Stage::Dev, Stage::Prod] {
        let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
        let prefix = Config::for_stage(stage).prefix();
        let alarms: Vec<(&String, &Json)> = assembly
            .stacks
            .iter()
            .flat_map(|stack| resources_of_type(&stack.template, "AWS::CloudWatch::Alarm"))
            .collect();
        for (id, alarm) in &alarms {
            let actions = alarm["Properties"]["AlarmActions"].as_array();
            assert!(
                actions.is_some_and(|a| !a.is_empty()),
                "{id} notifies no one"
            );
        }
        let mut queues_with_dlq = 0;
        for stack in &assembly.stacks {
            for (id, queue) in resources_of_type(&stack.template, "AWS::SQS::Queue") {
                let Some(redrive) = queue["Properties"].get("RedrivePolicy") else {
                    continue;
                };
                let dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                    .as_str()
                    .unwrap();
                // The observability stack reads the DLQ through its automatic export.
                let export = format!(
                    "{prefix}-{}:{dlq}-Arn",
                    stack.name.trim_start_matches(&format!("{prefix}-"))
                );
                let watched = alarms.iter().any(|(_, alarm)| {
                    alarm["Properties"]["Dimensions"]
                        .to_string()
                        .contains(&export)
                });
                assert!(
                    watched,
                    "{}/{id}: no alarm watches its DLQ {dlq}",
                    stack.name
                );
                queues_with_dlq += 1;
            }
        }
        assert_eq!(queues_with_dlq, queues().len());
    }
}

#[test]
fn the_api_task_runs_an_opentelemetry_collector_beside_the_api_that_it_exports_to() {
    let assembly = dev();
    let template = template(&assembly, "api");
    let containers = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 2);
    let collector = &containers[1];
    let image = collector["Image"].as_str().unwrap();
    assert!(
        image.starts_with("public.ecr.aws/aws-observability/aws-otel-collector:v"),
        "a pinned ADOT collector image: {image}"
    );
    assert_eq!(
        collector["Command"],
        json!(["--config=/etc/ecs/ecs-xray.yaml"]),
        "the bundled pipeline from OTLP to X-Ray"
    );
    assert_eq!(
        collector["Essential"], false,
        "losing traces must not stop the API"
    );
    assert_eq!(collector["PortMappings"][0]["ContainerPort"], 4318);
    let api_env = containers[0]["Environment"].as_array().unwrap();
    let endpoint = api_env
        .iter()
        .find(|pair| pair["Name"] == "OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap();
    assert_eq!(endpoint["Value"], "http://127.0.0.1:4318");
}

#[test]
fn the_configured_architecture_is_what_every_function_and_the_api_task_declare() {
    for (architecture, lambda, ecs) in [
        (Architecture::Arm64, "arm64", "ARM64"),
        (Architecture::X86_64, "x86_64", "X86_64"),
    ] {
        let config = Config {
            architecture,
            ..Config::for_stage(Stage::Dev)
        };
        let assembly = platform::synth(&config).unwrap();
        let functions_template = template(&assembly, "functions");
        let declared: Vec<&Json> = resources_of_type(functions_template, "AWS::Lambda::Function")
            .into_iter()
            .map(|(_, function)| &function["Properties"]["Architectures"])
            .collect();
        assert_eq!(declared.len(), functions().len());
        assert!(
            declared.iter().all(|a| **a == json!([lambda])),
            "{declared:?}"
        );
        let api = template(&assembly, "api");
        let tasks = resources_of_type(api, "AWS::ECS::TaskDefinition");
        assert_eq!(
            tasks[0].1["Properties"]["RuntimePlatform"]["CpuArchitecture"],
            ecs
        );
    }
}

#[test]
fn failed_webhook_deliveries_in_the_processors_logs_raise_an_alarm() {
    use eventforge_stacks::platform::observability::{
        WEBHOOK_FAILED_FILTER, WEBHOOK_FAILURES_METRIC,
    };
    use eventforge_topology::alarms::WEBHOOK_FAILURES_PER_PERIOD;
    let assembly = dev();
    let observability = template(&assembly, "observability");
    let filters = resources_of_type(observability, "AWS::Logs::MetricFilter");
    assert_eq!(filters.len(), 1);
    let filter = &filters[0].1["Properties"];
    assert_eq!(filter["FilterPattern"], WEBHOOK_FAILED_FILTER);
    // The webhook processor's own log group, through the functions stack's export.
    assert!(
        filter["LogGroupName"]
            .to_string()
            .contains("WebhookProcessorLogGroup"),
        "{}",
        filter["LogGroupName"]
    );
    let transformation = &filter["MetricTransformations"][0];
    assert_eq!(transformation["MetricName"], WEBHOOK_FAILURES_METRIC);
    assert_eq!(transformation["MetricValue"], "1");
    let alarm = &observability["Resources"]["WebhookFailuresAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], WEBHOOK_FAILURES_METRIC);
    assert_eq!(alarm["Namespace"], transformation["MetricNamespace"]);
    assert_eq!(alarm["Threshold"], f64::from(WEBHOOK_FAILURES_PER_PERIOD));
}

#[test]
fn the_api_is_served_over_https_and_admits_the_dashboards_origin() {
    let assembly = dev();
    let api = template(&assembly, "api");
    let config = &api["Resources"]["ApiDistribution"]["Properties"]["DistributionConfig"];
    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(behavior["ViewerProtocolPolicy"], "https-only");
    assert_eq!(
        behavior["AllowedMethods"].as_array().unwrap().len(),
        7,
        "every method the API answers"
    );
    let origin = &config["Origins"][0];
    assert_eq!(
        origin["DomainName"],
        json!({ "Fn::GetAtt": ["LoadBalancer", "DNSName"] })
    );
    assert_eq!(
        api["Outputs"]["ApiUrl"]["Value"],
        json!({ "Fn::Sub": "https://${ApiDistribution.DomainName}" })
    );
    // The browser's Origin header is the dashboard's https address, from the frontend stack.
    let container = &api["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    let cors = container["Environment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair["Name"] == "EVENTFORGE_CORS_ORIGINS")
        .unwrap();
    let value = cors["Value"].to_string();
    assert!(value.contains("https://"), "{value}");
    assert!(value.contains("SiteDistribution"), "{value}");
}
