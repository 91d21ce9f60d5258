//! The committed `stacks/typed-cloudformation/src/generated` is exactly what `cargo xtask codegen` produces from the
//! pinned cfn-lint schemas: nobody edited it by hand and nobody forgot to regenerate. Needs
//! cfn-lint 1.51.0 for python3 (`pip install cfn-lint==1.51.0`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                found.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    found
}

#[test]
fn regenerating_the_resource_types_changes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let generated = out.path().join("generated");
    let run = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--out"])
        .arg(&generated)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "codegen failed (is cfn-lint 1.51.0 installed? `pip install cfn-lint==1.51.0`):\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let committed_dir =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
            .join("../stacks/typed-cloudformation/src/generated");
    let committed = files(&committed_dir);
    let fresh = files(&generated);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "the set of generated files differs: run `cargo xtask codegen`"
    );
    for (path, text) in &fresh {
        assert!(
            committed[path] == *text,
            "{} differs from the generator's output: run `cargo xtask codegen`",
            path.display()
        );
    }
}
