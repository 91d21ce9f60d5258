//! Test support: finding the Python tools installed beside moto_server.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::{Path, PathBuf};

/// A Python tool installed beside moto_server (cfn-lint, the venv's python), or on PATH.
pub fn venv_tool(name: &str) -> PathBuf {
    let beside_moto = std::env::var_os("EVENTFORGE_MOTO_SERVER")
        .map(PathBuf::from)
        .and_then(|moto| moto.parent().map(|dir| dir.join(name)));
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    let in_cache = std::env::var_os("HOME").map(|home| {
        Path::new(&home)
            .join(".cache/eventforge/tools/venv/bin")
            .join(name)
    });
    [beside_moto, on_path, in_cache]
        .into_iter()
        .flatten()
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: run `cargo xtask test`, which installs it"))
}
