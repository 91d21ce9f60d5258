//! What a changed file calls for: which of the shipped artefacts it goes into (the functions'
//! zips, the API image, the dashboard) and whether it can change the templates, from the
//! workspace's own dependency graph (`cargo metadata`), so a new crate needs no entry here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::frontend::BUILD_INPUTS;
use crate::process::cargo;

/// The package whose binaries are the Lambda functions, one `src/bin/<function>.rs` each.
pub const FUNCTIONS_PACKAGE: &str = "eventforge-functions";
/// The package whose binary is the API image's.
pub const API_PACKAGE: &str = "eventforge-api";
/// The package the templates are synthesised from.
const STACKS_PACKAGE: &str = "eventforge-stacks";
/// Packages whose change makes this running command out of date: it and its deploy engine.
const TOOLING_PACKAGES: &[&str] = &["xtask", "eventforge-deployer"];

/// Which functions to rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Functions {
    #[default]
    None,
    /// Only these binaries' own files changed.
    Only(BTreeSet<String>),
    /// Something every function links changed.
    All,
}

impl Functions {
    fn add(&mut self, other: Functions) {
        *self = match (std::mem::take(self), other) {
            (Functions::All, _) | (_, Functions::All) => Functions::All,
            (Functions::None, other) | (other, Functions::None) => other,
            (Functions::Only(mut these), Functions::Only(those)) => {
                these.extend(those);
                Functions::Only(these)
            }
        };
    }
}

/// What a batch of changed files calls for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Work {
    pub functions: Functions,
    pub api: bool,
    pub site: bool,
    /// The templates may have changed, or this command did: build it again and start over,
    /// which synthesises afresh and deploys through CloudFormation what changed.
    pub restart: Option<String>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self == &Work::default()
    }

    fn add(&mut self, other: Work) {
        self.functions.add(other.functions);
        self.api |= other.api;
        self.site |= other.site;
        if self.restart.is_none() {
            self.restart = other.restart;
        }
    }
}

/// A workspace member and the artefacts its sources go into.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    dir: PathBuf,
    functions: bool,
    api: bool,
    templates: bool,
}

/// The workspace as `watch` reads it.
#[derive(Debug, Clone)]
pub struct Sources {
    root: PathBuf,
    /// Deepest directory first, so a file belongs to the innermost package.
    members: Vec<Member>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    /// Set for the workspace's own crates.
    path: Option<PathBuf>,
    /// `None` for a normal dependency, `dev` or `build`.
    kind: Option<String>,
}

impl Sources {
    /// Reads the workspace at `root` with `cargo metadata` (its own packages only: quick and
    /// offline).
    pub fn read(root: &Path) -> Result<Self> {
        let output = cargo()
            .current_dir(root)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .output()
            .context("cannot run cargo metadata")?;
        anyhow::ensure!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let metadata: Metadata = serde_json::from_slice(&output.stdout)
            .context("cargo metadata printed something other than its JSON")?;
        Ok(Self::from_metadata(metadata))
    }

    fn from_metadata(metadata: Metadata) -> Self {
        // What each member builds on among the others (dev-dependencies do not ship).
        let uses: BTreeMap<&str, Vec<&str>> = metadata
            .packages
            .iter()
            .map(|package| {
                let used = package
                    .dependencies
                    .iter()
                    .filter(|dependency| {
                        dependency.path.is_some() && dependency.kind.as_deref() != Some("dev")
                    })
                    .map(|dependency| dependency.name.as_str())
                    .collect();
                (package.name.as_str(), used)
            })
            .collect();
        let functions = closure(&uses, FUNCTIONS_PACKAGE);
        let api = closure(&uses, API_PACKAGE);
        let templates = closure(&uses, STACKS_PACKAGE);
        let mut members: Vec<Member> = metadata
            .packages
            .iter()
            .map(|package| Member {
                name: package.name.clone(),
                dir: package
                    .manifest_path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                functions: functions.contains(package.name.as_str()),
                api: api.contains(package.name.as_str()),
                templates: templates.contains(package.name.as_str())
                    || TOOLING_PACKAGES.contains(&package.name.as_str()),
            })
            .collect();
        members.sort_by_key(|member| std::cmp::Reverse(member.dir.components().count()));
        Self {
            root: metadata.workspace_root,
            members,
        }
    }

