//! `cargo xtask synth` as a user runs it.

use eventforge_stacks::platform::{self, Config, Stage};
use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

#[test]
fn synth_writes_one_template_per_stack_and_a_manifest_and_prints_the_order() {
    let out = tempfile::tempdir().unwrap();
    let run = xtask()
        .args(["synth", "--stage", "prod", "--format", "yaml", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let expected = platform::synth(&Config::for_stage(Stage::Prod))
        .unwrap()
        .stacks
        .len();
    let summary = String::from_utf8_lossy(&run.stdout);
    assert!(
        summary.contains(&format!("synthesised {expected} stacks")),
        "{summary}"
    );
    assert!(
        summary.contains("eventforge-prod-observability"),
        "{summary}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let stacks = manifest["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), expected);
    for stack in stacks {
        assert!(
            out.path()
                .join(stack["template"].as_str().unwrap())
                .is_file()
        );
    }
}

#[test]
fn synth_twice_gives_identical_files() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for dir in [&first, &second] {
        let run = xtask()
            .args(["synth", "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(run.status.success());
    }
    let mut names: Vec<_> = std::fs::read_dir(first.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    names.sort();
    for name in names {
        assert_eq!(
            std::fs::read(first.path().join(&name)).unwrap(),
            std::fs::read(second.path().join(&name)).unwrap(),
            "{}",
            name.to_string_lossy()
        );
    }
}

#[test]
fn an_unknown_stage_is_refused_with_the_possible_values() {
    let run = xtask().args(["synth", "--stage", "qa"]).output().unwrap();
    assert!(!run.status.success());
    let message = String::from_utf8_lossy(&run.stderr);
    assert!(
        message.contains("invalid value 'qa'") && message.contains("dev, prod"),
        "{message}"
    );
}
