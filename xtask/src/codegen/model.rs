//! The language-neutral model of one resource type: its property structs and its attributes,
//! derived from a CloudFormation resource provider schema.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::Value;

/// One resource type, e.g. `AWS::SQS::Queue`.
pub struct Resource {
    pub type_name: String,
    /// Module of the service, e.g. `sqs`.
    pub service: String,
    /// Module of the resource, e.g. `queue`.
    pub module: String,
    /// The properties struct of the resource itself comes first; property types follow.
    pub structs: Vec<Struct>,
    pub attributes: Vec<Attribute>,
    /// What the schema allows the writable properties' values to be.
    pub constraints: Vec<Constraint>,
}

/// A constraint of the schema at a property path (`Tags/*/Key`), as the Rust expression of an
/// `typed_cloudformation::validate::Rule`.
pub struct Constraint {
    pub path: String,
    pub rule: String,
}

pub struct Struct {
    pub name: String,
    /// Where the struct comes from in the schema, for its doc comment.
    pub origin: String,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub json_name: String,
    pub rust_name: String,
    pub ty: String,
    pub required: bool,
}

/// A read-only property, available through `Fn::GetAtt`.
pub struct Attribute {
    /// The `Fn::GetAtt` attribute name, e.g. `Endpoint.Address`.
    pub name: String,
    pub method: String,
    /// The Rust type the attribute evaluates to, e.g. `String`.
    pub ty: String,
}

/// Methods of `Handle` that an attribute accessor must not shadow.
const HANDLE_METHODS: &[&str] = &["logical_id", "stack", "reference", "get_att", "depends_on"];

