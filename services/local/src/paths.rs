//! The paths of the States Language: reads go through RFC 9535 JSONPath (`serde_json_path`);
//! writes (`ResultPath`) go to a reference path, which names exactly one place.
//!
//! A path field of a state is absent (the default, `$`), `null` (nothing: `{}` as input, the
//! result discarded, `{}` as output) or a path string; [`PathField`] keeps the three apart.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// A path field exactly as written: `None` when absent, `Some(Null)` when `null`.
pub type PathField = Option<Value>;

/// Deserialises a field so that `null` stays distinguishable from an absent field.
pub fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathField, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A failure the States Language reports as `States.Runtime`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathError(pub String);

/// The context object (`$$`) as paths see it: asked for only by a path that reads it. `Sync`,
/// as a Task keeps it across the awaits of its invocation.
pub trait ContextObject: Sync {
    fn context_object(&self) -> &Value;
}

impl ContextObject for Value {
    fn context_object(&self) -> &Value {
        self
    }
}

/// A context object made at the first path that reads it. Making it copies the execution's
/// input; the saga's paths never read it, and making it for every state was a tenth of the local
/// saga's time in clones and frees (BENCHMARKS.md, "Saga").
pub struct LazyContext<F> {
    made: OnceLock<Value>,
    make: F,
}

impl<F: Fn() -> Value> LazyContext<F> {
    pub fn new(make: F) -> Self {
        Self {
            made: OnceLock::new(),
            make,
        }
    }
}

impl<F: Fn() -> Value + Sync> ContextObject for LazyContext<F> {
    fn context_object(&self) -> &Value {
        self.made.get_or_init(&self.make)
    }
}

fn parse(path: &str) -> Result<JsonPath, PathError> {
    JsonPath::parse(path).map_err(|e| PathError(format!("invalid path {path:?}: {e}")))
}

/// A path that can select at most one node: no wildcard, descendant, filter, slice or union.
fn is_definite(path: &str) -> bool {
    !path.contains(['*', '?', ',', ':']) && !path.contains("..")
}

/// Reads `path` from `input`; a path starting with `$$` reads the context object. A definite
/// path yields its one value (its absence is an error); any other yields the array of matches.
pub fn read(path: &str, input: &Value, context: &dyn ContextObject) -> Result<Value, PathError> {
    let (path, document) = match path.strip_prefix('$') {
        Some(rest) if rest.starts_with('$') => (rest, context.context_object()),
        _ => (path, input),
    };
    let query = parse(path)?;
    let nodes = query.query(document);
    if is_definite(path) {
        nodes
            .exactly_one()
            .cloned()
            .map_err(|_| PathError(format!("the path {path:?} selects nothing in the input")))
    } else {
        Ok(Value::Array(nodes.all().into_iter().cloned().collect()))
    }
}

/// Whether a definite `path` names something in `input` (Choice's `IsPresent`).
pub fn is_present(path: &str, input: &Value, context: &dyn ContextObject) -> bool {
    read(path, input, context).is_ok()
}

/// Applies `InputPath` or `OutputPath`; the absent path (`$`) borrows `input` whole.
pub fn select<'a>(
    field: &PathField,
    input: &'a Value,
    context: &dyn ContextObject,
) -> Result<Cow<'a, Value>, PathError> {
    match field {
        None => Ok(Cow::Borrowed(input)),
        Some(Value::Null) => Ok(Cow::Owned(Value::Object(Map::new()))),
        Some(Value::String(path)) => read(path, input, context).map(Cow::Owned),
        Some(other) => Err(PathError(format!(
            "a path must be a string or null, not {other}"
        ))),
    }
}

/// [`select`] on an `input` the caller gives up: the absent path (`$`) moves it through.
pub fn select_owned(
    field: &PathField,
    input: Value,
    context: &dyn ContextObject,
) -> Result<Value, PathError> {
    match field {
        None => Ok(input),
        Some(_) => select(field, &input, context).map(Cow::into_owned),
    }
}

/// Evaluates a `Parameters` (or `ResultSelector`) template: keys ending in `.$` take the value
/// their path selects, under the key without the suffix; everything else is copied.
pub fn template(
    template: &Value,
    input: &Value,
    context: &dyn ContextObject,
) -> Result<Value, PathError> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                if let Some(name) = key.strip_suffix(".$") {
                    let Value::String(path) = value else {
                        return Err(PathError(format!("{key} must be a path string")));
                    };
                    if !path.starts_with('$') {
                        return Err(PathError(format!(
                            "{key}: intrinsic functions are not supported locally ({path})"
                        )));
                    }
                    out.insert(name.to_owned(), read(path, input, context)?);
                } else {
                    out.insert(key.clone(), template_value(value, input, context)?);
                }
            }
            Ok(Value::Object(out))
        }
        other => template_value(other, input, context),
    }
}

fn template_value(
    value: &Value,
    input: &Value,
    context: &dyn ContextObject,
) -> Result<Value, PathError> {
    match value {
        Value::Object(_) => template(value, input, context),
        Value::Array(items) => items
            .iter()
            .map(|item| template_value(item, input, context))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// Parses a reference path: `$`, then `.name`, `['name']` or `[n]` steps.
fn reference_steps(path: &str) -> Result<Vec<Step>, PathError> {
    let invalid = || PathError(format!("{path:?} is not a reference path"));
    let mut rest = path.strip_prefix('$').ok_or_else(invalid)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(invalid());
            }
            steps.push(Step::Field(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(invalid)?;
            let inside = &after[..end];
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(name) => steps.push(Step::Field(name.to_owned())),
                None => steps.push(Step::Index(inside.parse().map_err(|_| invalid())?)),
            }
            rest = &after[end + 1..];
        } else {
            return Err(invalid());
        }
    }
    Ok(steps)
}