    /// The directories and files to watch for the artefacts built from source: every member's
    /// sources and manifest, the workspace manifest and lock file, the dashboard's build inputs.
    pub fn watched(&self, site: bool) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .members
            .iter()
            .flat_map(|member| {
                ["src", "build.rs", "Cargo.toml"].map(|entry| member.dir.join(entry))
            })
            .chain(["Cargo.toml", "Cargo.lock"].map(|file| self.root.join(file)))
            .collect();
        if site {
            paths.extend(
                BUILD_INPUTS
                    .iter()
                    .map(|input| self.root.join("frontend").join(input)),
            );
        }
        paths.retain(|path| path.exists());
        paths
    }

    /// What one changed file calls for; empty for files no artefact is built from (tests,
    /// benchmarks, documents, editors' swap files).
    pub fn classify(&self, path: &Path) -> Work {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return Work::default();
        };
        if is_editor_scratch(path) {
            return Work::default();
        }
        if relative == Path::new("Cargo.toml") || relative == Path::new("Cargo.lock") {
            return Work {
                restart: Some(relative.display().to_string()),
                ..Work::everything()
            };
        }
        if let Ok(dashboard) = relative.strip_prefix("frontend") {
            let is_input = BUILD_INPUTS
                .iter()
                .any(|input| dashboard.starts_with(input));
            return Work {
                site: is_input,
                ..Work::default()
            };
        }
        let Some(member) = self
            .members
            .iter()
            .find(|member| path.starts_with(&member.dir))
        else {
            return Work::default();
        };
        let inside = path.strip_prefix(&member.dir).unwrap_or(path);
        let shipped = inside.starts_with("src")
            || inside == Path::new("build.rs")
            || inside == Path::new("Cargo.toml");
        if !shipped {
            return Work::default();
        }
        let functions = match (member.name.as_str(), own_binary(inside)) {
            (FUNCTIONS_PACKAGE, Some(function)) => Functions::Only(BTreeSet::from([function])),
            _ if member.functions => Functions::All,
            _ => Functions::None,
        };
        Work {
            functions,
            api: member.api,
            site: false,
            restart: member.templates.then(|| member.name.clone()),
        }
    }

    /// What all of `paths` call for together.
    pub fn classify_all<'a>(&self, paths: impl IntoIterator<Item = &'a Path>) -> Work {
        let mut work = Work::default();
        for path in paths {
            work.add(self.classify(path));
        }
        work
    }
}

impl Work {
    fn everything() -> Self {
        Work {
            functions: Functions::All,
            api: true,
            site: false,
            restart: None,
        }
    }
}

/// The function whose own binary file `inside` (relative to the functions package) is.
fn own_binary(inside: &Path) -> Option<String> {
    let name = inside.strip_prefix("src/bin").ok()?;
    let mut components = name.components();
    let file = components.next()?.as_os_str().to_str()?;
    // `src/bin/<name>.rs`, or `src/bin/<name>/main.rs` and its modules.
    Some(file.strip_suffix(".rs").unwrap_or(file).to_owned())
}

/// Editors write these beside the file being edited; they are never built.
fn is_editor_scratch(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return true;
    };
    name.starts_with(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.starts_with("4913")
}

