//! Property values checked at synthesis against the constraints of the resource schemas the
//! types are generated from (enums, patterns, lengths, ranges, item counts), so a bad value is
//! found in milliseconds, named by stack, resource, property and the Rust line that added the
//! resource, instead of minutes into a deploy. `cargo xtask codegen` writes each type's
//! constraints next to its struct (`Resource::CONSTRAINTS`).
//!
//! A value that is an intrinsic (`Ref`, `Fn::...`) is only known at deploy time and is not
//! checked; neither are patterns Rust's regex engine cannot compile (a few schema patterns use
//! ECMAScript-only syntax): cfn-lint, run over the templates in the tests, is the second opinion.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

use crate::value::Json;

/// One constraint of a resource type's schema, at a property path: keys separated by `/`, `*`
/// for every element of a list or every value of a map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    pub path: &'static str,
    pub rule: Rule,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    OneOf(&'static [&'static str]),
    Pattern(&'static str),
    Length {
        min: Option<u64>,
        max: Option<u64>,
    },
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    Items {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// On an object: when `when` is set, each of `then` must be set too.
    Requires {
        when: &'static str,
        then: &'static [&'static str],
    },
    /// On an object: exactly one of these must be set.
    ExactlyOne(&'static [&'static str]),
}

/// Every value of `properties` that breaks one of `constraints`: the concrete property path
/// (`Tags/2/Key`) and what is wrong, in the order of the constraints.
pub fn check(properties: &Json, constraints: &[Constraint]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for constraint in constraints {
        // The empty path is the resource's properties themselves.
        let segments: Vec<&str> = constraint
            .path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .collect();
        for (path, value) in values_at(properties, &segments, String::new()) {
            if let Some(problem) = broken(&constraint.rule, value) {
                problems.push((path, problem));
            }
        }
    }
    problems
}

/// The values at `segments` below `value`, with their concrete paths.
fn values_at<'a>(value: &'a Json, segments: &[&str], path: String) -> Vec<(String, &'a Json)> {
    let Some((first, rest)) = segments.split_first() else {
        return vec![(path, value)];
    };
    if is_intrinsic(value) {
        return Vec::new();
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}/{key}")
        }
    };
    match (*first, value) {
        ("*", Json::Array(items)) => items
            .iter()
            .enumerate()
            .flat_map(|(index, item)| values_at(item, rest, join(&index.to_string())))
            .collect(),
        ("*", Json::Object(map)) => map
            .iter()
            .flat_map(|(key, item)| values_at(item, rest, join(key)))
            .collect(),
        (key, Json::Object(map)) => map
            .get(key)
            .map(|item| values_at(item, rest, join(key)))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `{"Ref": ..}` or `{"Fn::...": ..}`: known only when CloudFormation resolves it.
fn is_intrinsic(value: &Json) -> bool {
    value.as_object().is_some_and(|map| {
        map.len() == 1
            && map
                .keys()
                .all(|key| key == "Ref" || key.starts_with("Fn::") || key == "Condition")
    })
}

fn broken(rule: &Rule, value: &Json) -> Option<String> {
    if is_intrinsic(value) {
        return None;
    }
    let outside = |what: &str, n: f64, min: Option<f64>, max: Option<f64>| {
        let low = min.is_some_and(|min| n < min);
        let high = max.is_some_and(|max| n > max);
        (low || high).then(|| {
            let bounds = match (min, max) {
                (Some(min), Some(max)) => format!("from {min} to {max}"),
                (Some(min), None) => format!("at least {min}"),
                (None, Some(max)) => format!("at most {max}"),
                (None, None) => String::new(),
            };
            format!("{what} is {n}; it must be {bounds}")
        })
    };
    let as_f64 = |bound: Option<u64>| bound.map(|b| b as f64);
    match (rule, value) {
        (Rule::OneOf(allowed), Json::String(text)) if !allowed.contains(&text.as_str()) => {
            Some(format!("\"{text}\" is not one of {}", allowed.join(", ")))
        }
        (Rule::Pattern(pattern), Json::String(text)) => compiled(pattern)
            .filter(|regex| !regex.is_match(text))
            .map(|_| format!("\"{text}\" does not match the pattern {pattern}")),
        (Rule::Length { min, max }, Json::String(text)) => outside(
            "the length",
            text.chars().count() as f64,
            as_f64(*min),
            as_f64(*max),
        ),
        (Rule::Range { min, max }, Json::Number(number)) => {
            outside("the value", number.as_f64()?, *min, *max)
        }
        (Rule::Requires { when, then }, Json::Object(map)) if map.contains_key(*when) => {
            let missing: Vec<&str> = then
                .iter()
                .filter(|name| !map.contains_key(**name))
                .copied()
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "{when} is set, so {} must be set too",
                    missing.join(" and ")
                )
            })
        }
        (Rule::ExactlyOne(names), Json::Object(map)) => {
            let set: Vec<&str> = names
                .iter()
                .filter(|name| map.contains_key(**name))
                .copied()
                .collect();
            (set.len() != 1).then(|| {
                format!(
                    "exactly one of {} must be set ({})",
                    names.join(", "),
                    if set.is_empty() {
                        "none is".to_owned()
                    } else {
                        format!("{} are", set.join(" and "))
                    }
                )
            })
        }
        (Rule::Items { min, max }, Json::Array(items)) => outside(
            "the number of items",
            items.len() as f64,
            as_f64(*min),
            as_f64(*max),
        ),
        _ => None,
    }
}

