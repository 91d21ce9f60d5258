//! Assets: the Lambda zips uploaded under content-addressed keys, and the API's image pushed
//! (through the registry API, or by a Docker daemon), each skipped when already there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tokio::task::JoinSet;
use typed_cloudformation::stack::AssetKind;

use super::{ASSET_BUCKET_OUTPUT, Deployer, REPOSITORY_OUTPUT};
use crate::assets;
use crate::cfn::DeployedStack;
use crate::docker::{Docker, DockerImage, Login};
use crate::error::DeployError;
use crate::image::{self, Image};
use crate::plan::PlannedStack;
use crate::progress::{Progress, Reporter};

/// The built artefacts the stacks refer to.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Lambda zips by function name.
    pub lambda_zips: BTreeMap<String, PathBuf>,
    pub image: Option<ContainerImage>,
}

/// The API's container image, made one of two ways.
#[derive(Debug, Clone)]
pub enum ContainerImage {
    /// Assembled here and pushed through the registry API: no daemon (the default).
    Oci(Image),
    /// Built by a Docker daemon and pushed with `docker push` (`deploy --docker`).
    Docker { docker: Docker, image: DockerImage },
}

impl ContainerImage {
    /// The content-addressed tag the stacks' image parameter takes.
    pub fn tag(&self) -> String {
        match self {
            Self::Oci(image) => image.tag(),
            Self::Docker { image, .. } => image.tag.clone(),
        }
    }

    /// Bytes pushed for the OCI image; the daemon's (uncompressed) size for Docker's.
    pub fn size(&self) -> u64 {
        match self {
            Self::Oci(image) => image.compressed_size(),
            Self::Docker { image, .. } => image.size,
        }
    }

    /// Pushes the image to `repository` of `registry` unless its tag is there already
    /// (`false`). `login` is what `docker login` needs for a registry that wants credentials;
    /// the OCI push sends the registry's own authorization instead.
    pub async fn push(
        &self,
        registry: &image::Registry,
        repository: &str,
        login: Option<&Login>,
    ) -> Result<bool, DeployError> {
        match self {
            Self::Oci(image) => registry.push(repository, image).await,
            Self::Docker { docker, image } => {
                if registry.has_tag(repository, &image.tag).await? {
                    return Ok(false);
                }
                // `docker push` names the registry by host, without the scheme.
                let base = registry.base.as_str();
                let host = base.split_once("://").map_or(base, |(_, host)| host);
                let reference = format!("{host}/{repository}");
                let (docker, image, login) = (docker.clone(), image.clone(), login.cloned());
                tokio::task::spawn_blocking(move || {
                    docker.push(&image, &reference, login.as_ref())
                })
                .await
                .map_err(|error| DeployError::api("docker push", error))??;
                Ok(true)
            }
        }
    }
}

