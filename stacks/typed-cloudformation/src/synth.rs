//! Synthesis: from an [`App`] of stacks to CloudFormation templates, exports, imports and the
//! deploy order.
//!
//! Each stack is rendered once. While rendering stack S, a reference to a resource or parameter
//! of S becomes `Ref`/`Fn::GetAtt`; a reference into another stack P becomes
//! `Fn::ImportValue` of an export named after P and the referenced value, P gains the matching
//! `Output` with `Export`, and S gains a dependency on P. The deploy order is then a topological
//! sort of those dependencies: no list of stacks is ever kept by hand.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, json};

use crate::error::SynthError;
use crate::handle::Condition;
use crate::order::deploy_order;
use crate::stack::{Asset, Entry, Stack};
use crate::value::{CONDITION_MARKER, GET_ATT_MARKER, IF_MARKER, Json, REF_MARKER};
pub(crate) use states_language::canonical;

/// The stacks of one deployment (one stage of an application).
pub struct App {
    name: String,
    stacks: Vec<Stack>,
}

impl App {
    /// `name` prefixes every stack name, e.g. `shop-prod`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            stacks: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts a stack named `<app>-<short_name>`.
    pub fn new_stack(&self, short_name: &str, description: &str) -> Stack {
        Stack::new(&format!("{}-{short_name}", self.name), description)
    }

    pub fn add(&mut self, stack: Stack) {
        self.stacks.push(stack);
    }

    pub fn stacks(&self) -> &[Stack] {
        &self.stacks
    }

    pub fn synth(&self) -> Result<Assembly, SynthError> {
        synth(self)
    }
}

/// The result of synthesis: every stack, in deploy order.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembly {
    pub app: String,
    pub stacks: Vec<SynthesizedStack>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SynthesizedStack {
    /// The CloudFormation stack name.
    pub name: String,
    /// The template, with every object's keys sorted: the same app gives the same bytes.
    pub template: Json,
    /// Stacks whose exports this stack imports, in deploy order.
    pub dependencies: Vec<String>,
    pub exports: Vec<Export>,
    pub assets: Vec<Asset>,
    pub resource_count: usize,
}

/// An automatic export: a value of this stack that another stack uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Export {
    /// The export name, unique in the account and region.
    pub name: String,
    /// The logical id of the output carrying it.
    pub output: String,
    /// The stacks importing it.
    pub importers: Vec<String>,
}

/// A value of one stack used by another: `(producer, logical id, attribute)`.
type Imported = (String, String, Option<String>);

fn synth(app: &App) -> Result<Assembly, SynthError> {
    let mut names = BTreeSet::new();
    for stack in &app.stacks {
        if !names.insert(stack.name.as_str()) {
            return Err(SynthError::DuplicateStack {
                stack: stack.name.clone(),
            });
        }
    }
    let symbols = app
        .stacks
        .iter()
        .map(|stack| Ok((stack.name.clone(), Symbols::of(stack)?)))
        .collect::<Result<BTreeMap<_, _>, SynthError>>()?;

    // Every value of a producer used elsewhere, with its importers.
    let mut imports: BTreeMap<Imported, BTreeSet<String>> = BTreeMap::new();
    let mut bodies = Vec::with_capacity(app.stacks.len());
    for stack in &app.stacks {
        let mut resolver = Resolver {
            stack: &stack.name,
            symbols: &symbols,
            imports: BTreeSet::new(),
        };
        let body = render(stack, &mut resolver)?;
        for imported in resolver.imports {
            imports
                .entry(imported)
                .or_default()
                .insert(stack.name.clone());
        }
        bodies.push(body);
    }

    let mut dependencies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((producer, _, _), importers) in &imports {
        for importer in importers {
            dependencies
                .entry(importer.clone())
                .or_default()
                .insert(producer.clone());
        }
    }
    let declared: Vec<String> = app.stacks.iter().map(|stack| stack.name.clone()).collect();
    let order = deploy_order(&declared, &dependencies)?;
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(index, name)| (name.as_str(), index))
        .collect();

    let mut synthesized: Vec<SynthesizedStack> = Vec::with_capacity(app.stacks.len());
    for (stack, mut body) in app.stacks.iter().zip(bodies) {
        let mut exports = Vec::new();
        for ((producer, logical_id, attribute), importers) in &imports {
            if *producer != stack.name {
                continue;
            }
            let output = output_id(logical_id, attribute.as_deref());
            let outputs = body
                .entry("Outputs")
                .or_insert_with(|| Json::Object(Map::new()));
            let Some(outputs) = outputs.as_object_mut() else {
                continue;
            };
            if outputs.contains_key(&output) {
                return Err(SynthError::OutputClash {
                    stack: stack.name.clone(),
                    output,
                });
            }
            let name = export_name(producer, logical_id, attribute.as_deref());
            outputs.insert(
                output.clone(),
                json!({
                    "Description": format!("Used by {}", importers.iter().cloned().collect::<Vec<_>>().join(", ")),
                    "Value": local_reference(logical_id, attribute.as_deref()),
                    "Export": { "Name": name },
                }),
            );
            exports.push(Export {
                name,
                output,
                importers: importers.iter().cloned().collect(),
            });
        }
        let mut stack_dependencies: Vec<String> = dependencies
            .get(&stack.name)
            .map(|deps| deps.iter().cloned().collect())
            .unwrap_or_default();
        stack_dependencies.sort_by_key(|name| position.get(name.as_str()).copied());
        let mut assets = stack.assets.clone();
        assets.sort();
        synthesized.push(SynthesizedStack {
            name: stack.name.clone(),
            template: canonical(Json::Object(body)),
            dependencies: stack_dependencies,
            exports,
            assets,
            resource_count: stack.resources.len(),
        });
    }
    synthesized.sort_by_key(|stack| position.get(stack.name.as_str()).copied());
    Ok(Assembly {
        app: app.name.clone(),
        stacks: synthesized,
    })
}

