//! `cargo xtask deploy` refuses what it must not do before it builds or calls anything.

use std::process::Command;

#[test]
fn the_prod_stage_is_never_stocked_with_the_demo_catalogue() {
    let deploy = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "--stage", "prod", "--seed-demo", "--yes"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!deploy.status.success());
    let stderr = String::from_utf8_lossy(&deploy.stderr);
    assert!(
        stderr.contains("--seed-demo is for the dev stage"),
        "{stderr}"
    );
    assert!(
        stderr.contains("catalogue import"),
        "says what to do instead: {stderr}"
    );
}