/// `docker login` credentials from an ECR token (base64 of `<user>:<password>`).
fn ecr_login(server: &str, token: &str) -> Result<Login, DeployError> {
    use base64::Engine;
    let unreadable = || DeployError::Registry("ECR returned an unreadable token".to_owned());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| unreadable())?;
    let decoded = String::from_utf8(decoded).map_err(|_| unreadable())?;
    let (username, password) = decoded.split_once(':').ok_or_else(unreadable)?;
    Ok(Login {
        server: server.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

impl Deployer {
    /// Uploads the zips and pushes the image the selected stacks need, and looks up the managed
    /// prefix lists; returns each asset's parameter value (the zip's key, the image's tag, the
    /// prefix list's id).
    pub(super) async fn upload_assets(
        &self,
        selected: &[&PlannedStack],
        bootstrap: &DeployedStack,
        assets: &Assets,
        reporter: &dyn Reporter,
    ) -> Result<BTreeMap<AssetKind, String>, DeployError> {
        let output = |name: &str| {
            bootstrap.outputs.get(name).cloned().ok_or_else(|| {
                DeployError::MissingBootstrapOutput {
                    stack: bootstrap.name.clone(),
                    output: name.to_owned(),
                }
            })
        };
        let kinds: BTreeSet<&AssetKind> = selected
            .iter()
            .flat_map(|stack| &stack.assets)
            .map(|asset| &asset.kind)
            .collect();
        let mut values = BTreeMap::new();
        let mut uploads = JoinSet::new();
        for kind in kinds {
            match kind {
                AssetKind::LambdaZip { function } => {
                    let path = assets
                        .lambda_zips
                        .get(function)
                        .ok_or_else(|| {
                            DeployError::MissingAsset(format!("the Lambda zip of {function}"))
                        })?
                        .clone();
                    let (s3, bucket, function, kind) = (
                        self.s3.clone(),
                        output(ASSET_BUCKET_OUTPUT)?,
                        function.clone(),
                        kind.clone(),
                    );
                    uploads.spawn(async move {
                        let zip = assets::upload_zip(&s3, &bucket, &function, &path).await;
                        zip.map(|(zip, uploaded)| (kind, zip, uploaded))
                    });
                }
                AssetKind::ContainerImage { name } => {
                    let image = assets.image.as_ref().ok_or_else(|| {
                        DeployError::MissingAsset(format!("the container image {name}"))
                    })?;
                    let repository = output(REPOSITORY_OUTPUT)?;
                    let pushed = self.push_image(image, &repository).await?;
                    reporter.report(Progress::Asset {
                        name: format!("{repository}:{}", image.tag()),
                        uploaded: pushed,
                        bytes: image.size(),
                    });
                    values.insert(kind.clone(), image.tag());
                }
                AssetKind::ManagedPrefixList { name } => {
                    values.insert(kind.clone(), self.managed_prefix_list(name).await?);
                }
            }
        }
        while let Some(joined) = uploads.join_next().await {
            let (kind, zip, uploaded) =
                joined.map_err(|error| DeployError::api("upload", error))??;
            reporter.report(Progress::Asset {
                name: zip.key(),
                uploaded,
                bytes: zip.bytes,
            });
            values.insert(kind, zip.key());
        }
        Ok(values)
    }

    /// Pushes the image to the repository (or to the configured stand-in registry); `false`
    /// when it was there already.
    async fn push_image(
        &self,
        image: &ContainerImage,
        repository_uri: &str,
    ) -> Result<bool, DeployError> {
        let (host, name) = repository_uri.split_once('/').ok_or_else(|| {
            DeployError::Registry(format!("not a repository URI: {repository_uri}"))
        })?;
        let (base, token) = match &self.registry {
            Some(registry) => (registry.trim_end_matches('/').to_owned(), None),
            None => (format!("https://{host}"), Some(self.ecr_token().await?)),
        };
        let registry = image::Registry {
            http: self.http.clone(),
            base: base.clone(),
            authorization: token.as_ref().map(|token| format!("Basic {token}")),
        };
        let login = token.map(|token| ecr_login(&base, &token)).transpose()?;
        image.push(&registry, name, login.as_ref()).await
    }

    /// ECR's registry token: base64 of `AWS:<password>`.
    async fn ecr_token(&self) -> Result<String, DeployError> {
        let token = self
            .ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|error| DeployError::sdk("GetAuthorizationToken", error))?;
        token
            .authorization_data()
            .first()
            .and_then(|data| data.authorization_token())
            .map(str::to_owned)
            .ok_or_else(|| DeployError::Registry("ECR returned no token".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecr_token_is_the_user_and_password_docker_logs_in_with() {
        let login = ecr_login(
            "https://1.dkr.ecr.eu-west-1.amazonaws.com",
            "QVdTOnNlY3JldDpwYXJ0",
        )
        .unwrap();
        assert_eq!(login.username, "AWS");
        // Only the first colon separates: a password may hold more.
        assert_eq!(login.password, "secret:part");
        assert!(ecr_login("https://registry", "not base64!").is_err());
    }
}