/// Each schema pattern compiled once per process; `None` when Rust's regex cannot compile it.
/// cfn-lint's schemas end many patterns with Python's `\Z` (the very end), which Rust spells
/// `\z`.
fn compiled(pattern: &'static str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(pattern)
        .or_insert_with(|| Regex::new(&pattern.replace("\\Z", "\\z")).ok())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUEUE: &[Constraint] = &[
        Constraint {
            path: "FifoThroughputLimit",
            rule: Rule::OneOf(&["perQueue", "perMessageGroupId"]),
        },
        Constraint {
            path: "VisibilityTimeout",
            rule: Rule::Range {
                min: Some(0.0),
                max: Some(43200.0),
            },
        },
        Constraint {
            path: "Tags/*/Key",
            rule: Rule::Length {
                min: Some(1),
                max: Some(128),
            },
        },
        Constraint {
            path: "Tags",
            rule: Rule::Items {
                min: None,
                max: Some(2),
            },
        },
        Constraint {
            path: "QueueName",
            rule: Rule::Pattern("^[a-zA-Z0-9_-]{1,80}(\\.fifo)?$"),
        },
    ];

    #[test]
    fn each_kind_of_constraint_names_the_property_and_the_bound() {
        let properties = json!({
            "FifoThroughputLimit": "perTable",
            "VisibilityTimeout": 50000,
            "Tags": [{ "Key": "ok" }, { "Key": "" }, { "Key": "k" }],
            "QueueName": "has spaces",
        });
        assert_eq!(
            check(&properties, QUEUE),
            [
                (
                    "FifoThroughputLimit".to_owned(),
                    "\"perTable\" is not one of perQueue, perMessageGroupId".to_owned()
                ),
                (
                    "VisibilityTimeout".to_owned(),
                    "the value is 50000; it must be from 0 to 43200".to_owned()
                ),
                (
                    "Tags/1/Key".to_owned(),
                    "the length is 0; it must be from 1 to 128".to_owned()
                ),
                (
                    "Tags".to_owned(),
                    "the number of items is 3; it must be at most 2".to_owned()
                ),
                (
                    "QueueName".to_owned(),
                    "\"has spaces\" does not match the pattern ^[a-zA-Z0-9_-]{1,80}(\\.fifo)?$"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn good_values_absent_properties_and_intrinsics_pass() {
        let good = json!({ "FifoThroughputLimit": "perQueue", "VisibilityTimeout": 30, "QueueName": "orders.fifo" });
        let intrinsic =
            json!({ "QueueName": { "Fn::Sub": "${AWS::StackName}-q" }, "Tags": { "Ref": "T" } });
        assert!(check(&good, QUEUE).is_empty());
        assert!(check(&json!({}), QUEUE).is_empty());
        assert!(check(&intrinsic, QUEUE).is_empty());
    }

    #[test]
    fn properties_required_together_or_exclusively_are_checked_on_their_object() {
        const VPC: &[Constraint] = &[
            Constraint {
                path: "",
                rule: Rule::Requires {
                    when: "Ipv4IpamPoolId",
                    then: &["Ipv4NetmaskLength"],
                },
            },
            Constraint {
                path: "",
                rule: Rule::ExactlyOne(&["CidrBlock", "Ipv4IpamPoolId"]),
            },
        ];
        assert!(check(&json!({ "CidrBlock": "10.0.0.0/16" }), VPC).is_empty());
        assert_eq!(
            check(&json!({ "Ipv4IpamPoolId": "p", "CidrBlock": "10.0.0.0/16" }), VPC),
            [
                (
                    String::new(),
                    "Ipv4IpamPoolId is set, so Ipv4NetmaskLength must be set too".to_owned()
                ),
                (
                    String::new(),
                    "exactly one of CidrBlock, Ipv4IpamPoolId must be set (CidrBlock and Ipv4IpamPoolId are)"
                        .to_owned()
                ),
            ]
        );
        assert_eq!(
            check(&json!({}), VPC)[0].1,
            "exactly one of CidrBlock, Ipv4IpamPoolId must be set (none is)"
        );
    }

    #[test]
    fn a_pattern_rust_cannot_compile_is_left_to_cfn_lint() {
        let lookahead = [Constraint {
            path: "Name",
            rule: Rule::Pattern("^(?!aws-).*$"),
        }];
        assert!(check(&json!({ "Name": "aws-x" }), &lookahead).is_empty());
    }
}
