//! `cargo xtask test` builds xtask alone (`cargo run -p xtask`, then with its `deploy` feature)
//! and then the whole workspace (`cargo test --workspace`). A dependency built with other features in one than in the other is
//! compiled twice, with everything above it: with tokio or serde, most of the AWS SDK, half an
//! hour of CI on two cores. xtask's manifest, through `xtask-shared-build`, turns on what the
//! workspace turns on; this test says what is missing when it falls behind.

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

/// What to add to xtask-shared-build's manifest so that building `selection` turns on what the
/// workspace's tests turn on; empty when nothing is missing.
fn missing_features(selection: &[&str]) -> Vec<String> {
    let alone = features(&[selection, &["--edges", "normal,build"]].concat());
    let workspace = features(&["--workspace", "--edges", "normal,build,dev"]);
    assert!(alone.keys().any(|package| package.starts_with("tokio v")));
    alone
        .iter()
        .filter_map(|(package, features)| {
            let in_workspace = workspace.get(package)?;
            let missing: Vec<&String> = in_workspace.difference(features).collect();
            (!missing.is_empty()).then(|| format!("{package}: add features {missing:?}"))
        })
        .collect()
}

#[test]
fn xtask_alone_turns_on_the_same_features_as_the_workspace_tests() {
    // `cargo xtask dev` and the other commands without the deployer.
    let differing = missing_features(&["--package", "xtask"]);
    assert!(
        differing.is_empty(),
        "xtask/shared-build/Cargo.toml should turn these on too, or \
         `cargo xtask test` compiles them and their dependants twice:\n{}",
        differing.join("\n")
    );
}

#[test]
fn xtask_with_the_deployer_turns_on_the_same_features_as_the_workspace_tests() {
    // `cargo xtask test` and the deploy commands run this build.
    let differing = missing_features(&["--package", "xtask", "--features", "deploy"]);
    assert!(
        differing.is_empty(),
        "xtask/shared-build/Cargo.toml should turn these on too, or the first deploy command after the tests \
         compiles them and their dependants again:\n{}",
        differing.join("\n")
    );
}
