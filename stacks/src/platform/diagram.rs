//! The platform as pictures, from the same typed model the templates come from: the stacks and
//! their cross-stack references, the event flow (producers, bus rules, queues and their
//! dead-letter queues, consumers) and the saga's states. `cargo xtask graph` draws them (Mermaid
//! and SVG); a picture in the docs cannot go stale because a test redraws it.

use std::collections::BTreeMap;

use eventforge_topology::saga::{SAGA_NAME, saga_definition};
use eventforge_topology::{RuleTarget, Trigger, functions, queues, rules};
use typed_cloudformation::asl::{Definition, State};
use typed_cloudformation::synth::Assembly;

/// Boxes and arrows, in groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    /// The file stem: `stacks`, `event-flow`, `saga`.
    pub name: &'static str,
    pub title: &'static str,
    /// Laid out left to right (else top to bottom).
    pub left_to_right: bool,
    pub groups: Vec<Group>,
    pub edges: Vec<Edge>,
}

/// Nodes drawn together; an empty label is no group at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Letters, digits and `_` only, unique in the diagram.
    pub id: String,
    pub label: String,
    pub shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Box,
    /// A service or process (rounded).
    Service,
    /// A queue or a bus.
    Queue,
    Decision,
    /// A final state.
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    /// What happens only on failure (a dead-letter queue, a caught error).
    pub on_failure: bool,
}

impl Diagram {
    /// Every node, whatever its group.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.groups.iter().flat_map(|group| group.nodes.iter())
    }
}

/// A node id from any name: `order-saga` -> `order_saga`.
fn id(prefix: &str, name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{cleaned}")
}

fn node(prefix: &str, name: &str, label: impl Into<String>, shape: Shape) -> Node {
    Node {
        id: id(prefix, name),
        label: label.into(),
        shape,
    }
}

fn edge(from: String, to: String, label: impl Into<String>) -> Edge {
    Edge {
        from,
        to,
        label: label.into(),
        on_failure: false,
    }
}

/// Every diagram of the platform.
pub fn all(assembly: &Assembly) -> Vec<Diagram> {
    vec![stacks(assembly), event_flow(), saga(&saga_definition())]
}

/// The stacks in deploy order, an arrow from each stack to those that import its values.
pub fn stacks(assembly: &Assembly) -> Diagram {
    let nodes = assembly
        .stacks
        .iter()
        .map(|stack| {
            node(
                "stack",
                &stack.name,
                format!("{} ({} resources)", stack.name, stack.resource_count),
                Shape::Box,
            )
        })
        .collect();
    // How many values each (producer, importer) pair shares.
    let mut shared: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for stack in &assembly.stacks {
        for export in &stack.exports {
            for importer in &export.importers {
                *shared.entry((&stack.name, importer)).or_default() += 1;
            }
        }
    }
    let edges = shared
        .into_iter()
        .map(|((producer, importer), count)| {
            let values = if count == 1 { "value" } else { "values" };
            edge(
                id("stack", producer),
                id("stack", importer),
                format!("{count} {values}"),
            )
        })
        .collect();
    Diagram {
        name: "stacks",
        title: "Stacks and cross-stack references",
        left_to_right: true,
        groups: vec![Group {
            label: String::new(),
            nodes,
        }],
        edges,
    }
}

/// From a state change to its effects: the table's outbox, the bus, each rule, the queues and
/// their dead-letter queues, the processors, and the saga the bus starts.
pub fn event_flow() -> Diagram {
    let all_functions = functions();
    let mut sources = vec![
        node("src", "api", "API (ECS Fargate)", Shape::Service),
        node("src", "table", "Orders table: state + outbox", Shape::Queue),
    ];
    let mut edges = vec![edge(
        id("src", "api"),
        id("src", "table"),
        "one transaction",
    )];
    let mut bus_nodes = vec![node("bus", "bus", "EventBridge bus", Shape::Queue)];
    let mut queue_nodes = Vec::new();
    let mut function_nodes = Vec::new();
    for function in &all_functions {
        match function.trigger {
            Trigger::TableStream => {
                sources.push(node("fn", function.name, function.name, Shape::Service));
                edges.push(edge(id("src", "table"), id("fn", function.name), "stream"));
                edges.push(edge(id("fn", function.name), id("bus", "bus"), "PutEvents"));
            }
            Trigger::Queue(queue) => {
                function_nodes.push(node("fn", function.name, function.name, Shape::Service));
                edges.push(edge(
                    id("queue", queue.name()),
                    id("fn", function.name),
                    "batch",
                ));
            }
            Trigger::Saga => {}
        }
    }
    for queue in queues() {
        let dlq = queue.dead_letter_queue();
        queue_nodes.push(node(
            "queue",
            queue.name,
            format!("{} queue", queue.name),
            Shape::Queue,
        ));
        queue_nodes.push(node("queue", &dlq, dlq.clone(), Shape::Queue));
        edges.push(Edge {
            from: id("queue", queue.name),
            to: id("queue", &dlq),
            label: format!("after {} receives", queue.max_receive_count),
            on_failure: true,
        });
    }
    for rule in rules() {
        let types = if rule.event_types.is_empty() {
            format!("any {}", rule.source)
        } else {
            rule.event_types.join(", ")
        };
        bus_nodes.push(node(
            "rule",
            rule.name,
            format!("rule {}: {types}", rule.name),
            Shape::Decision,
        ));
        edges.push(edge(id("bus", "bus"), id("rule", rule.name), ""));
        for target in &rule.targets {
            let to = match target {
                RuleTarget::Queue(queue) => id("queue", queue.name()),
                RuleTarget::StateMachine(machine) => id("saga", machine),
            };
            edges.push(edge(id("rule", rule.name), to, ""));
        }
    }
    let saga_steps = all_functions
        .iter()
        .filter(|function| function.trigger == Trigger::Saga)
        .count();
    let saga = vec![node(
        "saga",
        SAGA_NAME,
        format!("{} (Step Functions, {saga_steps} Lambda steps)", SAGA_NAME),
        Shape::Service,
    )];
    edges.push(edge(
        id("saga", SAGA_NAME),
        id("src", "table"),
        "each step's state change",
    ));
    Diagram {
        name: "event-flow",
        title: "Event flow",
        left_to_right: true,
        groups: vec![
            Group {
                label: "Producers".to_owned(),
                nodes: sources,
            },
            Group {
                label: "Bus and rules".to_owned(),
                nodes: bus_nodes,
            },
            Group {
                label: "Saga".to_owned(),
                nodes: saga,
            },
            Group {
                label: "Queues".to_owned(),
                nodes: queue_nodes,
            },
            Group {
                label: "Processors".to_owned(),
                nodes: function_nodes,
            },
        ],
        edges,
    }
}

