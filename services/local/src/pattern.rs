//! EventBridge event patterns, evaluated as EventBridge does: every field named by the pattern
//! must match (AND), any one of a field's alternatives suffices (OR), arrays in the event match
//! when any element does, nested objects in the pattern address nested fields, and `$or` offers
//! alternative sub-patterns.
//!
//! Supported on a leaf: literal strings, numbers, booleans and null; `prefix`, `suffix` (both also
//! with `equals-ignore-case`), `equals-ignore-case`, `wildcard`, `anything-but` (a value, a list,
//! or `prefix` / `suffix` / `equals-ignore-case` / `wildcard`), `numeric` ranges and `exists`.
//! The crates `quamina` and `event-ruler` were considered: the first lacks `$or` and
//! `anything-but` with `prefix`, the second is an empty placeholder, so the matcher is our own.

use serde_json::{Map, Value};

use crate::error::LocalError;

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    /// The field at `path` matches one of the matchers.
    Field {
        path: Vec<String>,
        any_of: Vec<Matcher>,
    },
    /// One of the alternatives matches (their paths are relative to the enclosing object).
    Or {
        prefix: Vec<String>,
        alternatives: Vec<Pattern>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix {
        text: String,
        ignore_case: bool,
    },
    Suffix {
        text: String,
        ignore_case: bool,
    },
    EqualsIgnoreCase(String),
    Wildcard(Vec<String>),
    AnythingBut(Box<Matcher>),
    /// Any of the literals (for `anything-but` lists).
    OneOf(Vec<Value>),
    /// Any of the matchers (for `anything-but` of several `equals-ignore-case`).
    AnyOf(Vec<Matcher>),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

fn invalid(message: impl Into<String>) -> LocalError {
    LocalError::Pattern(message.into())
}

impl Pattern {
    /// Compiles a pattern, refusing what EventBridge would refuse.
    pub fn compile(pattern: &Value) -> Result<Self, LocalError> {
        let object = pattern
            .as_object()
            .ok_or_else(|| invalid("a pattern is a JSON object"))?;
        let mut clauses = Vec::new();
        compile_object(object, &[], &mut clauses)?;
        Ok(Self { clauses })
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        self.matches_at(event, &[])
    }

    fn matches_at(&self, event: &Value, base: &[String]) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Field { path, any_of } => {
                let full: Vec<&str> = base.iter().chain(path).map(String::as_str).collect();
                let mut values = Vec::new();
                leaves(event, &full, &mut values);
                any_of.iter().any(|matcher| matcher.matches_field(&values))
            }
            Clause::Or {
                prefix,
                alternatives,
            } => {
                let full: Vec<String> = base.iter().chain(prefix).cloned().collect();
                alternatives.iter().any(|p| p.matches_at(event, &full))
            }
        })
    }
}

fn compile_object(
    object: &Map<String, Value>,
    path: &[String],
    clauses: &mut Vec<Clause>,
) -> Result<(), LocalError> {
    if object.is_empty() {
        return Err(invalid("a pattern object must name at least one field"));
    }
    for (key, value) in object {
        if key == "$or" {
            let alternatives = value
                .as_array()
                .filter(|list| list.len() >= 2)
                .ok_or_else(|| invalid("$or takes an array of at least two patterns"))?
                .iter()
                .map(|alternative| {
                    let object = alternative
                        .as_object()
                        .ok_or_else(|| invalid("each $or alternative is an object"))?;
                    let mut inner = Vec::new();
                    compile_object(object, &[], &mut inner)?;
                    Ok(Pattern { clauses: inner })
                })
                .collect::<Result<_, LocalError>>()?;
            clauses.push(Clause::Or {
                prefix: path.to_vec(),
                alternatives,
            });
            continue;
        }
        let mut field = path.to_vec();
        field.push(key.clone());
        match value {
            Value::Object(nested) => compile_object(nested, &field, clauses)?,
            Value::Array(items) if !items.is_empty() => {
                let any_of = items
                    .iter()
                    .map(compile_matcher)
                    .collect::<Result<_, _>>()?;
                clauses.push(Clause::Field {
                    path: field,
                    any_of,
                });
            }
            _ => {
                return Err(invalid(format!(
                    "{}: a field's value is a non-empty array or a nested object",
                    field.join(".")
                )));
            }
        }
    }
    Ok(())
}

