//! Permissions come from use, name exact actions and ARNs, and `*` appears only where AWS offers
//! nothing narrower.

use eventforge_stacks::platform::components::Table;
use eventforge_stacks::platform::{self, Config, Stage};
use serde_json::{Value as Json, json};
use typed_cloudformation::iam::{Grants, Unscoped};
use typed_cloudformation::stack::Stack;

fn table() -> Table {
    let mut stack = Stack::new("test-data", "data");
    Table {
        handle: stack.add("Table", platform::data::table_properties()),
        index_names: vec!["GSI1", "GSI2"],
    }
}

#[test]
fn read_write_on_the_table_grants_item_actions_on_the_table_and_reads_on_each_index() {
    let mut grants = Grants::new();
    table().grant_read_write(&mut grants);
    let document = grants.policy_document();
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[0]["Action"],
        json!([
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:Query"
        ])
    );
    let read_resources = statements[0]["Resource"].to_string();
    assert!(read_resources.contains("/index/GSI1") && read_resources.contains("/index/GSI2"));
    assert_eq!(
        statements[1]["Action"],
        json!([
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ])
    );
    // Writes go to the table only: indexes are read-only by nature.
    assert!(!statements[1]["Resource"].to_string().contains("/index/"));
}

#[test]
fn read_only_use_grants_no_write_action() {
    let mut grants = Grants::new();
    table().grant_read(&mut grants);
    let document = grants.policy_document().to_string();
    for write in ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"] {
        assert!(!document.contains(write), "{write} granted for a read");
    }
}

#[test]
fn the_tables_streams_are_read_under_the_tables_own_arn() {
    let mut grants = Grants::new();
    table().grant_stream_read(&mut grants);
    let document = grants.policy_document();
    assert_eq!(
        document["Statement"][0]["Resource"][0],
        json!({ "Fn::Sub": ["${EfVar0}/stream/*", {
            "EfVar0": { "TypedCloudFormation::GetAtt": ["test-data", "Table", "Arn"] }
        }] })
    );
}

/// Every policy statement of every synthesised template.
fn statements(stage: Stage) -> Vec<(String, Json)> {
    let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
    let mut found = Vec::new();
    for stack in &assembly.stacks {
        let resources = stack.template["Resources"].as_object().unwrap();
        for (id, resource) in resources {
            collect(&format!("{}/{id}", stack.name), resource, &mut found);
        }
    }
    found
}

fn collect(at: &str, value: &Json, found: &mut Vec<(String, Json)>) {
    match value {
        Json::Object(map) => {
            if map.contains_key("Effect") && map.contains_key("Action") {
                found.push((at.to_owned(), value.clone()));
            }
            map.values().for_each(|inner| collect(at, inner, found));
        }
        Json::Array(items) => items.iter().for_each(|inner| collect(at, inner, found)),
        _ => {}
    }
}

fn as_strings(value: &Json) -> Vec<String> {
    match value {
        Json::String(text) => vec![text.clone()],
        Json::Array(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn no_policy_in_the_platform_allows_a_wildcard_action() {
    for stage in [Stage::Dev, Stage::Prod] {
        for (at, statement) in statements(stage) {
            for action in as_strings(&statement["Action"]) {
                assert!(!action.contains('*'), "{at} allows {action}");
            }
        }
    }
}

#[test]
fn a_star_resource_is_granted_only_for_actions_aws_cannot_scope() {
    let unscoped: Vec<&str> = [
        Unscoped::XRayTracing,
        Unscoped::EcrAuthorizationToken,
        Unscoped::LogDelivery,
        Unscoped::EcsTaskDefinitionReads,
        Unscoped::StreamListing,
        Unscoped::ManagedPrefixListLookup,
    ]
    .iter()
    .flat_map(|u| u.actions().iter().copied())
    .collect();
    for (at, statement) in statements(Stage::Prod) {
        if statement["Resource"] == json!("*") {
            for action in as_strings(&statement["Action"]) {
                assert!(
                    unscoped.contains(&action.as_str()),
                    "{at} allows {action} on *"
                );
            }
        }
    }
}

/// The inline policy statements of `role` in the dev stack named `eventforge-dev-<stack>`.
fn role_statements(stack: &str, role: &str) -> Vec<Json> {
    let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
    let name = format!("eventforge-dev-{stack}");
    let stack = assembly.stacks.iter().find(|s| s.name == name).unwrap();
    stack.template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_saga_role_may_invoke_exactly_the_functions_its_tasks_name() {
    let statements = role_statements("workflow", "SagaRole");
    let invoke = statements
        .iter()
        .find(|s| s["Action"] == json!(["lambda:InvokeFunction"]))
        .unwrap();
    let mut imported: Vec<String> = invoke["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::ImportValue"].as_str().unwrap().to_owned())
        .collect();
    imported.sort();
    let expected: Vec<String> = eventforge_topology::saga::saga_definition()
        .invoked_functions()
        .iter()
        .map(|f| {
            format!(
                "eventforge-dev-functions:{}Function-Arn",
                typed_cloudformation::naming::upper_camel(f)
            )
        })
        .collect();
    assert_eq!(imported, expected);
}

#[test]
fn the_api_task_role_reads_and_writes_the_table_publishes_to_the_bus_reads_receipts_and_traces_only()
 {
    let mut actions: Vec<String> = role_statements("api", "TaskRole")
        .iter()
        .flat_map(|s| as_strings(&s["Action"]))
        .collect();
    actions.sort();
    let services: std::collections::BTreeSet<&str> = actions
        .iter()
        .map(|a| a.split(':').next().unwrap())
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["dynamodb", "events", "s3", "xray"]
    );
    assert!(actions.contains(&"xray:PutTraceSegments".to_owned()));
    assert!(actions.contains(&"events:PutEvents".to_owned()));
    assert!(actions.contains(&"s3:GetObject".to_owned()));
    assert!(!actions.contains(&"s3:PutObject".to_owned()));
}

#[test]
fn the_email_processor_may_send_only_as_the_configured_identity() {
    let statements = role_statements("functions", "EmailProcessorRole");
    let send = statements
        .iter()
        .find(|s| s["Action"] == json!(["ses:SendEmail", "ses:SendRawEmail"]))
        .unwrap();
    assert_eq!(
        send["Resource"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailIdentity}" }])
    );
}

#[test]
fn only_the_receipt_processor_writes_receipts() {
    for role in [
        "EmailProcessorRole",
        "WebhookProcessorRole",
        "ChargePaymentRole",
    ] {
        let statements = role_statements("functions", role);
        assert!(
            !serde_json::to_string(&statements)
                .unwrap()
                .contains("s3:PutObject"),
            "{role}"
        );
    }
    let receipt = role_statements("functions", "ReceiptProcessorRole");
    assert!(
        serde_json::to_string(&receipt)
            .unwrap()
            .contains("s3:PutObject")
    );
}
