//! The router over real TCP: `serve` answers until its shutdown future completes, then stops.

use crate::common::TestApp;
use std::time::Duration;

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_gracefully_on_shutdown() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventforge_api::serve(listener, app.router.clone(), async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{address}/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let unauthorised = client
        .get(format!("http://{address}/api/orders"))
        .send()
        .await
        .expect("request");
    assert_eq!(unauthorised.status(), 401);
    assert_eq!(
        unauthorised.headers()["content-type"],
        "application/problem+json"
    );
    drop(client);

    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops after the shutdown signal")
        .expect("task")
        .expect("serve ends cleanly");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the port is closed after shutdown"
    );
}

#[tokio::test]
async fn a_request_in_flight_when_shutdown_starts_still_gets_its_answer() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventforge_api::serve(listener, app.router.clone(), async {
        let _ = stopped.await;
    }));

    // The headers arrive, then the shutdown starts, then the body.
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    connection
        .write_all(
            b"POST /webhooks/ingest HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
              content-length: 2\r\nconnection: close\r\n\r\n",
        )
        .await
        .expect("send headers");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("server running");
    tokio::time::sleep(Duration::from_millis(200)).await;
    connection.write_all(b"{}").await.expect("send body");
    let mut response = String::new();
    connection
        .read_to_string(&mut response)
        .await
        .expect("read response");

    assert!(
        response.starts_with("HTTP/1.1 401"),
        "unsigned, but answered despite the shutdown: {response}"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops once the request is answered")
        .expect("task")
        .expect("clean");
}
