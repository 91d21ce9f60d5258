//! Specification: every function the stacks deploy is a binary of this crate, so
//! `cargo lambda build` makes a zip for each.

use eventforge_topology::functions;

#[test]
fn every_deployed_function_has_a_binary_of_its_name() {
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .to_path_buf();
    let missing: Vec<&str> = functions()
        .iter()
        .map(|function| function.name)
        .filter(|name| !dir.join(name).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "no binary for {missing:?} in {}",
        dir.display()
    );
}