/// The export name of a value: `<stack>:<LogicalId>` for `Ref`, `<stack>:<LogicalId>-<Attr>`
/// for an attribute (export names allow letters, digits, `:` and `-`, not `.`).
pub fn export_name(stack: &str, logical_id: &str, attribute: Option<&str>) -> String {
    match attribute {
        None => format!("{stack}:{logical_id}"),
        Some(attribute) => format!("{stack}:{logical_id}-{}", attribute.replace('.', "-")),
    }
}

fn output_id(logical_id: &str, attribute: Option<&str>) -> String {
    let suffix: String = attribute
        .unwrap_or("Ref")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{logical_id}{suffix}")
}

fn local_reference(logical_id: &str, attribute: Option<&str>) -> Json {
    match attribute {
        None => json!({ "Ref": logical_id }),
        Some(attribute) => json!({ "Fn::GetAtt": [logical_id, attribute] }),
    }
}

/// What a stack declares, for checking references before rendering anything that uses them.
struct Symbols {
    resources: BTreeSet<String>,
    parameters: BTreeSet<String>,
    conditions: BTreeSet<String>,
}

impl Symbols {
    fn of(stack: &Stack) -> Result<Self, SynthError> {
        let mut all = BTreeSet::new();
        let ids = stack
            .resources
            .iter()
            .map(|entry| entry.logical_id.as_str())
            .chain(stack.parameters.iter().map(|(name, _)| name.as_str()))
            .chain(stack.conditions.iter().map(|(name, _)| name.as_str()));
        for id in ids {
            if !all.insert(id) {
                return Err(SynthError::DuplicateLogicalId {
                    stack: stack.name.clone(),
                    logical_id: id.to_owned(),
                });
            }
        }
        Ok(Self {
            resources: stack
                .resources
                .iter()
                .map(|e| e.logical_id.clone())
                .collect(),
            parameters: stack.parameters.iter().map(|(n, _)| n.clone()).collect(),
            conditions: stack.conditions.iter().map(|(n, _)| n.clone()).collect(),
        })
    }
}

/// The template name of `condition`, checked to belong to the stack being rendered.
fn condition_name(resolver: &mut Resolver<'_>, condition: &Condition) -> Result<Json, SynthError> {
    let marker = json!({ CONDITION_MARKER: [condition.target.stack, condition.target.logical_id] });
    Ok(resolver.resolve(marker)?["Condition"].clone())
}

