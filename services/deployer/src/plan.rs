//! What to deploy: the synthesised stacks in dependency order, and the fingerprint that decides
//! whether a deployed stack is already up to date.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use typed_cloudformation::manifest::{Format, MANIFEST_FILE, MANIFEST_VERSION, Manifest};
use typed_cloudformation::stack::{Asset, AssetKind};
use typed_cloudformation::synth::Assembly;

use crate::error::DeployError;

/// The stack tag holding the fingerprint of what was last deployed.
pub const FINGERPRINT_TAG: &str = "eventforge:fingerprint";
/// The stack tag holding the hash of the template alone, which tells a code-only change (hotswap
/// candidate) from an infrastructure change.
pub const TEMPLATE_TAG: &str = "eventforge:template";

#[derive(Debug, Clone)]
pub struct Plan {
    pub app: String,
    /// In deploy order: every stack after the stacks it depends on.
    pub stacks: Vec<PlannedStack>,
}

#[derive(Debug, Clone)]
pub struct PlannedStack {
    pub name: String,
    pub template: Json,
    pub dependencies: Vec<String>,
    pub assets: Vec<Asset>,
}

impl PlannedStack {
    /// The parameters the stack declares that no asset fills, with their declarations: the
    /// ones an operator sets (the SES sender, the alarm email, ...).
    pub fn own_parameters(&self) -> impl Iterator<Item = (&String, &Json)> {
        self.template["Parameters"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| !self.assets.iter().any(|asset| &asset.parameter == *name))
    }
}

impl Plan {
    pub fn from_assembly(assembly: &Assembly) -> Self {
        Self {
            app: assembly.app.clone(),
            stacks: assembly
                .stacks
                .iter()
                .map(|stack| PlannedStack {
                    name: stack.name.clone(),
                    template: stack.template.clone(),
                    dependencies: stack.dependencies.clone(),
                    assets: stack.assets.clone(),
                })
                .collect(),
        }
    }

    /// The assembly in `dir` as `cargo xtask synth` writes it: `manifest.json` (the deployer's
    /// contract with synthesis) and the templates it names, JSON or YAML.
    pub fn load(dir: &Path) -> Result<Self, DeployError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (path.clone(), text))
                .map_err(|source| DeployError::Io { path, source })
        };
        let unreadable = |path: &Path, reason: String| DeployError::NotAnAssembly {
            path: path.to_path_buf(),
            reason,
        };
        let (path, text) = read(MANIFEST_FILE)?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|error| unreadable(&path, error.to_string()))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(unreadable(
                &path,
                format!(
                    "manifest version {}, this deployer reads {MANIFEST_VERSION}",
                    manifest.version
                ),
            ));
        }
        let stacks = manifest
            .stacks
            .into_iter()
            .map(|stack| {
                let (path, text) = read(&stack.template)?;
                let template: Json = match manifest.format {
                    Format::Json => serde_json::from_str(&text).map_err(|e| e.to_string()),
                    Format::Yaml => serde_yaml_ng::from_str(&text).map_err(|e| e.to_string()),
                }
                .map_err(|reason| unreadable(&path, reason))?;
                Ok(PlannedStack {
                    name: stack.name,
                    template,
                    dependencies: stack.dependencies,
                    assets: stack.assets,
                })
            })
            .collect::<Result<_, DeployError>>()?;
        Ok(Self {
            app: manifest.app,
            stacks,
        })
    }

    /// The stack holding the asset bucket and the container repository.
    pub fn bootstrap_name(&self) -> String {
        format!("{}-bootstrap", self.app)
    }

    pub fn stack(&self, name: &str) -> Option<&PlannedStack> {
        self.stacks.iter().find(|stack| stack.name == name)
    }

    /// Every Lambda function some stack needs a zip for.
    pub fn lambda_functions(&self) -> Vec<String> {
        let mut functions: Vec<String> = self
            .stacks
            .iter()
            .flat_map(|stack| &stack.assets)
            .filter_map(|asset| match &asset.kind {
                AssetKind::LambdaZip { function } => Some(function.clone()),
                AssetKind::ContainerImage { .. } | AssetKind::ManagedPrefixList { .. } => None,
            })
            .collect();
        functions.sort();
        functions.dedup();
        functions
    }

    pub fn needs_image(&self) -> bool {
        self.stacks
            .iter()
            .flat_map(|stack| &stack.assets)
            .any(|asset| matches!(asset.kind, AssetKind::ContainerImage { .. }))
    }

    /// Every stack the named one depends on, transitively.
    pub fn dependencies_of(&self, name: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut queue = vec![name.to_owned()];
        while let Some(next) = queue.pop() {
            for dependency in self
                .stack(&next)
                .map(|stack| stack.dependencies.clone())
                .unwrap_or_default()
            {
                if found.insert(dependency.clone()) {
                    queue.push(dependency);
                }
            }
        }
        found
    }

    /// The named stacks and every stack that (transitively) depends on them, in reverse deploy
    /// order: the order in which they can be deleted.
    pub fn with_dependents_reversed(&self, names: &[String]) -> Vec<String> {
        let mut selected: Vec<String> = Vec::new();
        for stack in &self.stacks {
            if names.contains(&stack.name)
                || stack
                    .dependencies
                    .iter()
                    .any(|dependency| selected.contains(dependency))
            {
                selected.push(stack.name.clone());
            }
        }
        selected.reverse();
        selected
    }
}