impl Resource {
    pub fn from_schema(type_name: &str, schema: &Value) -> Result<Self> {
        let mut parts = type_name.split("::").skip(1);
        let (Some(service), Some(name)) = (parts.next(), parts.next()) else {
            bail!("{type_name} is not of the form AWS::Service::Type");
        };
        let read_only: Vec<Vec<String>> = strings(schema.get("readOnlyProperties"))
            .iter()
            .filter_map(|pointer| pointer.strip_prefix("/properties/"))
            .map(|path| path.split('/').map(str::to_owned).collect())
            .collect();
        let top_level_read_only: BTreeSet<&str> = read_only
            .iter()
            .filter(|path| path.len() == 1)
            .map(|path| path[0].as_str())
            .collect();

        let mut builder = Builder {
            definitions: schema.get("definitions").cloned().unwrap_or(Value::Null),
            structs: BTreeMap::new(),
            definition_names: BTreeMap::new(),
            taken: BTreeSet::from([name.to_upper_camel_case()]),
        };
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .context("schema has no properties")?;
        let writable: serde_json::Map<String, Value> = properties
            .iter()
            .filter(|(key, _)| !top_level_read_only.contains(key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let root_name = name.to_upper_camel_case();
        let root =
            builder.struct_fields(&writable, &strings(schema.get("required")), &root_name)?;
        let mut structs = vec![Struct {
            name: root_name,
            origin: format!("the properties of `{type_name}`"),
            fields: root,
        }];
        structs.extend(builder.structs.into_values());

        let attributes = read_only
            .iter()
            .filter_map(|path| attribute(schema, properties, path))
            .collect();
        let mut constraints = Vec::new();
        object_constraints(schema, "", &mut constraints);
        for (key, property) in &writable {
            collect_constraints(schema, property, key, &mut Vec::new(), &mut constraints);
        }
        Ok(Self {
            type_name: type_name.to_owned(),
            service: service.to_lowercase(),
            module: name.to_snake_case(),
            structs,
            attributes,
            constraints,
        })
    }
}

struct Builder {
    definitions: Value,
    /// Property type structs by Rust name (sorted, so the output order is stable).
    structs: BTreeMap<String, Struct>,
    /// Rust name of each `#/definitions/X` already (or being) generated.
    definition_names: BTreeMap<String, String>,
    taken: BTreeSet<String>,
}

impl Builder {
    fn struct_fields(
        &mut self,
        properties: &serde_json::Map<String, Value>,
        required: &[String],
        owner: &str,
    ) -> Result<Vec<Field>> {
        let mut seen = BTreeSet::new();
        properties
            .iter()
            .map(|(json_name, schema)| {
                let rust_name = field_name(json_name);
                if !seen.insert(rust_name.clone()) || rust_name == "new" {
                    bail!("{owner}.{json_name} maps to a clashing Rust name `{rust_name}`");
                }
                let ty = self
                    .type_of(
                        schema,
                        &format!("{owner}{}", json_name.to_upper_camel_case()),
                    )
                    .with_context(|| format!("in {owner}.{json_name}"))?;
                Ok(Field {
                    json_name: json_name.clone(),
                    rust_name,
                    ty,
                    required: required.iter().any(|name| name == json_name),
                })
            })
            .collect()
    }

    /// The Rust type of a property schema; `inline_name` names a struct for an inline object.
    fn type_of(&mut self, schema: &Value, inline_name: &str) -> Result<String> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.definition(reference);
        }
        let types = strings(schema.get("type"));
        let has_properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|properties| !properties.is_empty());
        if has_properties && (types.is_empty() || types.iter().any(|t| t == "object")) {
            let name = self.unique_name(inline_name);
            return self.object(schema, &name, inline_name);
        }
        if types.len() != 1 {
            return Ok(JSON.to_owned());
        }
        Ok(match types[0].as_str() {
            "string" => "Value<String>".to_owned(),
            "integer" => "Value<i64>".to_owned(),
            "number" => "Value<f64>".to_owned(),
            "boolean" => "Value<bool>".to_owned(),
            "array" => match schema.get("items") {
                Some(items) => format!("Vec<{}>", self.type_of(items, inline_name)?),
                None => format!("Vec<{JSON}>"),
            },
            "object" => match single_pattern(schema) {
                Some(values) => {
                    format!("BTreeMap<String, {}>", self.type_of(&values, inline_name)?)
                }
                None => JSON.to_owned(),
            },
            _ => JSON.to_owned(),
        })
    }

    fn definition(&mut self, reference: &str) -> Result<String> {
        let name = reference
            .strip_prefix("#/definitions/")
            .with_context(|| format!("unsupported $ref {reference}"))?;
        if let Some(rust_name) = self.definition_names.get(name) {
            return Ok(rust_name.clone());
        }
        let schema = self
            .definitions
            .get(name)
            .cloned()
            .with_context(|| format!("missing definition {name}"))?;
        let is_struct = schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|properties| !properties.is_empty());
        if !is_struct {
            let ty = self.type_of(&schema, &name.to_upper_camel_case())?;
            self.definition_names.insert(name.to_owned(), ty.clone());
            return Ok(ty);
        }
        let rust_name = self.unique_name(&name.to_upper_camel_case());
        self.definition_names
            .insert(name.to_owned(), rust_name.clone());
        self.object(&schema, &rust_name, name)
    }

    /// Reserves a struct name that no other struct of this resource uses.
    fn unique_name(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }

    fn object(&mut self, schema: &Value, rust_name: &str, origin: &str) -> Result<String> {
        let rust_name = rust_name.to_owned();
        let empty = serde_json::Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let fields =
            self.struct_fields(properties, &strings(schema.get("required")), &rust_name)?;
        if fields.iter().any(|field| mentions(&field.ty, &rust_name)) {
            bail!("{rust_name} is recursive; recursive property types are not supported");
        }
        self.structs.insert(
            rust_name.clone(),
            Struct {
                name: rust_name.clone(),
                origin: format!("the `{origin}` property type"),
                fields,
            },
        );
        Ok(rust_name)
    }
}

const JSON: &str = "Json";

fn mentions(ty: &str, name: &str) -> bool {
    ty.split(|c: char| !c.is_alphanumeric())
        .any(|word| word == name)
}

fn single_pattern(schema: &Value) -> Option<Value> {
    let patterns = schema.get("patternProperties")?.as_object()?;
    if patterns.len() == 1 {
        patterns.values().next().cloned()
    } else {
        None
    }
}

