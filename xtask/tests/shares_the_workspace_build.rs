//! `cargo xtask test` builds xtask alone (`cargo run -p xtask`) and then the whole workspace
//! (`cargo test --workspace`). A dependency built with other features in one than in the other is
//! compiled twice, with everything above it: with tokio or serde, most of the AWS SDK, half an
//! hour of CI on two cores. xtask's manifest turns on what the workspace turns on; this test
//! says what is missing when it falls behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Package ("name vX.Y.Z") to the features cargo turns on in it for the given selection.
fn features(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test")).join("..");
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "--locked", "--offline", "--prefix", "none"])
        .args(["--format", "{p}|{f}"])
        .args(selection)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("utf-8").lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        packages.entry(package.to_owned()).or_default().extend(
            features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    packages
}

#[test]
fn xtask_alone_turns_on_the_same_features_as_the_workspace_tests() {
    let alone = features(&["--package", "xtask", "--edges", "normal,build"]);
    let workspace = features(&["--workspace", "--edges", "normal,build,dev"]);
    assert!(alone.keys().any(|package| package.starts_with("tokio v")));
    let differing: Vec<String> = alone
        .iter()
        .filter_map(|(package, features)| {
            let in_workspace = workspace.get(package)?;
            let missing: Vec<&String> = in_workspace.difference(features).collect();
            (!missing.is_empty()).then(|| format!("{package}: add features {missing:?}"))
        })
        .collect();
    assert!(
        differing.is_empty(),
        "xtask/Cargo.toml should turn these on too (its unused-dependencies section), or \
         `cargo xtask test` compiles them and their dependants twice:\n{}",
        differing.join("\n")
    );
}