/// A hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash of a template, as sent (after any emulator adaptation). `serde_json` keeps object
/// keys sorted, so equal templates give equal bytes.
pub fn template_hash(template: &Json) -> String {
    sha256_hex(template.to_string().as_bytes())
}

/// What makes a deployed stack current: its template and every parameter value (asset
/// parameters carry content hashes, so a changed zip or image changes the fingerprint).
pub fn fingerprint(template_hash: &str, parameters: &BTreeMap<String, String>) -> String {
    // JSON, so no name or value can imitate a separator.
    let parameters = serde_json::to_string(parameters).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(template_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(parameters.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(format: Format) -> (tempfile::TempDir, Assembly) {
        use eventforge_stacks::platform::{self, Config, Stage};
        let assembly = platform::synth(&Config::for_stage(Stage::Dev)).expect("synth");
        let dir = tempfile::tempdir().expect("temp dir");
        assembly.write(dir.path(), format).expect("write");
        (dir, assembly)
    }

    #[test]
    fn the_plan_read_from_the_manifest_is_the_plan_of_the_assembly_in_json_and_yaml() {
        for format in [Format::Json, Format::Yaml] {
            let (dir, assembly) = written(format);
            let loaded = Plan::load(dir.path()).expect("load");
            let direct = Plan::from_assembly(&assembly);
            assert_eq!(loaded.app, direct.app);
            let summary = |plan: &Plan| -> Vec<(String, Json, Vec<String>, Vec<Asset>)> {
                plan.stacks
                    .iter()
                    .map(|s| {
                        (
                            s.name.clone(),
                            s.template.clone(),
                            s.dependencies.clone(),
                            s.assets.clone(),
                        )
                    })
                    .collect()
            };
            assert_eq!(summary(&loaded), summary(&direct));
        }
    }

    #[test]
    fn a_directory_without_an_assembly_or_of_another_version_is_refused_with_the_remedy() {
        let empty = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            Plan::load(empty.path()),
            Err(DeployError::Io { .. })
        ));
        let (dir, _) = written(Format::Json);
        let path = dir.path().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).expect("manifest");
        std::fs::write(&path, text.replacen("\"version\": 1", "\"version\": 99", 1))
            .expect("write");
        let error = Plan::load(dir.path()).expect_err("another version");
        assert!(error.to_string().contains("cargo xtask synth"), "{error}");
    }
    use serde_json::json;

    fn parameters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn the_fingerprint_changes_with_the_template_or_any_parameter_and_nothing_else() {
        let template = template_hash(&json!({ "Resources": {} }));
        let base = fingerprint(&template, &parameters(&[("Code", "a.zip")]));
        assert_eq!(
            base,
            fingerprint(&template, &parameters(&[("Code", "a.zip")]))
        );
        assert_ne!(
            base,
            fingerprint(&template, &parameters(&[("Code", "b.zip")]))
        );
        let other = template_hash(&json!({ "Resources": { "Q": {} } }));
        assert_ne!(base, fingerprint(&other, &parameters(&[("Code", "a.zip")])));
    }

    #[test]
    fn a_parameter_cannot_pass_for_another_by_moving_the_separator() {
        let template = template_hash(&json!({}));
        assert_ne!(
            fingerprint(&template, &parameters(&[("a", "b=c")])),
            fingerprint(&template, &parameters(&[("a=b", "c")]))
        );
    }
}