fn text_operand(value: &Value, operator: &str) -> Result<(String, bool), LocalError> {
    match value {
        Value::String(text) => Ok((text.clone(), false)),
        Value::Object(inner) if inner.len() == 1 => match inner.get("equals-ignore-case") {
            Some(Value::String(text)) => Ok((text.clone(), true)),
            _ => Err(invalid(format!(
                "{operator} takes a string or {{\"equals-ignore-case\": string}}"
            ))),
        },
        _ => Err(invalid(format!("{operator} takes a string"))),
    }
}

fn wildcard_parts(pattern: &str) -> Result<Vec<String>, LocalError> {
    if pattern.contains("**") {
        return Err(invalid("wildcard patterns may not contain consecutive '*'"));
    }
    let mut parts = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('*' | '\\')) => {
                    parts.last_mut().map(|p| p.push(escaped)).unwrap_or(())
                }
                _ => return Err(invalid("in a wildcard, '\\' escapes only '*' or '\\'")),
            },
            '*' => parts.push(String::new()),
            other => parts.last_mut().map(|p| p.push(other)).unwrap_or(()),
        }
    }
    Ok(parts)
}

fn compile_matcher(item: &Value) -> Result<Matcher, LocalError> {
    let Value::Object(operator) = item else {
        return match item {
            Value::Array(_) => Err(invalid("alternatives may not be nested arrays")),
            literal => Ok(Matcher::Exact(literal.clone())),
        };
    };
    if operator.len() != 1 {
        return Err(invalid("a matcher object has exactly one operator"));
    }
    let Some((name, operand)) = operator.iter().next() else {
        return Err(invalid("a matcher object has exactly one operator"));
    };
    match name.as_str() {
        "prefix" => {
            let (text, ignore_case) = text_operand(operand, "prefix")?;
            Ok(Matcher::Prefix { text, ignore_case })
        }
        "suffix" => {
            let (text, ignore_case) = text_operand(operand, "suffix")?;
            Ok(Matcher::Suffix { text, ignore_case })
        }
        "equals-ignore-case" => match operand {
            Value::String(text) => Ok(Matcher::EqualsIgnoreCase(text.clone())),
            _ => Err(invalid("equals-ignore-case takes a string")),
        },
        "wildcard" => match operand {
            Value::String(text) => Ok(Matcher::Wildcard(wildcard_parts(text)?)),
            _ => Err(invalid("wildcard takes a string")),
        },
        "exists" => match operand {
            Value::Bool(exists) => Ok(Matcher::Exists(*exists)),
            _ => Err(invalid("exists takes true or false")),
        },
        "numeric" => compile_numeric(operand),
        "anything-but" => {
            let inner = match operand {
                Value::Array(items) if !items.is_empty() => {
                    if items.iter().any(|i| i.is_object() || i.is_array()) {
                        return Err(invalid("anything-but lists hold strings or numbers"));
                    }
                    Matcher::OneOf(items.clone())
                }
                Value::Object(inner) if inner.len() == 1 => {
                    if let Some(Value::Array(texts)) = inner.get("equals-ignore-case") {
                        let texts = texts
                            .iter()
                            .map(|t| t.as_str().map(|t| Matcher::EqualsIgnoreCase(t.to_owned())))
                            .collect::<Option<Vec<_>>>()
                            .filter(|texts| !texts.is_empty())
                            .ok_or_else(|| invalid("equals-ignore-case lists hold strings"))?;
                        Matcher::AnyOf(texts)
                    } else {
                        match compile_matcher(operand)? {
                            matcher @ (Matcher::Prefix { .. }
                            | Matcher::Suffix { .. }
                            | Matcher::Wildcard(_)
                            | Matcher::EqualsIgnoreCase(_)) => matcher,
                            _ => {
                                return Err(invalid(
                                    "anything-but takes a value, a list, or prefix / suffix / equals-ignore-case / wildcard",
                                ));
                            }
                        }
                    }
                }
                Value::String(_) | Value::Number(_) => Matcher::Exact(operand.clone()),
                _ => {
                    return Err(invalid(
                        "anything-but takes a string, a number or a list of them",
                    ));
                }
            };
            Ok(Matcher::AnythingBut(Box::new(inner)))
        }
        other => Err(invalid(format!("unsupported pattern operator {other:?}"))),
    }
}

