//! The synthesised templates and manifest are reviewed artefacts: they are committed under
//! `tests/snapshots/<stage>/` and must match byte for byte. After an intended change, run
//! `UPDATE_SNAPSHOTS=1 cargo test -p eventforge-stacks --test stacks snapshots` and review the diff.

use std::path::{Path, PathBuf};

use eventforge_stacks::platform::{self, Config, Stage};
use typed_cloudformation::manifest::Format;

fn snapshot_dir(stage: Stage) -> PathBuf {
    // Read when the test runs, not baked in by `env!`: cargo reuses a test binary built from
    // another checkout of the same sources when they share a target directory (CI and
    // development do here), and it must read this checkout's snapshots.
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("tests/snapshots")
        .join(stage.name())
}

fn check(stage: Stage) {
    let produced = tempfile::tempdir().unwrap();
    let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
    let written = assembly.write(produced.path(), Format::Json).unwrap();
    let expected_dir = snapshot_dir(stage);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let _ = std::fs::remove_dir_all(&expected_dir);
        assembly.write(&expected_dir, Format::Json).unwrap();
        return;
    }
    let mut expected_files: Vec<_> = std::fs::read_dir(&expected_dir)
        .unwrap_or_else(|_| {
            panic!(
                "no snapshots in {}: run with UPDATE_SNAPSHOTS=1",
                expected_dir.display()
            )
        })
        .map(|entry| entry.unwrap().file_name())
        .collect();
    expected_files.sort();
    let mut produced_files: Vec<_> = written
        .iter()
        .map(|path| path.file_name().unwrap().to_owned())
        .collect();
    produced_files.sort();
    assert_eq!(produced_files, expected_files, "the set of files changed");
    for name in produced_files {
        let actual = std::fs::read_to_string(produced.path().join(&name)).unwrap();
        let expected = std::fs::read_to_string(expected_dir.join(&name)).unwrap();
        assert!(
            actual == expected,
            "{} differs from its snapshot; if intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff",
            name.to_string_lossy()
        );
    }
}

#[test]
fn dev_templates_match_their_snapshots() {
    check(Stage::Dev);
}

#[test]
fn prod_templates_match_their_snapshots() {
    check(Stage::Prod);
}