/// `root` and every member it builds on, transitively.
fn closure<'a>(uses: &BTreeMap<&'a str, Vec<&'a str>>, root: &'a str) -> BTreeSet<&'a str> {
    let mut reached = BTreeSet::new();
    let mut pending = vec![root];
    while let Some(name) = pending.pop() {
        if reached.insert(name) {
            pending.extend(uses.get(name).into_iter().flatten().copied());
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::workspace_root;

    fn workspace() -> Sources {
        Sources::read(&workspace_root()).expect("cargo metadata reads the workspace")
    }

    fn classify(sources: &Sources, relative: &str) -> Work {
        sources.classify(&workspace_root().join(relative))
    }

    #[test]
    fn a_functions_own_binary_rebuilds_that_function_alone() {
        let sources = workspace();
        let work = classify(&sources, "lambdas/functions/src/bin/charge-payment.rs");
        assert_eq!(
            work,
            Work {
                functions: Functions::Only(BTreeSet::from(["charge-payment".to_owned()])),
                ..Work::default()
            }
        );
    }

    #[test]
    fn the_application_rebuilds_every_function_and_the_api_and_leaves_the_templates_alone() {
        // The application crate is behind every function and the API (its commands).
        let work = classify(&workspace(), "services/application/src/saga.rs");
        assert_eq!(work.functions, Functions::All);
        assert!(work.api && work.restart.is_none(), "{work:?}");
    }

    #[test]
    fn the_api_crate_rebuilds_the_image_only() {
        let work = classify(&workspace(), "services/api/src/lib.rs");
        assert_eq!(
            work,
            Work {
                api: true,
                ..Work::default()
            }
        );
    }

    #[test]
    fn a_crate_the_stacks_build_on_means_synthesising_again() {
        let sources = workspace();
        let stacks = classify(&sources, "stacks/src/platform/messaging.rs");
        assert_eq!(stacks.restart.as_deref(), Some("eventforge-stacks"));
        // The domain is behind the stacks, the functions and the API alike.
        let core = classify(&sources, "services/core/src/lib.rs");
        assert_eq!(core.restart.as_deref(), Some("eventforge-core"));
        assert!(core.api && core.functions == Functions::All, "{core:?}");
        // This command's own code too: the running one is out of date.
        let itself = classify(&sources, "xtask/src/deploy/watch.rs");
        assert_eq!(itself.restart.as_deref(), Some("xtask"));
        let lock = classify(&sources, "Cargo.lock");
        assert!(lock.restart.is_some() && lock.api, "{lock:?}");
    }

    #[test]
    fn the_dashboard_sources_republish_the_site_and_its_build_output_does_not() {
        let sources = workspace();
        assert!(classify(&sources, "frontend/src/pages/Orders.tsx").site);
        assert!(classify(&sources, "frontend/index.html").site);
        assert!(classify(&sources, "frontend/dist/index.html").is_empty());
        assert!(classify(&sources, "frontend/e2e/orders.spec.ts").is_empty());
    }

    #[test]
    fn tests_documents_and_scratch_files_call_for_nothing() {
        let sources = workspace();
        for relative in [
            "services/api/tests/orders.rs",
            "services/api/benches/api.rs",
            "README.md",
            "lambdas/functions/src/bin/.#charge-payment.rs",
            "services/api/src/lib.rs~",
            "services/api/src/.lib.rs.swp",
            "target/debug/xtask",
        ] {
            assert!(
                classify(&sources, relative).is_empty(),
                "{relative} should call for nothing"
            );
        }
        assert!(sources.classify(Path::new("/elsewhere/lib.rs")).is_empty());
    }

    #[test]
    fn a_batch_asks_for_the_union_of_its_files() {
        let sources = workspace();
        let root = workspace_root();
        let paths = [
            root.join("lambdas/functions/src/bin/charge-payment.rs"),
            root.join("lambdas/functions/src/bin/confirm-order.rs"),
            root.join("services/api/src/lib.rs"),
        ];
        let work = sources.classify_all(paths.iter().map(PathBuf::as_path));
        assert_eq!(
            work.functions,
            Functions::Only(BTreeSet::from([
                "charge-payment".to_owned(),
                "confirm-order".to_owned()
            ]))
        );
        assert!(work.api && work.restart.is_none());
        let with_application = sources.classify_all(
            [root.join("services/application/src/saga.rs")]
                .iter()
                .chain(&paths)
                .map(PathBuf::as_path),
        );
        assert_eq!(with_application.functions, Functions::All);
    }

    #[test]
    fn the_watched_paths_are_the_sources_not_the_build_output() {
        let sources = workspace();
        let watched = sources.watched(true);
        let root = workspace_root();
        assert!(watched.contains(&root.join("lambdas/functions/src")));
        assert!(watched.contains(&root.join("Cargo.lock")));
        assert!(watched.contains(&root.join("frontend/src")));
        assert!(
            watched
                .iter()
                .all(|path| !path.starts_with(root.join("target"))
                    && !path.ends_with("node_modules")),
            "{watched:?}"
        );
        assert!(!sources.watched(false).contains(&root.join("frontend/src")));
    }
}
