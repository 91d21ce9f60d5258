//! A `cargo xtask dev` of its own for the browser tests and the dashboard benchmark: on a free
//! port, with a fresh database, stopped by its PID when done.

use std::env;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eventforge_api::probe::probe_health;

use crate::process::{self, run};

/// Where the browser finds Chromium unless `EVENTFORGE_CHROMIUM` names another.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// How long `cargo xtask dev`, once built, may take to answer /health (it may build the
/// dashboard first).
const DEV_STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

/// The Chromium binary: `$EVENTFORGE_CHROMIUM`, or Debian's.
pub fn chromium() -> PathBuf {
    env::var_os("EVENTFORGE_CHROMIUM")
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from)
}

pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// A `cargo xtask dev` child process, stopped (by its PID) when the tests or the benchmark are done.
pub struct DevServer {
    child: Child,
}

impl DevServer {
    pub fn start(port: u16, db: &Path, path: &OsString) -> Result<Self> {
        // Built afresh rather than this executable: `cargo test --workspace` has rebuilt (and
        // replaced) the xtask binary since this process started, with the workspace's features.
        // Built here, outside the health-check wait, so a slow build is not a failed start.
        run(process::cargo()
            .current_dir(process::workspace_root())
            .args(["build", "--package", "xtask"]))
        .context("cannot build `cargo xtask dev`")?;
        let xtask = process::target_dir().join("debug/xtask");
        let child = Command::new(&xtask)
            .current_dir(process::workspace_root())
            .env("PATH", path)
            .args(["dev", "--allow-loopback-webhooks", "--port"])
            .arg(port.to_string())
            .arg("--db")
            .arg(db)
            .spawn()
            .with_context(|| format!("cannot start {}", xtask.display()))?;
        Ok(Self { child })
    }

    pub fn wait_until_healthy(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + DEV_STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("`cargo xtask dev` exited ({status}) before it answered /health");
            }
            if probe_health(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.stop();
        bail!(
            "`cargo xtask dev` did not answer /health on port {port} within {} s",
            DEV_STARTUP_TIMEOUT.as_secs()
        )
    }

    /// SIGTERM first so the server shuts down gracefully; SIGKILL if it does not within 10 s.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
