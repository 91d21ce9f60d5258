//! A Docker daemon for the tests of `deploy --docker`: the one the environment already runs
//! (`DOCKER_HOST` or the default socket: a developer's Docker, a CI runner's) when it answers,
//! otherwise a private daemon started here from Debian's `docker.io`, with its own socket, data
//! and state in a temporary directory, no network of its own (`--bridge=none`, no iptables)
//! and the `vfs` storage driver (no overlay mounts needed). That is enough to build a
//! `FROM scratch` image and push it, which is all `deploy --docker` asks of a daemon. Starting
//! one needs root, as dockerd does. Enabled by the `local-registry` feature.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker::Docker;
use crate::local_registry::{LocalServerError, executable};

/// Names the daemon executable when it is neither `/usr/sbin/dockerd` (Debian) nor
/// `/usr/bin/dockerd` (Docker's own packages).
pub const DOCKERD_VARIABLE: &str = "EVENTFORGE_DOCKERD";

/// A daemon to build with; a private one is stopped (and its directory removed) on drop.
pub struct LocalDocker {
    pub docker: Docker,
    /// Held for its drop, which stops the daemon.
    _private: Option<PrivateDaemon>,
}

struct PrivateDaemon {
    child: Child,
    state: tempfile::TempDir,
}

impl LocalDocker {
    /// Whether [`LocalDocker::start`] has a daemon to use or to start, without starting one.
    pub fn available() -> Result<(), LocalServerError> {
        match running_daemon() {
            Some(_) => Ok(()),
            None => dockerd_executable().map(drop),
        }
    }

    pub fn start() -> Result<Self, LocalServerError> {
        if let Some(docker) = running_daemon() {
            return Ok(Self {
                docker,
                _private: None,
            });
        }
        let (docker, daemon) = PrivateDaemon::start()?;
        Ok(Self {
            docker,
            _private: Some(daemon),
        })
    }
}

/// The daemon the environment names (or the default socket), if it answers.
fn running_daemon() -> Option<Docker> {
    let docker = Docker::from_environment();
    docker.server_version().is_ok().then_some(docker)
}

fn dockerd_executable() -> Result<std::path::PathBuf, LocalServerError> {
    executable(
        DOCKERD_VARIABLE,
        &["/usr/sbin/dockerd", "/usr/bin/dockerd"],
        "docker.io",
    )
}

impl PrivateDaemon {
    fn start() -> Result<(Docker, Self), LocalServerError> {
        let executable = dockerd_executable()?;
        // Unix socket paths are limited to about 100 bytes: keep the directory short.
        let state = tempfile::Builder::new()
            .prefix("efdocker")
            .tempdir_in("/tmp")?;
        let socket = state.path().join("docker.sock");
        let log = std::fs::File::create(state.path().join("dockerd.log"))?;
        let child = Command::new(&executable)
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(state.path().join("data"))
            .arg("--exec-root")
            .arg(state.path().join("exec"))
            .arg("--pidfile")
            .arg(state.path().join("docker.pid"))
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let daemon = Self { child, state };
        let docker = Docker::with_host(format!("unix://{}", socket.display()));
        let started = Instant::now();
        while docker.server_version().is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                let log = std::fs::read_to_string(daemon.state.path().join("dockerd.log"))
                    .unwrap_or_default();
                return Err(LocalServerError::Timeout {
                    server: "dockerd (it needs root)",
                    seconds: 30,
                    detail: format!("; its log:\n{log}"),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok((docker, daemon))
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop the containerd it started; SIGKILL would leave that running.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
