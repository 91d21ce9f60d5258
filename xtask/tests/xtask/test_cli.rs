//! `cargo xtask test` on a machine that lacks the system programs the tests need.

use std::process::Command;

/// Runs `cargo xtask test` with each named program pointed at a path that does not exist;
/// returns its standard error, having checked that it failed without starting the tests.
fn test_without(args: &[&str], programs: &[&str]) -> String {
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"));
    xtask.arg("test").args(args).env("RUST_BACKTRACE", "0");
    for variable in programs {
        xtask.env(variable, "/nonexistent/program");
    }
    let run = xtask.output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(!run.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!stdout.contains("==> cargo test"), "it went on: {stdout}");
    stderr
}

#[test]
fn missing_system_programs_are_all_named_before_anything_is_built() {
    let stderr = test_without(
        &[],
        &[
            "EVENTFORGE_REGISTRY_SERVER",
            "EVENTFORGE_DOCKERD",
            "DOCKER_HOST",
            "EVENTFORGE_CHROMIUM",
        ],
    );
    for named in [
        "apt-get install docker-registry",
        "no running Docker daemon",
        "apt-get install docker.io",
        "apt-get install chromium",
        ".ci/run",
    ] {
        assert!(stderr.contains(named), "{named:?} not in: {stderr}");
    }
}

#[test]
fn skipping_the_browser_tests_skips_the_check_for_chromium() {
    let stderr = test_without(
        &["--skip-e2e"],
        &["EVENTFORGE_REGISTRY_SERVER", "EVENTFORGE_CHROMIUM"],
    );
    assert!(stderr.contains("docker-registry"), "{stderr}");
    assert!(!stderr.contains("chromium"), "{stderr}");
}
