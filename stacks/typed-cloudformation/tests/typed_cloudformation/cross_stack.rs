//! Using a value of another stack is all it takes: the export, the import and the deploy order
//! follow.

use serde_json::json;
use typed_cloudformation::error::SynthError;
use typed_cloudformation::generated::{logs, sqs};
use typed_cloudformation::stack::{ConditionExpr, Parameter};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{Value, join};

/// `consumer` gets a queue whose dead-letter target is `producer`'s queue.
fn app_with_one_reference() -> App {
    let mut app = App::new("test");
    let mut producer = app.new_stack("producer", "produces");
    let dlq = producer.add("DeadLetters", sqs::Queue::new());
    let mut consumer = app.new_stack("consumer", "consumes");
    consumer.add(
        "Work",
        sqs::Queue::new().redrive_policy(
            sqs::queue::QueueRedrivePolicy::new()
                .dead_letter_target_arn(dlq.arn())
                .max_receive_count(3),
        ),
    );
    // Declared consumer-first on purpose: declaration order must not matter.
    app.add(consumer);
    app.add(producer);
    app
}

#[test]
fn using_another_stacks_attribute_imports_its_automatic_export() {
    let assembly = app_with_one_reference().synth().unwrap();
    let consumer = assembly
        .stacks
        .iter()
        .find(|s| s.name == "test-consumer")
        .unwrap();
    assert_eq!(
        consumer.template["Resources"]["Work"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
        json!({ "Fn::ImportValue": "test-producer:DeadLetters-Arn" })
    );
}

#[test]
fn the_producer_gains_the_output_and_export_the_import_names() {
    let assembly = app_with_one_reference().synth().unwrap();
    let producer = assembly
        .stacks
        .iter()
        .find(|s| s.name == "test-producer")
        .unwrap();
    assert_eq!(
        producer.template["Outputs"]["DeadLettersArn"],
        json!({
            "Description": "Used by test-consumer",
            "Value": { "Fn::GetAtt": ["DeadLetters", "Arn"] },
            "Export": { "Name": "test-producer:DeadLetters-Arn" },
        })
    );
    assert_eq!(producer.exports.len(), 1);
    assert_eq!(
        producer.exports[0].importers,
        vec!["test-consumer".to_owned()]
    );
}

#[test]
fn the_importer_deploys_after_the_exporter_whatever_the_declaration_order() {
    let assembly = app_with_one_reference().synth().unwrap();
    let order: Vec<_> = assembly.stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["test-producer", "test-consumer"]);
    assert_eq!(
        assembly.stacks[1].dependencies,
        vec!["test-producer".to_owned()]
    );
}

#[test]
fn a_value_used_in_its_own_stack_is_a_plain_reference_without_export() {
    let mut app = App::new("test");
    let mut stack = app.new_stack("solo", "solo");
    let dlq = stack.add("DeadLetters", sqs::Queue::new());
    stack.add(
        "Work",
        sqs::Queue::new().redrive_policy(
            sqs::queue::QueueRedrivePolicy::new().dead_letter_target_arn(dlq.arn()),
        ),
    );
    app.add(stack);
    let assembly = app.synth().unwrap();
    let template = &assembly.stacks[0].template;
    assert_eq!(
        template["Resources"]["Work"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
        json!({ "Fn::GetAtt": ["DeadLetters", "Arn"] })
    );
    assert!(template.get("Outputs").is_none());
}

#[test]
fn sub_inlines_local_references_and_keeps_imports_as_variables() {
    let mut app = App::new("test");
    let mut producer = app.new_stack("producer", "p");
    let remote = producer.add("Remote", logs::LogGroup::new());
    let mut consumer = app.new_stack("consumer", "c");
    let local = consumer.add("Local", logs::LogGroup::new());
    consumer.add(
        "Named",
        logs::LogGroup::new().log_group_name(sub![
            "/x/",
            local.reference(),
            "/",
            remote.reference(),
            "/${literal}"
        ]),
    );
    app.add(producer);
    app.add(consumer);
    let assembly = app.synth().unwrap();
    assert_eq!(
        assembly.stacks[1].template["Resources"]["Named"]["Properties"]["LogGroupName"],
        json!({ "Fn::Sub": ["/x/${Local}/${EfVar1}/${!literal}", { "EfVar1": { "Fn::ImportValue": "test-producer:Remote" } }] })
    );
}

#[test]
fn a_sub_of_literals_only_is_a_plain_string() {
    let value: Value<String> = sub!["a", "b", "${c}"];
    assert_eq!(value, Value::Literal("ab${c}".to_owned()));
}

#[test]
fn parameters_conditions_and_join_render_as_intrinsics() {
    let mut app = App::new("test");
    let mut stack = app.new_stack("solo", "solo");
    let name = stack.parameter("Name", Parameter::string("a name").with_default(""));
    let named = stack.condition(
        "Named",
        !ConditionExpr::equals(name.value(), Value::from(String::new())),
    );
    stack.add(
        "Group",
        logs::LogGroup::new().log_group_name(
            named.choose(join("-", [name.value(), "logs".into()]), "fallback".into()),
        ),
    );
    app.add(stack);
    let template = &app.synth().unwrap().stacks[0].template;
    assert_eq!(
        template["Conditions"]["Named"],
        json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "Name" }, ""] }] })
    );
    assert_eq!(
        template["Resources"]["Group"]["Properties"]["LogGroupName"],
        json!({ "Fn::If": ["Named", { "Fn::Join": ["-", [{ "Ref": "Name" }, "logs"]] }, "fallback"] })
    );
}

