//! Debian's `docker-registry` (the CNCF distribution registry) as a child process on
//! 127.0.0.1, serving a temporary directory: the OCI registry the image push is tested and
//! benchmarked against. Enabled by the `local-registry` feature, as is the private Docker
//! daemon of [`crate::local_docker`], which shares this module's error.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a server for the tests could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error(
        "{executable} not found: install it with `apt-get install {package}` or name it in {variable}"
    )]
    NotFound {
        executable: String,
        package: &'static str,
        variable: &'static str,
    },
    #[error("cannot start a local server: {0}")]
    Io(#[from] std::io::Error),
    #[error("{server} did not answer within {seconds} s{detail}")]
    Timeout {
        server: &'static str,
        seconds: u64,
        /// What the server said, if anything.
        detail: String,
    },
}

/// The executable named by `variable`, else the first of `defaults` that exists; an error
/// naming the Debian `package` when there is none.
pub(crate) fn executable(
    variable: &'static str,
    defaults: &[&str],
    package: &'static str,
) -> Result<PathBuf, LocalServerError> {
    let candidates: Vec<PathBuf> = match std::env::var_os(variable) {
        Some(named) => vec![PathBuf::from(named)],
        None => defaults.iter().map(PathBuf::from).collect(),
    };
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| LocalServerError::NotFound {
            executable: candidates
                .iter()
                .map(|candidate| candidate.display().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
            package,
            variable,
        })
}

/// Names the registry executable when it is not `/usr/bin/docker-registry`.
pub const REGISTRY_VARIABLE: &str = "EVENTFORGE_REGISTRY_SERVER";

/// Debian's `docker-registry` (the CNCF distribution registry), serving a temporary directory.
pub struct LocalRegistry {
    pub endpoint: String,
    child: Child,
    _storage: tempfile::TempDir,
}

/// The registry executable [`LocalRegistry::start`] would run, or why there is none.
pub fn registry_executable() -> Result<PathBuf, LocalServerError> {
    executable(
        REGISTRY_VARIABLE,
        &["/usr/bin/docker-registry"],
        "docker-registry",
    )
}

impl LocalRegistry {
    pub fn start() -> Result<Self, LocalServerError> {
        let executable = registry_executable()?;
        let storage = tempfile::tempdir()?;
        let port = free_port()?;
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )?;
        let mut child = Command::new(&executable)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Err(error) = wait_for_port(port) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            _storage: storage,
        })
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn wait_for_port(port: u16) -> Result<(), LocalServerError> {
    let started = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(LocalServerError::Timeout {
                server: "the registry",
                seconds: 20,
                detail: format!(" on port {port}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
