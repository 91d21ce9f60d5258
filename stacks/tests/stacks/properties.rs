//! Invariants over generated apps: synthesis is deterministic, and the derived deploy order puts
//! every stack after every stack whose values it uses (or reports a cycle that really exists).

use std::collections::{BTreeMap, BTreeSet};

use eventforge_stacks::platform::{self, Config, Stage};
use proptest::prelude::*;
use typed_cloudformation::error::SynthError;
use typed_cloudformation::generated::{logs, sqs};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::manifest::Format;
use typed_cloudformation::stack::Stack;
use typed_cloudformation::synth::{App, Assembly};
use typed_cloudformation::value::join;

/// Builds `count` stacks, each with one queue, where stack `from` uses queue `to` for every
/// edge. Declared in a shuffled order given by `declaration`.
fn graph_app(count: usize, edges: &BTreeSet<(usize, usize)>, declaration: &[usize]) -> App {
    let mut app = App::new("prop");
    let mut stacks: Vec<Option<Stack>> = (0..count)
        .map(|index| Some(app.new_stack(&format!("s{index}"), "generated")))
        .collect();
    let queues: Vec<Handle<sqs::Queue>> = stacks
        .iter_mut()
        .flatten()
        .map(|stack| stack.add("Queue", sqs::Queue::new()))
        .collect();
    for (index, stack) in stacks.iter_mut().enumerate() {
        let used: Vec<_> = edges
            .iter()
            .filter(|(from, _)| *from == index)
            .map(|(_, to)| queues[*to].arn())
            .collect();
        if let (Some(stack), false) = (stack, used.is_empty()) {
            stack.add(
                "Uses",
                logs::LogGroup::new().log_group_name(join(",", used)),
            );
        }
    }
    for index in declaration {
        if let Some(stack) = stacks[*index].take() {
            app.add(stack);
        }
    }
    app
}

fn has_cycle(count: usize, edges: &BTreeSet<(usize, usize)>) -> bool {
    // Repeatedly remove stacks with no outgoing edge to a remaining stack.
    let mut remaining: BTreeSet<usize> = (0..count).collect();
    loop {
        let free: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|n| {
                !edges
                    .iter()
                    .any(|(from, to)| from == n && from != to && remaining.contains(to))
            })
            .collect();
        if free.is_empty() {
            return !remaining.is_empty();
        }
        for n in free {
            remaining.remove(&n);
        }
    }
}

fn arbitrary_graph() -> impl Strategy<Value = (usize, BTreeSet<(usize, usize)>, Vec<usize>)> {
    (1usize..8).prop_flat_map(|count| {
        (
            Just(count),
            proptest::collection::vec(((0..count), (0..count)), 0..12).prop_map(move |pairs| {
                // A stack never imports from itself: shift the target past the source.
                pairs
                    .into_iter()
                    .filter(|_| count > 1)
                    .map(|(from, to)| (from, (from + 1 + to % (count - 1)) % count))
                    .collect::<BTreeSet<_>>()
            }),
            Just((0..count).collect::<Vec<_>>()).prop_shuffle(),
        )
    })
}

fn bytes(assembly: &Assembly) -> Vec<String> {
    assembly
        .stacks
        .iter()
        .map(|stack| Assembly::render(stack, Format::Json).unwrap())
        .collect()
}

proptest! {
    #[test]
    fn deploy_order_respects_every_reference((count, edges, declaration) in arbitrary_graph()) {
        let app = graph_app(count, &edges, &declaration);
        match app.synth() {
            Ok(assembly) => {
                prop_assert!(!has_cycle(count, &edges));
                let position: BTreeMap<String, usize> = assembly
                    .stacks
                    .iter()
                    .enumerate()
                    .map(|(index, stack)| (stack.name.clone(), index))
                    .collect();
                for (from, to) in &edges {
                    let used = position[&format!("prop-s{to}")];
                    let user = position[&format!("prop-s{from}")];
                    prop_assert!(used < user, "s{} deploys before s{}, whose queue it uses", from, to);
                }
            }
            Err(SynthError::Cycle { stacks }) => {
                prop_assert!(has_cycle(count, &edges));
                // Each named stack uses the next one, and the last uses the first.
                for (index, stack) in stacks.iter().enumerate() {
                    let next = &stacks[(index + 1) % stacks.len()];
                    let id = |name: &str| name.trim_start_matches("prop-s").parse::<usize>().unwrap();
                    prop_assert!(edges.contains(&(id(stack), id(next))), "{} does not use {}", stack, next);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error: {}", other),
        }
    }

    #[test]
    fn synthesis_of_a_generated_app_is_deterministic((count, edges, declaration) in arbitrary_graph()) {
        let first = graph_app(count, &edges, &declaration).synth();
        let second = graph_app(count, &edges, &declaration).synth();
        match (first, second) {
            (Ok(a), Ok(b)) => prop_assert_eq!(bytes(&a), bytes(&b)),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            _ => prop_assert!(false, "one run failed and the other did not"),
        }
    }
}

#[test]
fn synthesising_the_platform_twice_gives_the_same_bytes() {
    for stage in [Stage::Dev, Stage::Prod] {
        let config = Config::for_stage(stage);
        let first = platform::synth(&config).unwrap();
        let second = platform::synth(&config).unwrap();
        assert_eq!(bytes(&first), bytes(&second));
        let yaml = |assembly: &Assembly| -> Vec<String> {
            assembly
                .stacks
                .iter()
                .map(|s| Assembly::render(s, Format::Yaml).unwrap())
                .collect()
        };
        assert_eq!(yaml(&first), yaml(&second));
    }
}
