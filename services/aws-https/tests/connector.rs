//! Specification: the SDK's HTTP client speaks HTTP/1.1 on pooled connections, and tells the SDK
//! which failures are transient (a connection cut before the answer), so it retries them, and
//! which are timeouts.
//!
//! A plain-HTTP DynamoDB stand-in on 127.0.0.1 answers each request as the test tells it to and
//! counts the connections it accepted.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::DispatchFailure;
use aws_smithy_types::retry::ErrorKind;
use eventforge_aws_https::{TrustAnchors, http_client};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the stand-in does with each request.
#[derive(Clone, Copy)]
enum Answer {
    /// A DynamoDB service error, keeping the connection open.
    ServiceError,
    /// Closes the connection without a word.
    Hangs,
    /// Reads the request and never answers.
    Silent,
}

struct StandIn {
    port: u16,
    connections: Arc<AtomicUsize>,
    request_lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl StandIn {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let request_lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (counted, lines) = (connections.clone(), request_lines.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let lines = lines.clone();
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let Some(request_line) = read_request(&mut stream).await else {
                            return;
                        };
                        lines.lock().unwrap().push(request_line);
                        match answer {
                            Answer::Hangs => return,
                            Answer::Silent => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                return;
                            }
                            Answer::ServiceError => {
                                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no such table"}"#;
                                let response = format!(
                                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
                                     content-length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                if stream.write_all(response.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            connections,
            request_lines,
        }
    }

    fn client(&self, timeouts: TimeoutConfig) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .endpoint_url(format!("http://127.0.0.1:{}", self.port))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .timeout_config(timeouts)
            .http_client(http_client(TrustAnchors::AmazonTrustServices).unwrap())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

/// Reads one request (head and `content-length` body); its request line, or `None` at the end
/// of the connection.
async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> Option<String> {
    let mut request_line = String::new();
    if stream.read_line(&mut request_line).await.ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        if header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(request_line.trim_end().to_owned())
}

#[tokio::test]
async fn requests_are_http_1_1_and_reuse_one_pooled_connection() {
    let stand_in = StandIn::start(Answer::ServiceError).await;
    let client = stand_in.client(TimeoutConfig::disabled());
    for _ in 0..3 {
        let error = failed_call(&client).await;
        assert!(
            matches!(&error, SdkError::ServiceError(service) if service.err().is_resource_not_found_exception()),
            "{error:?}"
        );
    }
    assert_eq!(
        *stand_in.request_lines.lock().unwrap(),
        vec!["POST / HTTP/1.1"; 3]
    );
    assert_eq!(stand_in.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_cut_before_the_answer_is_a_transient_failure_the_sdk_retries() {
    let stand_in = StandIn::start(Answer::Hangs).await;
    let failure = dispatch_failure(&stand_in.client(TimeoutConfig::disabled())).await;
    assert_eq!(
        failure
            .as_connector_error()
            .and_then(|error| error.as_other()),
        Some(ErrorKind::TransientError),
        "{failure:?}"
    );
    assert_eq!(
        stand_in.request_lines.lock().unwrap().len(),
        3,
        "the SDK tried all three attempts"
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_read_timeout_is_a_timeout() {
    let stand_in = StandIn::start(Answer::Silent).await;
    let timeouts = TimeoutConfig::builder()
        .read_timeout(Duration::from_millis(200))
        .build();
    let started = std::time::Instant::now();
    let failure = dispatch_failure(&stand_in.client(timeouts)).await;
    assert!(failure.is_timeout(), "{failure:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up long before the stand-in's 30 s silence ended"
    );
}

/// The error of one DynamoDB call, which every answer of the stand-in makes fail.
async fn failed_call(
    client: &aws_sdk_dynamodb::Client,
) -> SdkError<DescribeTableError, HttpResponse> {
    client
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap_err()
}

/// The connector's failure in one DynamoDB call that never got an answer.
async fn dispatch_failure(client: &aws_sdk_dynamodb::Client) -> DispatchFailure {
    match failed_call(client).await {
        SdkError::DispatchFailure(failure) => failure,
        other => panic!("expected a dispatch failure: {other:?}"),
    }
}

#[test]
fn a_bundle_without_certificates_is_refused_when_the_client_is_made() {
    let error = http_client(TrustAnchors::Pem("not a certificate")).unwrap_err();
    assert!(
        error.to_string().contains("not PEM certificates"),
        "{error}"
    );
}