fn attribute(
    schema: &Value,
    properties: &serde_json::Map<String, Value>,
    path: &[String],
) -> Option<Attribute> {
    let mut current = properties.get(path.first()?)?.clone();
    for segment in &path[1..] {
        current = resolve(schema, &current)
            .get("properties")?
            .get(segment)?
            .clone();
    }
    let current = resolve(schema, &current);
    let types = strings(current.get("type"));
    let ty = match types.as_slice() {
        [t] if t == "string" => "String".to_owned(),
        [t] if t == "integer" => "i64".to_owned(),
        [t] if t == "number" => "f64".to_owned(),
        [t] if t == "boolean" => "bool".to_owned(),
        [t] if t == "array" => {
            let items = resolve(schema, current.get("items")?);
            if strings(items.get("type")) == ["string"] {
                "Vec<String>".to_owned()
            } else {
                return None;
            }
        }
        // Objects cannot be read with Fn::GetAtt, only their leaves.
        _ => return None,
    };
    let mut method = path.join("_").to_snake_case();
    if HANDLE_METHODS.contains(&method.as_str()) {
        method = format!("attr_{method}");
    }
    Some(Attribute {
        name: path.join("."),
        method,
        ty,
    })
}

/// Definitions deeper than this are not followed: the schemas' recursive types (a WAF rule's
/// statements, a state machine's nested states) would otherwise go on for ever.
const MAX_CONSTRAINT_DEPTH: usize = 6;

/// The constraints of `property` (at `path`) and of everything below it.
fn collect_constraints(
    schema: &Value,
    property: &Value,
    path: &str,
    following: &mut Vec<String>,
    out: &mut Vec<Constraint>,
) {
    let reference = property
        .get("$ref")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(reference) = &reference {
        if following.contains(reference) || following.len() >= MAX_CONSTRAINT_DEPTH {
            return;
        }
        following.push(reference.clone());
    }
    let node = resolve(schema, property);
    let bound = |key: &str| node.get(key).and_then(Value::as_u64);
    let float = |key: &str| node.get(key).and_then(Value::as_f64);
    let option =
        |value: Option<String>| value.map_or_else(|| "None".to_owned(), |v| format!("Some({v})"));
    let mut push = |rule: String| {
        out.push(Constraint {
            path: path.to_owned(),
            rule,
        });
    };
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        let texts: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        if !texts.is_empty() && texts.len() == values.len() {
            let listed: Vec<String> = texts.iter().map(|text| format!("{text:?}")).collect();
            push(format!("Rule::OneOf(&[{}])", listed.join(", ")));
        }
    }
    if let Some(pattern) = node.get("pattern").and_then(Value::as_str) {
        push(format!("Rule::Pattern({pattern:?})"));
    }
    if bound("minLength").is_some() || bound("maxLength").is_some() {
        push(format!(
            "Rule::Length {{ min: {}, max: {} }}",
            option(bound("minLength").map(|n| n.to_string())),
            option(bound("maxLength").map(|n| n.to_string()))
        ));
    }
    if float("minimum").is_some() || float("maximum").is_some() {
        push(format!(
            "Rule::Range {{ min: {}, max: {} }}",
            option(float("minimum").map(|n| format!("{n:?}"))),
            option(float("maximum").map(|n| format!("{n:?}")))
        ));
    }
    if bound("minItems").is_some() || bound("maxItems").is_some() {
        push(format!(
            "Rule::Items {{ min: {}, max: {} }}",
            option(bound("minItems").map(|n| n.to_string())),
            option(bound("maxItems").map(|n| n.to_string()))
        ));
    }
    object_constraints(&node, path, out);
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            collect_constraints(schema, child, &format!("{path}/{key}"), following, out);
        }
    }
    if let Some(items) = node.get("items") {
        collect_constraints(schema, items, &format!("{path}/*"), following, out);
    }
    if let Some(values) = single_pattern(&node) {
        collect_constraints(schema, &values, &format!("{path}/*"), following, out);
    }
    if reference.is_some() {
        following.pop();
    }
}