fn compile_numeric(operand: &Value) -> Result<Matcher, LocalError> {
    let items = operand
        .as_array()
        .filter(|items| items.len() == 2 || items.len() == 4)
        .ok_or_else(|| invalid("numeric takes [op, number] or [op, number, op, number]"))?;
    let mut bounds = Vec::new();
    for pair in items.chunks(2) {
        let comparison = match pair[0].as_str() {
            Some("=") => Comparison::Eq,
            Some("<") => Comparison::Lt,
            Some("<=") => Comparison::Le,
            Some(">") => Comparison::Gt,
            Some(">=") => Comparison::Ge,
            _ => return Err(invalid("numeric operators are =, <, <=, > and >=")),
        };
        let number = pair[1]
            .as_f64()
            .ok_or_else(|| invalid("numeric bounds are numbers"))?;
        bounds.push((comparison, number));
    }
    if let [(first, _), (second, _)] = bounds.as_slice() {
        let lower = |c: &Comparison| matches!(c, Comparison::Gt | Comparison::Ge);
        let upper = |c: &Comparison| matches!(c, Comparison::Lt | Comparison::Le);
        if !(lower(first) && upper(second) || upper(first) && lower(second)) {
            return Err(invalid("a numeric range has one lower and one upper bound"));
        }
    }
    Ok(Matcher::Numeric(bounds))
}

/// Collects the scalar values at `path`, descending into arrays at every level.
fn leaves<'a>(value: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    match (value, path) {
        (Value::Array(items), _) => {
            for item in items {
                leaves(item, path, out);
            }
        }
        (Value::Object(_), []) => {}
        (scalar, []) => out.push(scalar),
        (Value::Object(fields), [first, rest @ ..]) => {
            if let Some(child) = fields.get(*first) {
                leaves(child, rest, out);
            }
        }
        _ => {}
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn equal(literal: &Value, value: &Value) -> bool {
    if literal.is_number() && value.is_number() {
        same_number(literal, value)
    } else {
        literal == value
    }
}

impl Matcher {
    fn matches_field(&self, values: &[&Value]) -> bool {
        match self {
            Self::Exists(true) => !values.is_empty(),
            Self::Exists(false) => values.is_empty(),
            _ => values.iter().any(|value| self.matches(value)),
        }
    }

    fn matches(&self, value: &Value) -> bool {
        let text = value.as_str();
        let starts = |prefix: &str, ignore_case: bool, t: &str| {
            if ignore_case {
                t.to_lowercase().starts_with(&prefix.to_lowercase())
            } else {
                t.starts_with(prefix)
            }
        };
        let ends = |suffix: &str, ignore_case: bool, t: &str| {
            if ignore_case {
                t.to_lowercase().ends_with(&suffix.to_lowercase())
            } else {
                t.ends_with(suffix)
            }
        };
        match self {
            Self::Exact(literal) => equal(literal, value),
            Self::Prefix {
                text: p,
                ignore_case,
            } => text.is_some_and(|t| starts(p, *ignore_case, t)),
            Self::Suffix {
                text: s,
                ignore_case,
            } => text.is_some_and(|t| ends(s, *ignore_case, t)),
            Self::EqualsIgnoreCase(expected) => {
                text.is_some_and(|t| t.to_lowercase() == expected.to_lowercase())
            }
            Self::Wildcard(parts) => text.is_some_and(|t| crate::interpreter::wildcard(parts, t)),
            Self::OneOf(literals) => literals.iter().any(|l| equal(l, value)),
            Self::AnyOf(matchers) => matchers.iter().any(|m| m.matches(value)),
            Self::AnythingBut(inner) => {
                // Like EventBridge: anything-but of strings ignores numbers, and of numbers ignores
                // strings; null and booleans never match an anything-but of either.
                let comparable = match inner.as_ref() {
                    Self::OneOf(literals) => literals
                        .iter()
                        .any(|l| l.is_number() == value.is_number() && !value.is_null()),
                    Self::Exact(literal) => {
                        literal.is_number() == value.is_number() && !value.is_null()
                    }
                    _ => value.is_string(),
                };
                comparable && !value.is_boolean() && !inner.matches(value)
            }
            Self::Numeric(bounds) => value.as_f64().is_some_and(|n| {
                value.is_number()
                    && bounds.iter().all(|(comparison, bound)| match comparison {
                        Comparison::Eq => n == *bound,
                        Comparison::Lt => n < *bound,
                        Comparison::Le => n <= *bound,
                        Comparison::Gt => n > *bound,
                        Comparison::Ge => n >= *bound,
                    })
            }),
            Self::Exists(_) => true,
        }
    }
}
