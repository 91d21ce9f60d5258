//! The `eventforge-api` binary as ECS runs it: JSON lines on stdout, each runtime worker's
//! `finished` lines written in batches, and a graceful stop on SIGTERM.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests sent, eight at a time, before the stop.
const REQUESTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_the_time_the_binary_stops_every_request_has_its_line_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_eventforge-api"))
        .env_clear()
        .env("EVENTFORGE_STORE", "sqlite")
        .env("EVENTFORGE_SQLITE_PATH", dir.path().join("api.db"))
        .env("EVENTFORGE_ISSUER", "http://127.0.0.1:9/issuer")
        .env("EVENTFORGE_CLIENT_ID", "client")
        .env("EVENTFORGE_JWKS_URL", "http://127.0.0.1:9/jwks.json")
        .env("EVENTFORGE_RECEIPTS_DIR", dir.path().join("receipts"))
        .env("EVENTFORGE_INGEST_SECRET", "secret")
        .env("EVENTFORGE_LOG_FORMAT", "json")
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Read as it comes, as the container's log driver does: a pipe nobody drains fills up, and
    // then the server's next write waits.
    let mut stdout = server.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let started = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the binary never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let client = reqwest::Client::new();
    let mut sent = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let client = client.clone();
        sent.spawn(async move {
            for i in (lane..REQUESTS).step_by(8) {
                let refused = client
                    .get(format!("http://127.0.0.1:{port}/api/orders"))
                    .header("x-request-id", format!("req-{i}"))
                    .send()
                    .await
                    .expect("an answer");
                assert_eq!(refused.status(), 401);
            }
        });
    }
    while let Some(lane) = sent.join_next().await {
        lane.expect("a lane of requests");
    }
    drop(client);
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let status = server.wait().expect("the binary exits");
    let stdout = reader
        .join()
        .expect("the reader")
        .expect("stdout to its end");

    assert!(status.success(), "a graceful stop: {status}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let mut logged: Vec<String> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "finished")
        .map(|line| {
            line["span"]["request_id"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    logged.sort();
    let mut expected: Vec<String> = (0..REQUESTS).map(|i| format!("req-{i}")).collect();
    expected.sort();
    assert_eq!(logged, expected, "one line per request, none lost");
    assert_eq!(
        lines.last().map(|line| &line["fields"]["message"]),
        Some(&serde_json::json!("stopped")),
        "nothing is written after the binary says it stopped"
    );
}