/// The rules an object schema places on which of its properties are set together
/// (`dependentRequired`) or alone (cfn-lint's `requiredXor`).
fn object_constraints(node: &Value, path: &str, out: &mut Vec<Constraint>) {
    let names = |values: &Value| -> Vec<String> {
        strings(Some(values))
            .iter()
            .map(|name| format!("{name:?}"))
            .collect()
    };
    if let Some(dependent) = node.get("dependentRequired").and_then(Value::as_object) {
        for (when, then) in dependent {
            out.push(Constraint {
                path: path.to_owned(),
                rule: format!(
                    "Rule::Requires {{ when: {when:?}, then: &[{}] }}",
                    names(then).join(", ")
                ),
            });
        }
    }
    if let Some(exclusive) = node.get("requiredXor") {
        out.push(Constraint {
            path: path.to_owned(),
            rule: format!("Rule::ExactlyOne(&[{}])", names(exclusive).join(", ")),
        });
    }
}

fn resolve(schema: &Value, value: &Value) -> Value {
    match value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("#/definitions/"))
    {
        Some(name) => schema
            .get("definitions")
            .and_then(|definitions| definitions.get(name))
            .cloned()
            .unwrap_or(Value::Null),
        None => value.clone(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Acronyms whose plural or mixed case would split badly (`CallbackURLs` -> `callback_ur_ls`).
const ACRONYMS: &[(&str, &str)] = &[
    ("CNAMEs", "Cnames"),
    ("URLs", "Urls"),
    ("ARNs", "Arns"),
    ("OAuth", "Oauth"),
    ("IPv4", "Ipv4"),
    ("IPv6", "Ipv6"),
];

fn field_name(json_name: &str) -> String {
    let words = ACRONYMS
        .iter()
        .fold(json_name.to_owned(), |name, (from, to)| {
            name.replace(from, to)
        });
    let snake = words.to_snake_case();
    if is_keyword(&snake) {
        format!("r#{snake}")
    } else {
        snake
    }
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "async"
            | "await"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "priv"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "yield"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget() -> Resource {
        Resource::from_schema(
            "AWS::Demo::Widget",
            &json!({
                "definitions": {
                    "Tag": {
                        "type": "object",
                        "properties": { "Key": { "type": "string" }, "Value": { "type": "string" } },
                        "required": ["Key"],
                    },
                },
                "properties": {
                    "Arn": { "type": "string" },
                    "Name": { "type": "string" },
                    "Size": { "type": "integer" },
                    "CallbackURLs": { "type": "array", "items": { "type": "string" } },
                    "Tags": { "type": "array", "items": { "$ref": "#/definitions/Tag" } },
                    "Policy": { "type": ["object", "string"] },
                    "Limits": { "type": "object", "properties": { "Max": { "type": "number" } } },
                },
                "required": ["Name"],
                "readOnlyProperties": ["/properties/Arn"],
            }),
        )
        .unwrap()
    }

    fn field<'a>(resource: &'a Resource, owner: &str, name: &str) -> &'a Field {
        resource
            .structs
            .iter()
            .find(|s| s.name == owner)
            .and_then(|s| s.fields.iter().find(|f| f.json_name == name))
            .unwrap()
    }

    #[test]
    fn required_properties_are_required_and_read_only_ones_are_attributes_not_fields() {
        let widget = widget();
        assert!(field(&widget, "Widget", "Name").required);
        assert!(!field(&widget, "Widget", "Size").required);
        assert!(
            widget.structs[0]
                .fields
                .iter()
                .all(|f| f.json_name != "Arn")
        );
        assert_eq!(widget.attributes.len(), 1);
        assert_eq!(widget.attributes[0].name, "Arn");
        assert_eq!(widget.attributes[0].ty, "String");
    }

    #[test]
    fn scalars_are_values_and_objects_become_structs() {
        let widget = widget();
        assert_eq!(field(&widget, "Widget", "Size").ty, "Value<i64>");
        assert_eq!(field(&widget, "Widget", "Tags").ty, "Vec<Tag>");
        assert_eq!(field(&widget, "Widget", "Policy").ty, "Json");
        assert_eq!(field(&widget, "Widget", "Limits").ty, "WidgetLimits");
        assert_eq!(field(&widget, "WidgetLimits", "Max").ty, "Value<f64>");
        assert!(field(&widget, "Tag", "Key").required);
    }

    #[test]
    fn acronyms_make_readable_field_names() {
        assert_eq!(
            field(&widget(), "Widget", "CallbackURLs").rust_name,
            "callback_urls"
        );
        assert_eq!(field_name("Type"), "r#type");
    }
}