/// Applies `ResultPath`: places `result` into `input` at the reference path (creating the
/// objects on the way), replaces the input (`$`, or absent) or discards the result (`null`).
/// `input` is taken, not copied: it becomes the output.
pub fn place(field: &PathField, input: Value, result: Value) -> Result<Value, PathError> {
    let path = match field {
        None => return Ok(result),
        Some(Value::Null) => return Ok(input),
        Some(Value::String(path)) => path,
        Some(other) => {
            return Err(PathError(format!(
                "ResultPath must be a string or null, not {other}"
            )));
        }
    };
    let steps = reference_steps(path)?;
    if steps.is_empty() {
        return Ok(result);
    }
    let mut output = input;
    let mut cursor = &mut output;
    let last = steps.len() - 1;
    for (i, step) in steps.iter().enumerate() {
        cursor = match step {
            Step::Field(name) => {
                let Value::Object(fields) = cursor else {
                    return Err(PathError(format!(
                        "ResultPath {path:?} goes through a value that is not an object"
                    )));
                };
                if i == last {
                    fields.insert(name.clone(), result);
                    return Ok(output);
                }
                fields
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Step::Index(index) => {
                let slot = cursor.get_mut(*index).ok_or_else(|| {
                    PathError(format!("ResultPath {path:?} indexes past an array's end"))
                })?;
                if i == last {
                    *slot = result;
                    return Ok(output);
                }
                slot
            }
        };
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definite_paths_read_one_value_and_others_read_an_array() {
        let input = json!({"a": {"b": 1}, "list": [1, 2, 3]});
        let ctx = json!({"Execution": {"Name": "x"}});
        assert_eq!(read("$.a.b", &input, &ctx), Ok(json!(1)));
        assert_eq!(read("$.list[*]", &input, &ctx), Ok(json!([1, 2, 3])));
        assert_eq!(read("$$.Execution.Name", &input, &ctx), Ok(json!("x")));
        assert!(read("$.missing", &input, &ctx).is_err());
    }

    #[test]
    fn result_path_places_creates_replaces_or_discards() {
        let input = json!({"a": 1});
        assert_eq!(
            place(&Some(json!("$.r.s")), input.clone(), json!(2)),
            Ok(json!({"a": 1, "r": {"s": 2}}))
        );
        assert_eq!(place(&None, input.clone(), json!(2)), Ok(json!(2)));
        assert_eq!(
            place(&Some(json!("$")), input.clone(), json!(2)),
            Ok(json!(2))
        );
        assert_eq!(
            place(&Some(Value::Null), input.clone(), json!(2)),
            Ok(input.clone())
        );
        assert_eq!(
            place(&Some(json!("$['x y']")), input.clone(), json!(3)),
            Ok(json!({"a": 1, "x y": 3}))
        );
        assert!(place(&Some(json!("$.a.b")), input.clone(), json!(2)).is_err());
    }

    #[test]
    fn templates_evaluate_dollar_keys_at_every_depth() {
        let input = json!({"order": {"id": "o1"}, "n": 2});
        let ctx = json!({"State": {"Name": "S"}});
        let out = template(
            &json!({"id.$": "$.order.id", "fixed": true, "nested": {"n.$": "$.n", "s.$": "$$.State.Name"}, "list": [{"v.$": "$.n"}]}),
            &input,
            &ctx,
        );
        assert_eq!(
            out,
            Ok(
                json!({"id": "o1", "fixed": true, "nested": {"n": 2, "s": "S"}, "list": [{"v": 2}]})
            )
        );
    }

    #[test]
    fn null_input_and_output_paths_give_an_empty_object() {
        let input = json!({"a": 1});
        assert_eq!(
            select(&Some(Value::Null), &input, &json!({})).map(Cow::into_owned),
            Ok(json!({}))
        );
        assert_eq!(
            select_owned(&Some(Value::Null), input.clone(), &json!({})),
            Ok(json!({}))
        );
        assert_eq!(
            select(&None, &input, &json!({})).map(Cow::into_owned),
            Ok(input.clone())
        );
        assert_eq!(select_owned(&None, input.clone(), &json!({})), Ok(input));
    }

    #[test]
    fn the_context_object_is_made_only_for_a_path_that_reads_it() {
        let made = std::sync::atomic::AtomicU32::new(0);
        let ctx = LazyContext::new(|| {
            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            json!({"State": {"Name": "S"}})
        });
        let input = json!({"a": 1});
        assert_eq!(read("$.a", &input, &ctx), Ok(json!(1)));
        assert_eq!(
            template(&json!({"x.$": "$.a"}), &input, &ctx),
            Ok(json!({"x": 1}))
        );
        assert_eq!(
            made.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "no path read `$$`"
        );
        assert_eq!(read("$$.State.Name", &input, &ctx), Ok(json!("S")));
        assert_eq!(read("$$.State.Name", &input, &ctx), Ok(json!("S")));
        assert_eq!(
            made.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "made once, at the first path that read it"
        );
    }
}
