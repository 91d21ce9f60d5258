//! The errors of synthesis and of writing its output.

use std::path::PathBuf;

/// Why an app could not be synthesised or written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("two stacks are named {stack}")]
    DuplicateStack { stack: String },

    #[error(
        "stack {stack} declares {logical_id} twice (resources, parameters and conditions share one namespace)"
    )]
    DuplicateLogicalId { stack: String, logical_id: String },

    #[error("stack {from_stack} refers to {to_stack}/{logical_id}, which does not exist{hint}")]
    UnknownReference {
        from_stack: String,
        to_stack: String,
        logical_id: String,
        hint: &'static str,
    },

    #[error(
        "stack {stack} uses condition {condition} of stack {condition_stack}; conditions cannot cross stacks"
    )]
    ForeignCondition {
        stack: String,
        condition_stack: String,
        condition: String,
    },

    #[error(
        "resource {stack}/{resource} depends on {depends_on}, which is not a resource of the same stack"
    )]
    UnknownDependsOn {
        stack: String,
        resource: String,
        depends_on: String,
    },

    #[error("stacks reference each other in a cycle: {}", cycle_path(.stacks))]
    Cycle { stacks: Vec<String> },

    #[error("cannot serialise the properties of {stack}/{logical_id}: {source}")]
    Properties {
        stack: String,
        logical_id: String,
        source: serde_json::Error,
    },

    #[error("property values the resource schemas do not allow:\n  {}", .problems.join("\n  "))]
    InvalidProperties { problems: Vec<String> },

    #[error("output {stack}/{output} clashes with an automatic export's output")]
    OutputClash { stack: String, output: String },

    #[error(
        "{stack}/{logical_id} accepts the scanner check {check:?}, which is not a checkov id \
         (CKV_AWS_<number>) or has no reason: fix the id and say why the resource is right as it is"
    )]
    MalformedAccepted {
        stack: String,
        logical_id: String,
        check: String,
    },

    #[error("state machine {name} is invalid: {}", .problems.join("; "))]
    InvalidStateMachine { name: String, problems: Vec<String> },

    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot render {stack} as YAML: {source}")]
    Yaml {
        stack: String,
        source: serde_yaml_ng::Error,
    },

    #[error("cannot render {stack} as JSON: {source}")]
    Json {
        stack: String,
        source: serde_json::Error,
    },
}

/// `a -> b -> a`: the cycle closed on its first stack, as a reader follows it.
fn cycle_path(stacks: &[String]) -> String {
    let mut path = stacks.to_vec();
    if let Some(first) = stacks.first() {
        path.push(first.clone());
    }
    path.join(" -> ")
}
