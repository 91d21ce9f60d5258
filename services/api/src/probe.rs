//! Asking a running API whether it is healthy: the container's health check (`eventforge-api
//! health`, as the image is `FROM scratch` with no curl) and `cargo xtask test`'s wait for its
//! dev server. A plain HTTP/1.0 request over a socket: one status line needs no HTTP client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long the probe waits to connect, and then for the answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the API at an address is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("nothing answers on {address}: {source}")]
    Unreachable {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{address}/health answered {status:?}")]
    Unhealthy { address: SocketAddr, status: String },
}

/// `Ok` when `GET /health` at `address` answers 200.
pub fn probe_health(address: SocketAddr) -> Result<(), ProbeError> {
    let unreachable = |source| ProbeError::Unreachable { address, source };
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(unreachable)?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(unreachable)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(unreachable)?;
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(ProbeError::Unhealthy {
            address,
            status: status.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    /// A server on 127.0.0.1 that answers one request with `status_line`.
    fn answering(status_line: &'static str) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ =
                stream.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
        });
        address
    }

    #[test]
    fn healthy_only_when_health_answers_200() {
        assert!(probe_health(answering("HTTP/1.1 200 OK")).is_ok());
        let unhealthy = probe_health(answering("HTTP/1.1 503 Service Unavailable")).unwrap_err();
        assert!(
            matches!(unhealthy, ProbeError::Unhealthy { ref status, .. } if status.contains("503"))
        );
        // A port nothing listens on: bound, then released.
        let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(
            probe_health(free).unwrap_err(),
            ProbeError::Unreachable { .. }
        ));
    }
}