#[test]
fn stacks_that_use_each_other_are_a_cycle_error_naming_both() {
    let mut app = App::new("test");
    let mut a = app.new_stack("a", "a");
    let mut b = app.new_stack("b", "b");
    let in_a = a.add("InA", sqs::Queue::new());
    let in_b = b.add(
        "InB",
        sqs::Queue::new().redrive_policy(
            sqs::queue::QueueRedrivePolicy::new().dead_letter_target_arn(in_a.arn()),
        ),
    );
    a.add(
        "UsesB",
        logs::LogGroup::new().log_group_name(in_b.reference()),
    );
    app.add(a);
    app.add(b);
    match app.synth() {
        Err(SynthError::Cycle { stacks }) => assert_eq!(stacks, ["test-a", "test-b"]),
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn a_reference_to_a_stack_outside_the_app_is_an_error() {
    let mut app = App::new("test");
    let mut orphan = app.new_stack("orphan", "not added");
    let queue = orphan.add("Queue", sqs::Queue::new());
    let mut stack = app.new_stack("solo", "solo");
    stack.add("Group", logs::LogGroup::new().log_group_name(queue.arn()));
    app.add(stack);
    let error = app.synth().unwrap_err();
    assert!(
        matches!(error, SynthError::UnknownReference { .. }),
        "{error}"
    );
}

#[test]
fn a_condition_cannot_be_used_by_another_stack() {
    let mut app = App::new("test");
    let mut owner = app.new_stack("owner", "owner");
    let flag = owner.condition(
        "Flag",
        !ConditionExpr::equals(Value::from("a".to_owned()), Value::from("b".to_owned())),
    );
    let mut user = app.new_stack("user", "user");
    user.add(
        "Group",
        logs::LogGroup::new().log_group_name(flag.choose("x".into(), "y".into())),
    );
    app.add(owner);
    app.add(user);
    let error = app.synth().unwrap_err();
    assert!(
        matches!(error, SynthError::ForeignCondition { .. }),
        "{error}"
    );
}

#[test]
fn a_logical_id_declared_twice_is_an_error() {
    let mut app = App::new("test");
    let mut stack = app.new_stack("solo", "solo");
    stack.add("Same", sqs::Queue::new());
    stack.add("Same", logs::LogGroup::new());
    app.add(stack);
    assert!(matches!(
        app.synth().unwrap_err(),
        SynthError::DuplicateLogicalId { .. }
    ));
}

#[test]
fn a_sub_inside_a_sub_is_spliced_into_one() {
    let mut app = App::new("test");
    let mut stack = app.new_stack("solo", "solo");
    let group = stack.add("Group", logs::LogGroup::new());
    let inner = sub!["<", group.arn(), ">"];
    stack.add(
        "Named",
        logs::LogGroup::new().log_group_name(sub!["[", inner, "]"]),
    );
    app.add(stack);
    let template = &app.synth().unwrap().stacks[0].template;
    assert_eq!(
        template["Resources"]["Named"]["Properties"]["LogGroupName"],
        json!({ "Fn::Sub": "[<${Group.Arn}>]" })
    );
}
