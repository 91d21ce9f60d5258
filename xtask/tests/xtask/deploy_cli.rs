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

#[test]
fn a_stack_parameter_that_does_not_exist_is_refused_with_the_ones_that_do() {
    let deploy = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "deploy",
            "--parameter",
            "functions.EmailIdentiy=example.org",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!deploy.status.success());
    let stderr = String::from_utf8_lossy(&deploy.stderr);
    assert!(
        stderr.contains("has no parameter EmailIdentiy")
            && stderr.contains("EmailFromAddress, EmailIdentity"),
        "{stderr}"
    );
    // An asset's parameter is the deployer's to fill.
    let asset = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "--parameter", "api.ApiImageTag=latest"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!asset.status.success());
    assert!(String::from_utf8_lossy(&asset.stderr).contains("has no parameter ApiImageTag"));
}
