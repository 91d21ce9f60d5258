//! Specification: an upload to a presigned URL is one PUT with the content type and a
//! `content-length` (S3 refuses a presigned PUT sent in chunks), and S3's refusal comes back with
//! its status and the start of its explanation.
//!
//! A plain-HTTP stand-in on 127.0.0.1 takes one request and answers with the status it is given.

use std::net::Ipv4Addr;

use eventforge_aws_https::{PresignedUploads, TrustAnchors, UploadError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the stand-in received: the request line, the headers (names in lower case) and the body.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Serves one request at the returned URL, answering `status` with `body`.
async fn stand_in(
    status: &'static str,
    body: &'static str,
) -> (url::Url, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/receipts/order.pdf?X-Amz-Signature=abc",
        listener.local_addr().unwrap().port()
    )
    .parse()
    .unwrap();
    let (sender, received) = oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut stream = BufReader::new(stream);
        let mut request_line = String::new();
        stream.read_line(&mut request_line).await.unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map_or(0, |(_, value)| value.parse().unwrap());
        let mut request_body = vec![0; length];
        stream.read_exact(&mut request_body).await.unwrap();
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        let _ = sender.send(Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: request_body,
        });
    });
    (url, received)
}

#[tokio::test]
async fn an_upload_is_one_put_with_its_type_and_length() {
    let (url, received) = stand_in("200 OK", "").await;
    let uploads = PresignedUploads::new(TrustAnchors::AmazonTrustServices).unwrap();
    let pdf = b"%PDF-1.7 a receipt".to_vec();

    uploads
        .put(&url, "application/pdf", pdf.clone())
        .await
        .unwrap();

    let received = received.await.unwrap();
    assert_eq!(
        received.request_line,
        "PUT /receipts/order.pdf?X-Amz-Signature=abc HTTP/1.1"
    );
    assert_eq!(received.header("content-type"), Some("application/pdf"));
    assert_eq!(
        received.header("content-length"),
        Some(pdf.len().to_string().as_str())
    );
    assert_eq!(received.header("transfer-encoding"), None);
    assert_eq!(received.body, pdf);
}

#[tokio::test]
async fn a_refused_upload_names_the_status_and_the_reason() {
    let reason = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
    let (url, _received) = stand_in("403 Forbidden", reason).await;
    let uploads = PresignedUploads::new(TrustAnchors::AmazonTrustServices).unwrap();

    let error = uploads
        .put(&url, "application/pdf", b"%PDF".to_vec())
        .await
        .unwrap_err();

    match &error {
        UploadError::Refused { status, body } => {
            assert_eq!(*status, 403);
            assert_eq!(body, reason);
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    assert!(error.to_string().contains("Request has expired"), "{error}");
}

#[tokio::test]
async fn an_upload_nobody_answers_is_a_transport_error() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/receipts/order.pdf")
        .parse()
        .unwrap();
    let uploads = PresignedUploads::new(TrustAnchors::AmazonTrustServices).unwrap();

    let error = uploads
        .put(&url, "application/pdf", b"%PDF".to_vec())
        .await
        .unwrap_err();

    assert!(matches!(error, UploadError::Transport(_)), "{error:?}");
}
