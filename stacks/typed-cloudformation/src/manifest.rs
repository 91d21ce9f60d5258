//! The synthesis output on disk: one template per stack and `manifest.json`, the contract with
//! the deployer.
//!
//! `manifest.json` lists the stacks in deploy order; each entry names its template file, the
//! stacks it depends on, its parameters (those filled by assets are marked), its automatic
//! exports, its outputs for the deployer and the assets (Lambda zips, the API image) the deployer must build and upload first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SynthError;
use crate::stack::Asset;
use crate::synth::{Assembly, SynthesizedStack};
use crate::value::Json;

/// Template serialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Yaml => "yaml",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Bumped when the format changes incompatibly.
    pub version: u32,
    pub app: String,
    pub format: Format,
    /// In deploy order: every stack comes after its dependencies.
    pub stacks: Vec<ManifestStack>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestStack {
    pub name: String,
    /// The template's file name, relative to the manifest.
    pub template: String,
    pub dependencies: Vec<String>,
    pub parameters: Vec<ManifestParameter>,
    pub exports: Vec<ManifestExport>,
    /// Outputs meant for the deployer and operators (the site bucket, the API URL, ...);
    /// automatic exports are listed under `exports` instead.
    pub outputs: Vec<ManifestOutput>,
    pub assets: Vec<Asset>,
    pub resource_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestOutput {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestParameter {
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    /// True when an asset fills the parameter (see the stack's `assets`).
    pub from_asset: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestExport {
    pub name: String,
    pub output: String,
    pub importers: Vec<String>,
}

pub const MANIFEST_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

impl Assembly {
    pub fn manifest(&self, format: Format) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            app: self.app.clone(),
            format,
            stacks: self
                .stacks
                .iter()
                .map(|stack| manifest_stack(stack, format))
                .collect(),
        }
    }

    /// The bytes of one stack's template.
    pub fn render(stack: &SynthesizedStack, format: Format) -> Result<String, SynthError> {
        match format {
            Format::Json => serde_json::to_string_pretty(&stack.template)
                .map(|text| text + "\n")
                .map_err(|source| SynthError::Json {
                    stack: stack.name.clone(),
                    source,
                }),
            Format::Yaml => {
                serde_yaml_ng::to_string(&stack.template).map_err(|source| SynthError::Yaml {
                    stack: stack.name.clone(),
                    source,
                })
            }
        }
    }

    /// Writes every template and `manifest.json` into `dir` (created if missing); returns the
    /// paths written, manifest last.
    pub fn write(&self, dir: &Path, format: Format) -> Result<Vec<PathBuf>, SynthError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SynthError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut written = Vec::new();
        for stack in &self.stacks {
            let path = dir.join(template_file(&stack.name, format));
            std::fs::write(&path, Self::render(stack, format)?).map_err(io(&path))?;
            written.push(path);
        }
        let path = dir.join(MANIFEST_FILE);
        let manifest = serde_json::to_string_pretty(&self.manifest(format)).map_err(|source| {
            SynthError::Json {
                stack: MANIFEST_FILE.to_owned(),
                source,
            }
        })?;
        std::fs::write(&path, manifest + "\n").map_err(io(&path))?;
        written.push(path);
        Ok(written)
    }
}

pub fn template_file(stack: &str, format: Format) -> String {
    format!("{stack}.template.{}", format.extension())
}

fn manifest_stack(stack: &SynthesizedStack, format: Format) -> ManifestStack {
    let parameters = stack
        .template
        .get("Parameters")
        .and_then(Json::as_object)
        .map(|parameters| {
            parameters
                .iter()
                .map(|(name, declaration)| ManifestParameter {
                    name: name.clone(),
                    description: declaration["Description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    default: declaration.get("Default").cloned(),
                    from_asset: stack.assets.iter().any(|asset| asset.parameter == *name),
                })
                .collect()
        })
        .unwrap_or_default();
    ManifestStack {
        name: stack.name.clone(),
        template: template_file(&stack.name, format),
        dependencies: stack.dependencies.clone(),
        parameters,
        exports: stack
            .exports
            .iter()
            .map(|export| ManifestExport {
                name: export.name.clone(),
                output: export.output.clone(),
                importers: export.importers.clone(),
            })
            .collect(),
        outputs: stack
            .template
            .get("Outputs")
            .and_then(Json::as_object)
            .map(|outputs| {
                outputs
                    .iter()
                    .filter(|(_, output)| output.get("Export").is_none())
                    .map(|(name, output)| ManifestOutput {
                        name: name.clone(),
                        description: output["Description"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        assets: stack.assets.clone(),
        resource_count: stack.resource_count,
    }
}