/// The saga's states and every way between them, caught errors on failure arrows.
pub fn saga(definition: &Definition) -> Diagram {
    let nodes = definition
        .states
        .iter()
        .map(|(name, state)| {
            let (label, shape) = match state {
                State::Task(task) => (format!("{name}: {}", task.function), Shape::Box),
                State::Choice(_) => (name.clone(), Shape::Decision),
                State::Succeed(_) => (format!("{name} (succeeded)"), Shape::End),
                State::Fail(fail) => (format!("{name} (failed: {})", fail.error), Shape::End),
                State::Pass(_) | State::Wait(_) => (name.clone(), Shape::Service),
            };
            node("state", name, label, shape)
        })
        .collect();
    let mut edges = Vec::new();
    for (name, state) in &definition.states {
        let caught: Vec<&str> = match state {
            State::Task(task) => task.catch.iter().map(|c| c.next.as_str()).collect(),
            _ => Vec::new(),
        };
        for (next, label) in state.transitions() {
            edges.push(Edge {
                from: id("state", name),
                to: id("state", next),
                on_failure: caught.contains(&next) && !label.is_empty(),
                label,
            });
        }
    }
    Diagram {
        name: "saga",
        title: "The order saga",
        left_to_right: false,
        groups: vec![Group {
            label: String::new(),
            nodes,
        }],
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Config, Stage};

    fn assert_closed(diagram: &Diagram) {
        let ids: Vec<&str> = diagram.nodes().map(|n| n.id.as_str()).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{}: duplicate node ids",
            diagram.name
        );
        for edge in &diagram.edges {
            assert!(
                ids.contains(&edge.from.as_str()),
                "{}: no node {}",
                diagram.name,
                edge.from
            );
            assert!(
                ids.contains(&edge.to.as_str()),
                "{}: no node {}",
                diagram.name,
                edge.to
            );
        }
        for id in ids {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{id}"
            );
        }
    }

    #[test]
    fn every_arrow_joins_two_boxes_of_its_diagram() {
        let assembly = crate::platform::synth(&Config::for_stage(Stage::Dev)).expect("synth");
        for diagram in all(&assembly) {
            assert_closed(&diagram);
        }
    }

    #[test]
    fn the_stacks_diagram_has_every_stack_and_an_arrow_per_dependency() {
        let assembly = crate::platform::synth(&Config::for_stage(Stage::Dev)).expect("synth");
        let diagram = stacks(&assembly);
        assert_eq!(diagram.nodes().count(), assembly.stacks.len());
        for stack in &assembly.stacks {
            for dependency in &stack.dependencies {
                assert!(
                    diagram
                        .edges
                        .iter()
                        .any(|e| e.from == id("stack", dependency)
                            && e.to == id("stack", &stack.name)),
                    "{dependency} -> {}",
                    stack.name
                );
            }
        }
    }

    #[test]
    fn each_queue_feeds_its_processor_and_overflows_into_its_dead_letter_queue() {
        let diagram = event_flow();
        for queue in queues() {
            let from = id("queue", queue.name);
            assert!(
                diagram
                    .edges
                    .iter()
                    .any(|e| e.from == from && e.to == id("fn", queue.consumer))
            );
            assert!(diagram.edges.iter().any(|e| e.from == from
                && e.to == id("queue", &queue.dead_letter_queue())
                && e.on_failure));
        }
    }

    #[test]
    fn the_saga_shows_the_compensation_on_a_failure_arrow() {
        let diagram = saga(&saga_definition());
        let declined: Vec<&Edge> = diagram
            .edges
            .iter()
            .filter(|e| {
                e.label
                    .contains(eventforge_topology::saga::errors::PAYMENT_DECLINED)
            })
            .collect();
        assert!(!declined.is_empty(), "no arrow for a declined payment");
        assert!(declined.iter().all(|e| e.on_failure));
    }
}