fn render(stack: &Stack, resolver: &mut Resolver<'_>) -> Result<Map<String, Json>, SynthError> {
    let mut body = Map::new();
    body.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    body.insert("Description".into(), json!(stack.description));
    if !stack.parameters.is_empty() {
        let parameters = stack
            .parameters
            .iter()
            .map(|(name, parameter)| {
                serde_json::to_value(parameter)
                    .map(|value| (name.clone(), value))
                    .map_err(|source| SynthError::Properties {
                        stack: stack.name.clone(),
                        logical_id: name.clone(),
                        source,
                    })
            })
            .collect::<Result<Map<_, _>, _>>()?;
        body.insert("Parameters".into(), Json::Object(parameters));
    }
    if !stack.conditions.is_empty() {
        let mut conditions = Map::new();
        for (name, definition) in &stack.conditions {
            conditions.insert(name.clone(), resolver.resolve(definition.to_json())?);
        }
        body.insert("Conditions".into(), Json::Object(conditions));
    }
    let resource_ids: BTreeSet<&str> = stack
        .resources
        .iter()
        .map(|e| e.logical_id.as_str())
        .collect();
    let mut resources = Map::new();
    let mut invalid = Vec::new();
    for entry in &stack.resources {
        let properties = entry
            .properties
            .to_json()
            .map_err(|source| SynthError::Properties {
                stack: stack.name.clone(),
                logical_id: entry.logical_id.clone(),
                source,
            })?;
        let mut resource = Map::new();
        resource.insert("Type".into(), json!(entry.type_name));
        // Checked even when empty: a type may require one of its properties.
        let properties = resolver.resolve(properties)?;
        for (path, problem) in crate::validate::check(&properties, entry.constraints) {
            let path = if path.is_empty() {
                path
            } else {
                format!("{path}: ")
            };
            invalid.push(format!(
                "{}/{} ({}) {path}{problem} (added at {}:{})",
                stack.name,
                entry.logical_id,
                entry.type_name,
                entry.added_at.file(),
                entry.added_at.line()
            ));
        }
        if properties.as_object().is_some_and(|map| !map.is_empty()) {
            resource.insert("Properties".into(), properties);
        }
        let options = &entry.options;
        for dependency in &options.depends_on {
            if !resource_ids.contains(dependency.as_str()) {
                return Err(SynthError::UnknownDependsOn {
                    stack: stack.name.clone(),
                    resource: entry.logical_id.clone(),
                    depends_on: dependency.clone(),
                });
            }
        }
        if !options.depends_on.is_empty() {
            resource.insert("DependsOn".into(), json!(options.depends_on));
        }
        if let Some(policy) = options.deletion_policy {
            resource.insert("DeletionPolicy".into(), json!(policy));
        }
        if let Some(policy) = options.update_replace_policy {
            resource.insert("UpdateReplacePolicy".into(), json!(policy));
        }
        if let Some(condition) = &options.condition {
            resource.insert("Condition".into(), condition_name(resolver, condition)?);
        }
        if !options.accepted.is_empty() {
            resource.insert("Metadata".into(), accepted_findings(stack, entry)?);
        }
        resources.insert(entry.logical_id.clone(), Json::Object(resource));
    }
    if !invalid.is_empty() {
        return Err(SynthError::InvalidProperties { problems: invalid });
    }
    body.insert("Resources".into(), Json::Object(resources));
    if !stack.outputs.is_empty() {
        let mut outputs = Map::new();
        for (name, output) in &stack.outputs {
            let mut rendered = json!({
                "Description": output.description,
                "Value": resolver.resolve(output.value.to_json())?,
            });
            if let Some(condition) = &output.condition {
                rendered["Condition"] = condition_name(resolver, condition)?;
            }
            outputs.insert(name.clone(), rendered);
        }
        body.insert("Outputs".into(), Json::Object(outputs));
    }
    Ok(body)
}

/// The checkov suppressions of a resource: `{"checkov": {"skip": [{"id", "comment"}]}}`.
fn accepted_findings(stack: &Stack, entry: &Entry) -> Result<Json, SynthError> {
    let mut skip = Vec::new();
    for accepted in &entry.options.accepted {
        if !accepted.is_well_formed() {
            return Err(SynthError::MalformedAccepted {
                stack: stack.name.clone(),
                logical_id: entry.logical_id.clone(),
                check: accepted.check.to_owned(),
            });
        }
        skip.push(json!({ "id": accepted.check, "comment": accepted.reason }));
    }
    Ok(json!({ "checkov": { "skip": skip } }))
}

/// Turns the intermediate JSON of one stack into CloudFormation.
struct Resolver<'a> {
    stack: &'a str,
    symbols: &'a BTreeMap<String, Symbols>,
    imports: BTreeSet<Imported>,
}

