//! A relay in front of moto that lets one request at a time reach it.
//!
//! Why: `moto_server` serves requests on concurrent threads without a lock around its DynamoDB
//! model, so concurrent `TransactWriteItems` calls are not isolated. Measured here: 30 concurrent
//! one-unit reservations of a SKU with 10 in stock "sold" 13 (a cancelled transaction restores
//! its table snapshot over the writes committed meanwhile), and some calls failed with HTTP 500.
//! DynamoDB itself runs transactions serializably. Taking requests one at a time restores that
//! guarantee without changing any request: clients still interleave their reads and writes
//! freely, and every condition is still evaluated by the server.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest moto may take to answer one request before the relay gives up on it.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// A running relay; stops accepting connections when dropped.
#[derive(Debug)]
pub(crate) struct Serializer {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl Serializer {
    pub(crate) fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let gate = Arc::new(Mutex::new(()));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let gate = Arc::clone(&gate);
                std::thread::spawn(move || {
                    // A failed relay closes the client's connection; the SDK reports or retries.
                    let _ = relay(client, upstream, &gate);
                });
            }
        });
        Ok(Self { address, stopping })
    }

    pub(crate) fn port(&self) -> u16 {
        self.address.port()
    }
}

impl Drop for Serializer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag and closes the listener.
        let _ = TcpStream::connect(self.address);
    }
}

/// Relays each request of one client connection, whole, while holding the gate.
fn relay(client: TcpStream, upstream: SocketAddr, gate: &Mutex<()>) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    while let Some(request) = read_message(&mut reader)? {
        let response = {
            let _turn = gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut server = TcpStream::connect(upstream)?;
            server.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
            server.write_all(&request.bytes)?;
            let mut server = BufReader::new(server);
            read_message(&mut server)?.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "moto closed without answering",
                )
            })?
        };
        writer.write_all(&response.bytes)?;
        writer.flush()?;
        if request.closes || response.closes {
            return Ok(());
        }
    }
    Ok(())
}

/// One HTTP/1.1 message (request or response), as raw bytes.
struct Message {
    bytes: Vec<u8>,
    /// The message carries `Connection: close`.
    closes: bool,
}

/// Copies a chunked body, chunk by chunk, through the last (empty) chunk and its trailers.
fn read_chunks(reader: &mut impl BufRead, bytes: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let start = bytes.len();
        reader.read_until(b'\n', bytes)?;
        let size_line = String::from_utf8_lossy(&bytes[start..]).to_string();
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "unparsable chunk size"))?;
        if size == 0 {
            // Trailers, if any, then the blank line that ends the message.
            loop {
                let start = bytes.len();
                if reader.read_until(b'\n', bytes)? == 0 || bytes[start..].trim_ascii().is_empty() {
                    return Ok(());
                }
            }
        }
        // The chunk and the CRLF after it.
        let start = bytes.len();
        bytes.resize(start + size + 2, 0);
        reader.read_exact(&mut bytes[start..])?;
    }
}

/// Reads one message; `None` when the peer closed the connection before sending one. A body
/// without `Content-Length` is read to the end of the stream (moto's responses always carry it).
fn read_message(reader: &mut impl BufRead) -> io::Result<Option<Message>> {
    let mut bytes = Vec::new();
    let mut content_length = None;
    let mut closes = false;
    let mut chunked = false;
    loop {
        let start = bytes.len();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            return if bytes.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated headers",
                ))
            };
        }
        let line = String::from_utf8_lossy(&bytes[start..])
            .trim()
            .to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("content-length:") {
            content_length = Some(value.trim().parse::<usize>().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "unparsable Content-Length")
            })?);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            chunked = true;
        }
        if line.starts_with("connection:") && line.contains("close") {
            closes = true;
        }
    }
    match content_length {
        _ if chunked => read_chunks(reader, &mut bytes)?,
        Some(length) => {
            let start = bytes.len();
            bytes.resize(start + length, 0);
            reader.read_exact(&mut bytes[start..])?;
        }
        None if bytes.starts_with(b"HTTP/") => {
            reader.read_to_end(&mut bytes)?;
            closes = true;
        }
        None => {}
    }
    Ok(Some(Message { bytes, closes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_ends_after_its_content_length() {
        let raw = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /next";
        let mut reader = BufReader::new(&raw[..]);
        let message = read_message(&mut reader).expect("read").expect("message");
        assert!(message.bytes.ends_with(b"\r\n\r\n{}"));
        assert!(!message.closes);
    }

    #[test]
    fn a_response_without_length_runs_to_the_end_and_closes() {
        let raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody";
        let message = read_message(&mut BufReader::new(&raw[..]))
            .expect("read")
            .expect("message");
        assert!(message.bytes.ends_with(b"body"));
        assert!(message.closes);
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk() {
        let raw = b"PUT /b/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next";
        let message = read_message(&mut BufReader::new(&raw[..]))
            .expect("read")
            .expect("message");
        assert!(message.bytes.ends_with(b"3\r\nabc\r\n0\r\n\r\n"));
    }

    #[test]
    fn a_closed_connection_has_no_message() {
        assert!(
            read_message(&mut BufReader::new(&b""[..]))
                .expect("read")
                .is_none()
        );
    }
}
