//! `deploy --docker`: the API image built by a real Docker daemon (a private dockerd started
//! here) and pushed with `docker push` to a real registry (Debian's docker-registry), both on
//! this machine only. What the registry then holds is read back through its HTTP API.

use eventforge_deployer::ContainerImage;
use eventforge_deployer::image::{ImageSpec, Registry};
use eventforge_deployer::local_docker::LocalDocker;
use eventforge_deployer::local_registry::LocalRegistry;
use serde_json::Value;

const REPOSITORY: &str = "eventforge-dev/api";

fn spec(binary: &std::path::Path) -> ImageSpec<'_> {
    ImageSpec {
        binary,
        name: "eventforge-api",
        architecture: "arm64",
        exposed_port: Some(8080),
    }
}

async fn blob(registry: &LocalRegistry, digest: &str) -> Value {
    let url = format!("{}/v2/{REPOSITORY}/blobs/{digest}", registry.endpoint);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_builds_the_same_image_and_pushes_it_once_under_its_content_tag() {
    let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
    let daemon = LocalDocker::start().unwrap_or_else(|error| panic!("{error}"));
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("eventforge-api");
    std::fs::write(&binary, b"#!/bin/false\nnot really a server\n").unwrap();

    let built = daemon
        .docker
        .build(&spec(&binary), "eventforge-api")
        .unwrap();
    let rebuilt = daemon
        .docker
        .build(&spec(&binary), "eventforge-api")
        .unwrap();
    assert_eq!(built.tag, rebuilt.tag, "the same binary gives the same tag");
    assert!(built.tag.starts_with("ctx-"), "{}", built.tag);
    assert!(built.size > 0);

    let target = Registry {
        http: reqwest::Client::new(),
        base: registry.endpoint.clone(),
        authorization: None,
    };
    let image = ContainerImage::Docker {
        docker: daemon.docker.clone(),
        image: built.clone(),
    };
    assert!(!target.has_tag(REPOSITORY, &built.tag).await.unwrap());
    assert!(
        image.push(&target, REPOSITORY, None).await.unwrap(),
        "first push sends the image"
    );
    assert!(target.has_tag(REPOSITORY, &built.tag).await.unwrap());
    assert!(
        !image.push(&target, REPOSITORY, None).await.unwrap(),
        "a tag the registry holds is not pushed again"
    );

    // The pushed image runs the binary as the daemon-less image does.
    let manifest: Value = reqwest::Client::new()
        .get(format!(
            "{}/v2/{REPOSITORY}/manifests/{}",
            registry.endpoint, built.tag
        ))
        .header(
            "Accept",
            eventforge_deployer::image::DOCKER_MANIFEST_MEDIA_TYPE,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "one layer: the binary alone");
    let config = blob(&registry, manifest["config"]["digest"].as_str().unwrap()).await;
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["config"]["Entrypoint"][0], "/eventforge-api");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());

    // Another binary is another tag.
    std::fs::write(&binary, b"#!/bin/false\na newer server\n").unwrap();
    let changed = daemon
        .docker
        .build(&spec(&binary), "eventforge-api")
        .unwrap();
    assert_ne!(changed.tag, built.tag);
}

#[test]
fn a_daemon_that_is_not_there_is_a_clear_error() {
    let docker = eventforge_deployer::docker::Docker::with_host("unix:///nonexistent/docker.sock");
    let message = docker.server_version().unwrap_err().to_string();
    assert!(message.contains("docker version"), "{message}");
    assert!(message.to_lowercase().contains("daemon"), "{message}");
}
