//! Deploy order: a topological sort of the stacks by their references.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::SynthError;

/// Orders `stacks` (given in declaration order) so that every stack comes after the stacks it
/// depends on. Among stacks that are free to go, declaration order decides, so the result is
/// deterministic. A cycle is reported with the stacks on it, in the order they refer to each
/// other.
pub fn deploy_order(
    stacks: &[String],
    dependencies: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>, SynthError> {
    let none = BTreeSet::new();
    let depends = |stack: &str| dependencies.get(stack).unwrap_or(&none);
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(stacks.len());
    while order.len() < stacks.len() {
        let next = stacks.iter().find(|stack| {
            !placed.contains(stack.as_str())
                && depends(stack)
                    .iter()
                    .all(|dep| placed.contains(dep.as_str()))
        });
        match next {
            Some(stack) => {
                placed.insert(stack);
                order.push(stack.clone());
            }
            None => {
                let remaining: Vec<&String> = stacks
                    .iter()
                    .filter(|stack| !placed.contains(stack.as_str()))
                    .collect();
                return Err(SynthError::Cycle {
                    stacks: find_cycle(&remaining, &depends),
                });
            }
        }
    }
    Ok(order)
}

/// Walks dependencies from the first blocked stack until a stack repeats: every blocked stack
/// has a blocked dependency, so the walk must close a cycle.
fn find_cycle<'a>(
    blocked: &[&'a String],
    depends: &dyn Fn(&str) -> &'a BTreeSet<String>,
) -> Vec<String> {
    let blocked_set: BTreeSet<&str> = blocked.iter().map(|stack| stack.as_str()).collect();
    let mut path: Vec<String> = Vec::new();
    let mut current = blocked.first().map(|stack| stack.to_string());
    while let Some(stack) = current {
        if let Some(start) = path.iter().position(|seen| *seen == stack) {
            return path.split_off(start);
        }
        current = depends(&stack)
            .iter()
            .find(|dep| blocked_set.contains(dep.as_str()))
            .cloned();
        path.push(stack);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry((*from).to_owned())
                .or_default()
                .insert((*to).to_owned());
        }
        graph
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_stack_deploys_after_the_stacks_it_uses() {
        let order = deploy_order(
            &names(&["api", "data", "network"]),
            &graph(&[("api", "data"), ("api", "network"), ("data", "network")]),
        )
        .unwrap();
        assert_eq!(order, names(&["network", "data", "api"]));
    }

    #[test]
    fn independent_stacks_keep_declaration_order() {
        let order = deploy_order(&names(&["b", "a", "c"]), &BTreeMap::new()).unwrap();
        assert_eq!(order, names(&["b", "a", "c"]));
    }

    #[test]
    fn a_cycle_names_exactly_the_stacks_on_it() {
        let error = deploy_order(
            &names(&["free", "a", "b", "c"]),
            &graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("free", "a")]),
        )
        .unwrap_err();
        match &error {
            SynthError::Cycle { stacks } => assert_eq!(stacks, &names(&["a", "b", "c"])),
            other => panic!("expected a cycle, got {other}"),
        }
        assert_eq!(
            error.to_string(),
            "stacks reference each other in a cycle: a -> b -> c -> a"
        );
    }
}
