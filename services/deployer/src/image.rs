//! The API's container image without a Docker daemon: one static binary in a one-layer OCI
//! image (manifest + config + a gzipped tar), content-addressed and reproducible, pushed through
//! the registry HTTP API (the OCI distribution spec that ECR and every registry implement).

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::error::DeployError;
use crate::plan::sha256_hex;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// What `docker push` of a classic-builder image sends.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// An unprivileged user with no home and no shell; the image has neither anyway.
pub(crate) const USER: &str = "65532:65532";

/// A built image: every blob in memory (a few megabytes), each with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

/// What goes into the image.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// The executable, placed at `/<name>` and run as the entrypoint.
    pub binary: &'a Path,
    pub name: &'a str,
    /// OCI architecture name: `amd64` or `arm64`.
    pub architecture: &'a str,
    pub exposed_port: Option<u16>,
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

impl Image {
    /// Builds the image. The same binary gives the same digests: tar entries carry no
    /// timestamps or owners, and the gzip header no time.
    pub fn build(spec: &ImageSpec<'_>) -> Result<Self, DeployError> {
        let binary = std::fs::read(spec.binary).map_err(|source| DeployError::Io {
            path: spec.binary.to_owned(),
            source,
        })?;
        let io = |source| DeployError::Io {
            path: spec.binary.to_owned(),
            source,
        };
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(binary.len() as u64);
        header.set_mode(0o755);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, spec.name, binary.as_slice())
            .map_err(io)?;
        let tar = tar.into_inner().map_err(io)?;
        let diff_id = digest(&tar);
        let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
        gzip.write_all(&tar).map_err(io)?;
        let layer = gzip.finish().map_err(io)?;

        let mut container = json!({
            "Entrypoint": [format!("/{}", spec.name)],
            "User": USER,
            "Env": ["PATH=/"],
        });
        if let Some(port) = spec.exposed_port {
            container["ExposedPorts"] = json!({ format!("{port}/tcp"): {} });
        }
        let config = json!({
            "architecture": spec.architecture,
            "os": "linux",
            "config": container,
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        })
        .to_string()
        .into_bytes();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": digest(&config), "size": config.len() },
            "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": digest(&layer), "size": layer.len() }],
        })
        .to_string()
        .into_bytes();
        Ok(Self {
            layer,
            config,
            manifest,
        })
    }

    pub fn manifest_digest(&self) -> String {
        digest(&self.manifest)
    }

    /// The tag the image is pushed under: its manifest digest, so a tag names one content
    /// forever (the repository's tags are immutable).
    pub fn tag(&self) -> String {
        format!("sha256-{}", sha256_hex(&self.manifest))
    }

    /// What a registry stores and a pull downloads: layer + config + manifest.
    pub fn compressed_size(&self) -> u64 {
        (self.layer.len() + self.config.len() + self.manifest.len()) as u64
    }
}

/// A registry reached over the distribution API.
pub struct Registry {
    pub http: reqwest::Client,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`, or `http://127.0.0.1:<port>`.
    pub base: String,
    /// `Basic <token>` for ECR.
    pub authorization: Option<String>,
}

impl Registry {
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.authorization {
            Some(authorization) => request.header(reqwest::header::AUTHORIZATION, authorization),
            None => request,
        }
    }

    /// Whether `repository` holds a manifest tagged `tag`, in the OCI format or Docker's (what
    /// `docker push` writes).
    pub async fn has_tag(&self, repository: &str, tag: &str) -> Result<bool, DeployError> {
        let existing = self
            .request(
                reqwest::Method::HEAD,
                &format!("{}/v2/{repository}/manifests/{tag}", self.base),
            )
            .header(
                reqwest::header::ACCEPT,
                format!("{MANIFEST_MEDIA_TYPE}, {DOCKER_MANIFEST_MEDIA_TYPE}"),
            )
            .send()
            .await
            .map_err(registry_error)?;
        Ok(existing.status().is_success())
    }

    /// Pushes blobs the registry lacks, then the manifest under the image's tag. `false` when
    /// the tag was there already (nothing sent).
    pub async fn push(&self, repository: &str, image: &Image) -> Result<bool, DeployError> {
        if self.has_tag(repository, &image.tag()).await? {
            return Ok(false);
        }
        let manifest_url = format!("{}/v2/{repository}/manifests/{}", self.base, image.tag());
        for blob in [&image.layer, &image.config] {
            self.push_blob(repository, blob).await?;
        }
        let response = self
            .request(reqwest::Method::PUT, &manifest_url)
            .header(reqwest::header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
            .body(image.manifest.clone())
            .send()
            .await
            .map_err(registry_error)?;
        expect(response, "PUT manifest").await?;
        Ok(true)
    }

    async fn push_blob(&self, repository: &str, blob: &[u8]) -> Result<(), DeployError> {
        let digest = digest(blob);
        let head = self
            .request(
                reqwest::Method::HEAD,
                &format!("{}/v2/{repository}/blobs/{digest}", self.base),
            )
            .send()
            .await
            .map_err(registry_error)?;
        if head.status().is_success() {
            return Ok(());
        }
        let started = self
            .request(
                reqwest::Method::POST,
                &format!("{}/v2/{repository}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .map_err(registry_error)?;
        let started = expect(started, "POST blob upload").await?;
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .ok_or_else(|| DeployError::Registry("upload started without a Location".to_owned()))?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = self
            .request(
                reqwest::Method::PUT,
                &format!("{location}{separator}digest={digest}"),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await
            .map_err(registry_error)?;
        expect(finished, "PUT blob").await?;
        Ok(())
    }
}

fn registry_error(error: reqwest::Error) -> DeployError {
    DeployError::Registry(error.to_string())
}

async fn expect(response: reqwest::Response, what: &str) -> Result<reqwest::Response, DeployError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(DeployError::Registry(format!("{what}: {status}: {body}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(contents: &[u8]) -> Image {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("api");
        std::fs::write(&binary, contents).unwrap();
        Image::build(&ImageSpec {
            binary: &binary,
            name: "eventforge-api",
            architecture: "amd64",
            exposed_port: Some(8080),
        })
        .unwrap()
    }

    #[test]
    fn the_same_binary_always_gives_the_same_image() {
        assert_eq!(build(b"binary"), build(b"binary"));
        assert_ne!(build(b"binary").tag(), build(b"other").tag());
    }

    #[test]
    fn the_manifest_names_its_config_and_layer_by_digest() {
        let image = build(b"binary");
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest).unwrap();
        assert_eq!(manifest["config"]["digest"], digest(&image.config));
        assert_eq!(manifest["layers"][0]["digest"], digest(&image.layer));
        assert_eq!(manifest["layers"][0]["size"], image.layer.len());
        let config: serde_json::Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/eventforge-api");
        assert_eq!(config["config"]["User"], USER);
    }

    #[test]
    fn the_layer_holds_only_the_executable() {
        let image = build(b"binary");
        let tar = flate2::read::GzDecoder::new(image.layer.as_slice());
        let mut archive = tar::Archive::new(tar);
        let entries: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (
                    entry.path().unwrap().display().to_string(),
                    entry.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, vec![("eventforge-api".to_owned(), 0o755)]);
    }
}
