//! Specification: the API image as `deploy` builds it (daemon-less, `FROM scratch`, one static
//! binary) runs under a real Docker daemon with no network at all and answers its health check.
//!
//! What this catches that no emulator can: a binary that is not static, or that needs a file
//! the image lacks (a certificate store, anything under /etc, a writable root). The binary is
//! built as `deploy` builds it (static, for this machine's architecture) but with the quick dev
//! profile, in a target directory of its own (`cargo test` holds the lock of its own); the
//! image, the push to a registry (Debian's docker-registry) and the pull are the real ones.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eventforge_deployer::image::{Image, ImageSpec, Registry};
use eventforge_deployer::local_docker::LocalDocker;
use eventforge_deployer::local_registry::LocalRegistry;

const REPOSITORY: &str = "eventforge-dev/api";

/// `eventforge-api`, linked statically as `deploy` links it, in the dev profile.
fn static_api_binary() -> PathBuf {
    let workspace =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..");
    let triple = if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let target_dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .expect("the test binary is in <target>/debug/deps")
        .join("api-image-test");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "-p", "eventforge-api", "--bin", "eventforge-api"])
        .args(["--target", triple])
        .env("CARGO_TARGET_DIR", &target_dir)
        // As `deploy` builds it (xtask's `artefacts::build_api_binary`): the C runtime linked
        // in, so the binary needs nothing from the image.
        .env(
            format!(
                "CARGO_TARGET_{}_RUSTFLAGS",
                triple.to_uppercase().replace('-', "_")
            ),
            "-C target-feature=+crt-static",
        )
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "building the static API binary failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    target_dir.join(triple).join("debug/eventforge-api")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_image_runs_from_scratch_with_no_network_and_answers_its_health_check() {
    let binary = static_api_binary();
    let image = Image::build(&ImageSpec {
        binary: &binary,
        name: "eventforge-api",
        architecture: if cfg!(target_arch = "aarch64") {
            "arm64"
        } else {
            "amd64"
        },
        exposed_port: Some(8080),
    })
    .unwrap();
    let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
    let target = Registry {
        http: reqwest::Client::new(),
        base: registry.endpoint.clone(),
        authorization: None,
    };
    target.push(REPOSITORY, &image).await.unwrap();

    let daemon = LocalDocker::start().unwrap_or_else(|error| panic!("{error}"));
    let docker = &daemon.docker;
    let host = registry.endpoint.trim_start_matches("http://");
    let reference = format!("{host}/{REPOSITORY}:{}", image.tag());
    docker.run(&["pull", "--quiet", &reference], None).unwrap();
    let container = docker
        .run(
            &[
                "run",
                "--detach",
                "--network",
                "none",
                "--read-only",
                "--tmpfs",
                "/data",
                "--env",
                "EVENTFORGE_STORE=sqlite",
                "--env",
                "EVENTFORGE_SQLITE_PATH=/data/api.db",
                "--env",
                "EVENTFORGE_ISSUER=https://issuer.invalid",
                "--env",
                "EVENTFORGE_CLIENT_ID=client",
                "--env",
                "EVENTFORGE_RECEIPTS_DIR=/data/receipts",
                "--env",
                "EVENTFORGE_INGEST_SECRET=ingest-secret",
                &reference,
            ],
            None,
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = loop {
        match docker.run(&["exec", &container, "/eventforge-api", "health"], None) {
            Ok(_) => break Ok(()),
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => break Err(error),
        }
    };
    let logs = docker.run(&["logs", &container], None).unwrap_or_default();
    let inspected = docker
        .run(
            &[
                "inspect",
                "--format",
                "{{.NetworkSettings.Networks}}",
                &container,
            ],
            None,
        )
        .unwrap_or_default();
    let _ = docker.run(&["rm", "--force", &container], None);
    outcome.unwrap_or_else(|error| panic!("the health check failed: {error}\nlogs:\n{logs}"));
    assert!(
        inspected.contains("none"),
        "no network but loopback: {inspected}"
    );
}
