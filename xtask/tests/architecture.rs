//! ARCHITECTURE.md's map of the crates, executed: every crate of the workspace has a row, every
//! row is a crate of the workspace, and no crate, built on its own, depends (directly or through
//! others) on a crate its row's "Must not depend on" column names in backticks.
//!
//! The dependencies are cargo's own: the workspace's packages from `cargo metadata`, and each
//! package's normal dependencies from `cargo tree -p <package>`, which resolves features as
//! building that package alone does (a feature another member turns on for the whole workspace,
//! such as the handlers' `local`, is not counted against a crate that never asks for it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One row of the map: a crate and the crate-name patterns it must not depend on.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    krate: String,
    forbidden: Vec<String>,
}

/// Every text between a pair of backticks in `cell`.
fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// A backticked word names a crate (or a pattern of crates, `aws-sdk-*`) when it could be one;
/// other code in the column (`Arc<dyn Store>`, `main.rs`) is prose.
fn is_crate_pattern(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_*".contains(c))
}

/// The rows of the "Map of the crates" table whose first cell is a crate in backticks.
fn map_rows(markdown: &str) -> Vec<Row> {
    markdown
        .split("## Map of the crates")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            let krate = *backticked(cells.first()?).first()?;
            let forbidden = backticked(cells.last()?)
                .into_iter()
                .filter(|word| is_crate_pattern(word))
                .map(str::to_owned)
                .collect();
            Some(Row {
                krate: krate.to_owned(),
                forbidden,
            })
        })
        .collect()
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// Every dependency a row forbids and its crate has, as `crate -> dependency (pattern)`.
fn violations(rows: &[Row], dependencies: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for row in rows {
        let Some(dependencies) = dependencies.get(&row.krate) else {
            continue;
        };
        for pattern in &row.forbidden {
            for dependency in dependencies.iter().filter(|name| matches(pattern, name)) {
                if *dependency != row.krate {
                    found.push(format!(
                        "{} depends on {dependency}, which its row forbids (`{pattern}`)",
                        row.krate
                    ));
                }
            }
        }
    }
    found
}

fn cargo() -> Command {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(root());
    command
}

fn workspace_packages() -> BTreeSet<String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| package["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// The names of every normal dependency of `package`, built on its own, direct or not.
fn dependencies_of(package: &str) -> BTreeSet<String> {
    let output = cargo()
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_owned)
        .collect()
}

fn the_map() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    map_rows(&text)
}

#[test]
fn every_crate_of_the_workspace_has_a_row_and_every_row_is_a_crate() {
    let on_the_map: BTreeSet<String> = the_map().into_iter().map(|row| row.krate).collect();
    let packages = workspace_packages();
    let missing: Vec<_> = packages.difference(&on_the_map).collect();
    let unknown: Vec<_> = on_the_map.difference(&packages).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "crates without a row in ARCHITECTURE.md: {missing:?}; rows naming no crate: {unknown:?}"
    );
}

#[test]
fn every_row_names_what_its_crate_must_not_depend_on() {
    let silent: Vec<String> = the_map()
        .into_iter()
        .filter(|row| row.forbidden.is_empty())
        .map(|row| row.krate)
        .collect();
    assert!(silent.is_empty(), "rows that forbid nothing: {silent:?}");
}

#[test]
fn no_crate_depends_on_what_its_row_forbids() {
    let rows = the_map();
    let dependencies: BTreeMap<String, BTreeSet<String>> = rows
        .iter()
        .map(|row| (row.krate.clone(), dependencies_of(&row.krate)))
        .collect();
    let found = violations(&rows, &dependencies);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_forbidden_dependency_is_found_through_a_pattern_and_prose_is_not_a_pattern() {
    let rows = map_rows(
        "## Map of the crates\n\n| Crate | Path | Job | Must not depend on |\n| --- | --- | --- | --- |\n\
         | `lib` | `lib` | A library | `aws-sdk-*`, `tokio` (takes `Arc<dyn Store>`) |\n\
         | dashboard | `frontend` | Not a crate | hand-written routing |\n",
    );
    assert_eq!(
        rows,
        [Row {
            krate: "lib".to_owned(),
            forbidden: vec!["aws-sdk-*".to_owned(), "tokio".to_owned()],
        }]
    );
    let dependencies = BTreeMap::from([(
        "lib".to_owned(),
        BTreeSet::from(["aws-sdk-s3".to_owned(), "serde".to_owned()]),
    )]);
    assert_eq!(
        violations(&rows, &dependencies),
        ["lib depends on aws-sdk-s3, which its row forbids (`aws-sdk-*`)"]
    );
}
