//! A `moto_server` child process on 127.0.0.1: the DynamoDB-compatible server (and every other
//! AWS API moto emulates) that tests talk to. Enabled by the `moto` feature; used by this crate's
//! tests and reusable by any crate whose tests need an AWS endpoint.
//!
//! The server is started through a small `sh` watchdog whose standard input is a pipe from this
//! process. When this process ends, however it ends, the pipe closes and the watchdog stops the
//! server by the PID it started it with, so no server outlives the tests that used it. Dropping a
//! [`MotoServer`] stops its server the same way.
//!
//! The executable is `moto_server` from `PATH`, or the one the `EVENTFORGE_MOTO_SERVER`
//! environment variable names.
//!
//! Clients do not talk to moto directly but through a relay in this process that passes one
//! request at a time: moto handles concurrent requests on threads without isolating them from
//! each other, while DynamoDB's transactions are serializable (see `serializer.rs` for what
//! went wrong without it). No request is changed on the way; [`MotoServer::direct_endpoint`] is
//! moto itself, for tests that want it unguarded.

use crate::serializer::Serializer;
use crate::{DynamoError, DynamoStore};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Names the moto server executable when it is not `moto_server` on `PATH`.
pub const EXECUTABLE_VARIABLE: &str = "EVENTFORGE_MOTO_SERVER";
/// The region every client of the server uses.
pub const REGION: &str = "us-east-1";
/// How long moto may take to start answering (it imports a lot of Python).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Ports tried before giving up, should another process take the free port first.
const PORT_ATTEMPTS: usize = 3;

/// Starts the server in the background and stops it when the watchdog's standard input closes.
/// `$0` is the executable and `$1` the port.
const WATCHDOG: &str = r#"
exec 3<&0 </dev/null
"$0" -H 127.0.0.1 -p "$1" 3<&- >/dev/null 2>&1 &
server=$!
{ read -r _ <&3; kill "$server" 2>/dev/null; } &
reader=$!
exec 3<&-
wait "$server"
status=$?
kill "$reader" 2>/dev/null
exit "$status"
"#;

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server not found: run `cargo xtask test` (it installs it) or `pip install 'moto[server]'` (looked for {0})"
    )]
    NotFound(String),
    #[error("could not start moto_server: {0}")]
    Spawn(#[source] io::Error),
    #[error(
        "moto_server exited ({status}) before answering on port {port}; run `{executable} -H 127.0.0.1 -p {port}` to see why"
    )]
    Exited {
        executable: String,
        port: u16,
        status: ExitStatus,
    },
    #[error("moto_server did not answer on {endpoint} within {seconds} s")]
    Timeout { endpoint: String, seconds: u64 },
}

/// A running moto server, stopped when dropped (or when this process exits).
#[derive(Debug)]
pub struct MotoServer {
    /// The relay's endpoint, which clients use.
    endpoint: String,
    /// Moto's own port.
    port: u16,
    watchdog: Mutex<Child>,
    serializer: Option<Serializer>,
}

static SHARED: OnceLock<Result<MotoServer, MotoError>> = OnceLock::new();

impl MotoServer {
    /// The one server of this process, started on first use.
    pub fn shared() -> Result<&'static MotoServer, &'static MotoError> {
        SHARED.get_or_init(Self::start).as_ref()
    }

    /// A server of its own on a free port, answering before this returns.
    pub fn start() -> Result<Self, MotoError> {
        let executable = locate_executable()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port().map_err(MotoError::Spawn)?;
            match Self::launch(&executable, port) {
                Ok(server) => return Ok(server),
                Err(error @ MotoError::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or(MotoError::NotFound(executable.display().to_string())))
    }

    fn launch(executable: &Path, port: u16) -> Result<Self, MotoError> {
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(executable)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        let mut server = Self {
            endpoint: String::new(),
            port,
            watchdog: Mutex::new(child),
            serializer: None,
        };
        let started = Instant::now();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Some(status) = server.exit_status() {
                return Err(MotoError::Exited {
                    executable: executable.display().to_string(),
                    port,
                    status,
                });
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                let serializer = Serializer::start(address).map_err(MotoError::Spawn)?;
                server.endpoint = format!("http://127.0.0.1:{}", serializer.port());
                server.serializer = Some(serializer);
                return Ok(server);
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(MotoError::Timeout {
                    endpoint: server.direct_endpoint(),
                    seconds: STARTUP_TIMEOUT.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        let mut watchdog = self
            .watchdog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        watchdog.try_wait().ok().flatten()
    }

    /// Where clients reach the server, one request at a time: `http://127.0.0.1:<relay port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Moto itself, without the relay: `http://127.0.0.1:<port>`.
    pub fn direct_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Moto's own port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared AWS configuration for clients of any service: this endpoint, [`REGION`] and dummy
    /// static credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(dummy_credentials())
            .load()
            .await
    }

    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(dummy_credentials())
            .http_client(http_client())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A store over a new, uniquely named (so empty) table on this server.
    pub async fn fresh_store(&self) -> Result<DynamoStore, DynamoError> {
        let client = self.dynamodb_client();
        let table = format!("eventforge-test-{}", uuid::Uuid::new_v4().simple());
        crate::create_table(&client, &table).await?;
        Ok(DynamoStore::new(client, table))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        drop(self.serializer.take());
        let watchdog = self
            .watchdog
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Closing its standard input makes the watchdog stop the server and exit.
        drop(watchdog.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(watchdog.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = watchdog.kill();
        let _ = watchdog.wait();
    }
}

/// The workspace's one HTTPS client; moto speaks plain HTTP, so the anchors never matter.
fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    eventforge_aws_https::http_client(eventforge_aws_https::TrustAnchors::AmazonTrustServices)
        .expect("the compiled-in Amazon roots make a TLS context")
}

fn dummy_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "moto")
}

fn locate_executable() -> Result<PathBuf, MotoError> {
    let name = std::env::var_os(EXECUTABLE_VARIABLE)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "moto_server".into());
    let path = PathBuf::from(&name);
    if path.components().count() > 1 {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(MotoError::NotFound(path.display().to_string()))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&path))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| MotoError::NotFound(format!("{} on PATH", path.display())))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
