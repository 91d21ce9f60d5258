//! Property values are checked at synthesis against the resource schemas' constraints, and a bad
//! value is named by stack, resource, property and the line that added the resource.

use serde_json::json;
use typed_cloudformation::error::SynthError;
use typed_cloudformation::generated::{dynamodb, ec2, logs, sqs};
use typed_cloudformation::stack::{Accepted, ResourceOptions};
use typed_cloudformation::synth::App;

/// Synthesises an app of one stack built by `build`; returns the problems synthesis reports.
fn problems(
    build: impl FnOnce(&mut typed_cloudformation::stack::Stack) -> u32,
) -> (Vec<String>, u32) {
    let mut app = App::new("check");
    let mut stack = app.new_stack("only", "one stack");
    let line = build(&mut stack);
    app.add(stack);
    match app.synth() {
        Err(SynthError::InvalidProperties { problems }) => (problems, line),
        Err(other) => panic!("another error: {other}"),
        Ok(_) => (Vec::new(), line),
    }
}

#[test]
fn a_value_outside_an_enum_is_refused() {
    let (found, line) = problems(|stack| {
        stack.add("Logs", logs::LogGroup::new().log_group_class("COLD"));
        line!() - 1
    });
    assert_eq!(
        found,
        [format!(
            "check-only/Logs (AWS::Logs::LogGroup) LogGroupClass: \"COLD\" is not one of STANDARD, \
             INFREQUENT_ACCESS, DELIVERY (added at {}:{line})",
            file!()
        )]
    );
}

#[test]
fn a_value_that_does_not_match_the_pattern_is_refused() {
    let (found, _) = problems(|stack| {
        stack.add("Logs", logs::LogGroup::new().log_group_name("orders log"));
        line!()
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("LogGroupName: \"orders log\" does not match the pattern"),
        "{found:?}"
    );
}

#[test]
fn a_string_of_the_wrong_length_is_refused_at_its_place_in_a_list() {
    let (found, _) = problems(|stack| {
        stack.add(
            "Logs",
            logs::LogGroup::new().tags(vec![
                logs::log_group::Tag::new("team", "a"),
                logs::log_group::Tag::new("", "b"),
            ]),
        );
        line!()
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("Tags/1/Key: the length is 0; it must be from 1 to 128"),
        "{found:?}"
    );
}

#[test]
fn a_number_out_of_range_is_refused() {
    let (found, _) = problems(|stack| {
        stack.add("Queue", sqs::Queue::new().visibility_timeout(50_000));
        line!()
    });
    assert!(
        found.iter().any(
            |p| p.contains("VisibilityTimeout: the value is 50000; it must be from 0 to 43200")
        ),
        "{found:?}"
    );
}

#[test]
fn too_few_items_are_refused() {
    let (found, _) = problems(|stack| {
        stack.add("Table", dynamodb::Table::new(json!([])));
        line!()
    });
    assert!(
        found
            .iter()
            .any(|p| p.contains("KeySchema: the number of items is 0; it must be at least 1")),
        "{found:?}"
    );
}

#[test]
fn every_bad_value_is_reported_at_once_and_good_ones_pass() {
    let (found, _) = problems(|stack| {
        stack.add("A", sqs::Queue::new().visibility_timeout(-1));
        stack.add("B", sqs::Queue::new().visibility_timeout(30));
        stack.add("C", logs::LogGroup::new().log_group_class("COLD"));
        line!()
    });
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("check-only/A "));
    assert!(found[1].starts_with("check-only/C "));
}

#[test]
fn properties_that_go_together_or_exclude_each_other_are_refused_when_they_do_not() {
    let (found, _) = problems(|stack| {
        stack.add("Vpc", ec2::Vpc::new().ipv4_ipam_pool_id("ipam-pool-1"));
        line!()
    });
    assert!(
        found.iter().any(|p| p.contains(
            "check-only/Vpc (AWS::EC2::VPC) Ipv4IpamPoolId is set, so Ipv4NetmaskLength must be set too"
        )),
        "{found:?}"
    );
    let (found, _) = problems(|stack| {
        stack.add("Vpc", ec2::Vpc::new());
        line!()
    });
    assert!(
        found
            .iter()
            .any(|p| p.contains("exactly one of CidrBlock, Ipv4IpamPoolId must be set (none is)")),
        "{found:?}"
    );
}

const NO_VPC: Accepted = Accepted {
    check: "CKV_AWS_117",
    reason: "calls only AWS APIs",
};

#[test]
fn an_accepted_finding_renders_as_checkov_skip_metadata_with_its_reason() {
    let mut app = App::new("check");
    let mut stack = app.new_stack("only", "one stack");
    stack.add_with(
        "Logs",
        logs::LogGroup::new(),
        ResourceOptions::delete().accept(&[NO_VPC]),
    );
    stack.add("Plain", logs::LogGroup::new());
    app.add(stack);
    let template = &app.synth().unwrap().stacks[0].template;
    assert_eq!(
        template["Resources"]["Logs"]["Metadata"],
        json!({ "checkov": { "skip": [{ "id": "CKV_AWS_117", "comment": "calls only AWS APIs" }] } })
    );
    assert_eq!(template["Resources"]["Logs"]["DeletionPolicy"], "Delete");
    assert!(template["Resources"]["Plain"].get("Metadata").is_none());
}

#[test]
fn an_accepted_finding_without_a_checkov_id_or_a_reason_is_refused() {
    for accepted in [
        Accepted {
            check: "CKV_AWS117",
            reason: "typo in the id",
        },
        Accepted {
            check: "CKV_AWS_117",
            reason: "  ",
        },
        Accepted {
            check: "AWS_117",
            reason: "no prefix",
        },
    ] {
        let mut app = App::new("check");
        let mut stack = app.new_stack("only", "one stack");
        stack.add_with(
            "Logs",
            logs::LogGroup::new(),
            ResourceOptions::default().accept(&[accepted]),
        );
        app.add(stack);
        match app.synth() {
            Err(error @ SynthError::MalformedAccepted { .. }) => {
                let message = error.to_string();
                assert!(message.contains("check-only/Logs"), "{message}");
                assert!(message.contains(accepted.check), "{message}");
            }
            other => panic!("{accepted:?} was not refused: {other:?}"),
        }
    }
}
