//! The optional Docker path for the API image (`deploy --docker`): the same image as
//! [`crate::image`] builds (the static binary alone, the same user, port and entrypoint), made
//! by a Docker daemon from a generated Dockerfile and pushed with `docker push`. For machines
//! where Docker is how images reach a registry (credential helpers, registry mirrors, a proxy
//! the daemon is configured for); without the flag no daemon is needed at all.
//!
//! The tag is content-addressed like the daemon-less one: the SHA-256 of the Dockerfile and the
//! binary, so a redeploy of the same binary finds its tag in the registry and pushes nothing.
//! (The image id cannot serve: the classic builder stamps a creation time into the config.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

use crate::error::DeployError;
use crate::image::ImageSpec;

/// The Docker command line, talking to whichever daemon `DOCKER_HOST` (or the current docker
/// context) names.
#[derive(Debug, Clone)]
pub struct Docker {
    executable: PathBuf,
    /// Set for a daemon other than the environment's (the tests start their own).
    host: Option<String>,
}

/// An image the daemon holds, tagged `<local name>:<tag>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerImage {
    /// The daemon's image id (`sha256:...`).
    pub id: String,
    /// The content-addressed tag it is pushed under.
    pub tag: String,
    /// Uncompressed size, as `docker image inspect` reports it.
    pub size: u64,
}

/// Credentials for `docker login`.
#[derive(Debug, Clone)]
pub struct Login {
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`.
    pub server: String,
    pub username: String,
    pub password: String,
}

impl Default for Docker {
    fn default() -> Self {
        Self {
            executable: PathBuf::from("docker"),
            host: None,
        }
    }
}

impl Docker {
    /// The `docker` command of `PATH`, with the environment's daemon.
    pub fn from_environment() -> Self {
        Self::default()
    }

    /// The daemon listening at `host` (`unix:///path/docker.sock`).
    pub fn with_host(host: impl Into<String>) -> Self {
        Self {
            host: Some(host.into()),
            ..Self::default()
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.executable);
        if let Some(host) = &self.host {
            command.env("DOCKER_HOST", host);
        }
        command.stdin(Stdio::null());
        command
    }

    /// Runs `docker <args>`, optionally feeding `input` on standard input; standard output on
    /// success, the command and its standard error otherwise.
    pub fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, DeployError> {
        let mut command = self.command();
        command.args(args);
        let output = match input {
            None => command.output(),
            Some(input) => run_with_input(&mut command, input),
        }
        .map_err(|error| DeployError::Docker {
            command: args.join(" "),
            message: if error.kind() == std::io::ErrorKind::NotFound {
                "the docker command is not installed; install Docker, or deploy without --docker \
                 (the image is then built and pushed with no daemon)"
                    .to_owned()
            } else {
                error.to_string()
            },
        })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
        }
        Err(DeployError::Docker {
            command: args.join(" "),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    /// The daemon's version; fails with the CLI's own explanation when no daemon answers.
    pub fn server_version(&self) -> Result<String, DeployError> {
        self.run(&["version", "--format", "{{.Server.Version}}"], None)
    }

    /// Builds the image of `spec` and tags it `<local_name>:<tag>`.
    pub fn build(
        &self,
        spec: &ImageSpec<'_>,
        local_name: &str,
    ) -> Result<DockerImage, DeployError> {
        let binary = std::fs::read(spec.binary).map_err(|source| DeployError::Io {
            path: spec.binary.to_owned(),
            source,
        })?;
        let dockerfile = dockerfile(spec);
        let tag = content_tag(&dockerfile, &binary);
        let context = tempfile::tempdir().map_err(|source| DeployError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        write_executable(&context.path().join(spec.name), &binary)?;
        let reference = format!("{local_name}:{tag}");
        let platform = format!("linux/{}", spec.architecture);
        let context_dir = context.path().to_string_lossy().into_owned();
        let id = self.run(
            &[
                "build",
                "--quiet",
                "--platform",
                &platform,
                "--tag",
                &reference,
                "--file",
                "-",
                &context_dir,
            ],
            Some(dockerfile.as_bytes()),
        )?;
        let size = self
            .run(
                &["image", "inspect", "--format", "{{.Size}}", &reference],
                None,
            )?
            .parse()
            .map_err(|_| DeployError::Docker {
                command: format!("image inspect {reference}"),
                message: "the size is not a number".to_owned(),
            })?;
        Ok(DockerImage { id, tag, size })
    }

    /// Tags the image as `<repository>:<tag>` (`repository` with its registry host, as
    /// `docker push` wants it) and pushes it, logging in first when `login` is given.
    pub fn push(
        &self,
        image: &DockerImage,
        repository: &str,
        login: Option<&Login>,
    ) -> Result<(), DeployError> {
        if let Some(login) = login {
            self.run(
                &[
                    "login",
                    "--username",
                    &login.username,
                    "--password-stdin",
                    &login.server,
                ],
                Some(login.password.as_bytes()),
            )?;
        }
        let reference = format!("{repository}:{}", image.tag);
        self.run(&["tag", &image.id, &reference], None)?;
        self.run(&["push", "--quiet", &reference], None)?;
        Ok(())
    }
}

fn run_with_input(command: &mut Command, input: &[u8]) -> std::io::Result<Output> {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    child.wait_with_output()
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), DeployError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| DeployError::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::write(path, bytes).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io)
}

/// The Dockerfile of the image [`crate::image::Image::build`] assembles by hand.
pub fn dockerfile(spec: &ImageSpec<'_>) -> String {
    let mut text = format!(
        "FROM scratch\nCOPY {name} /{name}\nUSER {user}\nENV PATH=/\n",
        name = spec.name,
        user = crate::image::USER,
    );
    if let Some(port) = spec.exposed_port {
        text.push_str(&format!("EXPOSE {port}\n"));
    }
    text.push_str(&format!("ENTRYPOINT [\"/{}\"]\n", spec.name));
    text
}

/// `ctx-<SHA-256 of the Dockerfile and the binary>`: the same inputs, the same tag.
fn content_tag(dockerfile: &str, binary: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update((dockerfile.len() as u64).to_be_bytes());
    hash.update(dockerfile.as_bytes());
    hash.update(binary);
    format!("ctx-{}", hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(binary: &Path) -> ImageSpec<'_> {
        ImageSpec {
            binary,
            name: "eventforge-api",
            architecture: "arm64",
            exposed_port: Some(8080),
        }
    }

    #[test]
    fn the_dockerfile_describes_the_daemonless_image() {
        let text = dockerfile(&spec(Path::new("unused")));
        assert_eq!(
            text,
            "FROM scratch\nCOPY eventforge-api /eventforge-api\nUSER 65532:65532\nENV PATH=/\n\
             EXPOSE 8080\nENTRYPOINT [\"/eventforge-api\"]\n"
        );
    }

    #[test]
    fn the_tag_follows_the_content() {
        let file = dockerfile(&spec(Path::new("unused")));
        assert_eq!(content_tag(&file, b"binary"), content_tag(&file, b"binary"));
        assert_ne!(content_tag(&file, b"binary"), content_tag(&file, b"other"));
        assert_ne!(
            content_tag(&file, b"binary"),
            content_tag(&file.replace("8080", "9090"), b"binary")
        );
        assert!(content_tag(&file, b"binary").starts_with("ctx-"));
    }

    #[test]
    fn a_missing_docker_command_says_how_to_do_without() {
        let docker = Docker {
            executable: PathBuf::from("/nonexistent/docker"),
            host: None,
        };
        let message = docker.server_version().unwrap_err().to_string();
        assert!(message.contains("without --docker"), "{message}");
    }
}