impl Resolver<'_> {
    fn resolve(&mut self, value: Json) -> Result<Json, SynthError> {
        match value {
            Json::Object(map) => {
                if map.len() == 1 {
                    let Some((key, inner)) = map.iter().next() else {
                        return Ok(Json::Object(map));
                    };
                    let strings =
                        |index: usize| inner.get(index).and_then(Json::as_str).unwrap_or_default();
                    match key.as_str() {
                        REF_MARKER => return self.reference(strings(0), strings(1), None),
                        GET_ATT_MARKER => {
                            return self.reference(strings(0), strings(1), Some(strings(2)));
                        }
                        CONDITION_MARKER => {
                            let name = self.condition(strings(0), strings(1))?;
                            return Ok(json!({ "Condition": name }));
                        }
                        IF_MARKER => {
                            let name = self.condition(strings(0), strings(1))?;
                            let then = self.resolve(inner.get(2).cloned().unwrap_or(Json::Null))?;
                            let otherwise =
                                self.resolve(inner.get(3).cloned().unwrap_or(Json::Null))?;
                            return Ok(json!({ "Fn::If": [name, then, otherwise] }));
                        }
                        "Fn::Sub" => {
                            if let Some([template, Json::Object(variables)]) =
                                inner.as_array().map(Vec::as_slice)
                            {
                                let template = template.as_str().unwrap_or_default().to_owned();
                                return self.sub(template, variables.clone());
                            }
                        }
                        _ => {}
                    }
                }
                let mut resolved = Map::new();
                for (key, inner) in map {
                    resolved.insert(key, self.resolve(inner)?);
                }
                Ok(Json::Object(resolved))
            }
            Json::Array(items) => Ok(Json::Array(
                items
                    .into_iter()
                    .map(|item| self.resolve(item))
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(other),
        }
    }

    fn reference(
        &mut self,
        stack: &str,
        logical_id: &str,
        attribute: Option<&str>,
    ) -> Result<Json, SynthError> {
        let unknown = |hint| SynthError::UnknownReference {
            from_stack: self.stack.to_owned(),
            to_stack: stack.to_owned(),
            logical_id: logical_id.to_owned(),
            hint,
        };
        let symbols = self
            .symbols
            .get(stack)
            .ok_or_else(|| unknown(" (the stack is not part of the app)"))?;
        let exists = symbols.resources.contains(logical_id)
            || (attribute.is_none() && symbols.parameters.contains(logical_id));
        if !exists {
            return Err(unknown(""));
        }
        if stack == self.stack {
            return Ok(local_reference(logical_id, attribute));
        }
        self.imports.insert((
            stack.to_owned(),
            logical_id.to_owned(),
            attribute.map(str::to_owned),
        ));
        Ok(json!({ "Fn::ImportValue": export_name(stack, logical_id, attribute) }))
    }

    fn condition(&self, stack: &str, name: &str) -> Result<String, SynthError> {
        let foreign = || SynthError::ForeignCondition {
            stack: self.stack.to_owned(),
            condition_stack: stack.to_owned(),
            condition: name.to_owned(),
        };
        if stack != self.stack {
            return Err(foreign());
        }
        match self.symbols.get(stack) {
            Some(symbols) if symbols.conditions.contains(name) => Ok(name.to_owned()),
            _ => Err(foreign()),
        }
    }

    /// Resolves the variables of an `Fn::Sub` and inlines those `Fn::Sub` can name directly.
    fn sub(
        &mut self,
        mut template: String,
        variables: Map<String, Json>,
    ) -> Result<Json, SynthError> {
        let mut kept = Map::new();
        for (name, value) in variables {
            let resolved = self.resolve(value)?;
            let placeholder = format!("${{{name}}}");
            let inline = match &resolved {
                Json::String(text) => Some(text.replace("${", "${!")),
                Json::Object(map) if map.len() == 1 => match map.iter().next() {
                    Some((key, Json::String(target))) if key == "Ref" => {
                        Some(format!("${{{target}}}"))
                    }
                    Some((key, Json::Array(parts))) if key == "Fn::GetAtt" => {
                        let parts: Vec<&str> = parts.iter().filter_map(Json::as_str).collect();
                        Some(format!("${{{}}}", parts.join(".")))
                    }
                    _ => None,
                },
                _ => None,
            };
            match inline {
                Some(text) => template = template.replace(&placeholder, &text),
                None => {
                    kept.insert(name, resolved);
                }
            }
        }
        if !kept.is_empty() {
            return Ok(json!({ "Fn::Sub": [template, kept] }));
        }
        if has_variable(&template) {
            Ok(json!({ "Fn::Sub": template }))
        } else {
            Ok(Json::String(template.replace("${!", "${")))
        }
    }
}

fn has_variable(template: &str) -> bool {
    template
        .match_indices("${")
        .any(|(index, _)| !template[index + 2..].starts_with('!'))
}
