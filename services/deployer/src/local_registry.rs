//! Debian's `docker-registry` (the CNCF distribution registry) as a child process on
//! 127.0.0.1, serving a temporary directory: the OCI registry the image push is tested and
//! benchmarked against. Enabled by the `local-registry` feature.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "{0} not found: install it with `apt-get install docker-registry` or name it in {REGISTRY_VARIABLE}"
    )]
    NotFound(String),
    #[error("cannot start the registry: {0}")]
    Io(#[from] std::io::Error),
    #[error("the registry did not listen on port {0} within 20 s")]
    Timeout(u16),
}

/// Names the registry executable when it is not `/usr/bin/docker-registry`.
pub const REGISTRY_VARIABLE: &str = "EVENTFORGE_REGISTRY_SERVER";

/// Debian's `docker-registry` (the CNCF distribution registry), serving a temporary directory.
pub struct LocalRegistry {
    pub endpoint: String,
    child: Child,
    _storage: tempfile::TempDir,
}

impl LocalRegistry {
    pub fn start() -> Result<Self, RegistryError> {
        let executable = std::env::var_os(REGISTRY_VARIABLE)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
        if !executable.is_file() {
            return Err(RegistryError::NotFound(executable.display().to_string()));
        }
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

fn wait_for_port(port: u16) -> Result<(), RegistryError> {
    let started = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(RegistryError::Timeout(port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
