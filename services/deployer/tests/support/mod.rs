//! Test support: the emulators the end-to-end test deploys to, started on 127.0.0.1 by the test
//! and stopped when it ends.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Names the registry executable when it is not `/usr/bin/docker-registry`.
pub const REGISTRY_VARIABLE: &str = "EVENTFORGE_REGISTRY_SERVER";

/// Debian's `docker-registry` (the CNCF distribution registry), serving a temporary directory.
pub struct LocalRegistry {
    pub endpoint: String,
    child: Child,
    _storage: tempfile::TempDir,
}

impl LocalRegistry {
    pub fn start() -> Self {
        let executable = std::env::var_os(REGISTRY_VARIABLE)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
        assert!(
            executable.is_file(),
            "{} not found: install it with `apt-get install docker-registry` or name it in {REGISTRY_VARIABLE}",
            executable.display()
        );
        let storage = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )
        .expect("the registry's configuration");
        let child = Command::new(&executable)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", executable.display()));
        wait_for_port(port);
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            _storage: storage,
        }
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the registry did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Python tool installed beside moto_server (cfn-lint, the venv's python), or on PATH.
pub fn venv_tool(name: &str) -> PathBuf {
    let beside_moto = std::env::var_os("EVENTFORGE_MOTO_SERVER")
        .map(PathBuf::from)
        .and_then(|moto| moto.parent().map(|dir| dir.join(name)));
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    let in_cache = std::env::var_os("HOME").map(|home| {
        Path::new(&home)
            .join(".cache/eventforge/tools/venv/bin")
            .join(name)
    });
    [beside_moto, on_path, in_cache]
        .into_iter()
        .flatten()
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: run `cargo xtask test`, which installs it"))
}
