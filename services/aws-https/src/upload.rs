//! Uploads to presigned URLs (the receipt function's PUTs into the receipts bucket), on the same
//! HTTP/1.1 client the SDK's requests use: a second HTTP client (reqwest, with its own copy of
//! hyper's client and Mozilla's roots) was a tenth of the receipt function's zip.

use std::time::Duration;

use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

use crate::connector::{PooledClient, pooled_client};
use crate::{HttpClientError, TrustAnchors, tls_config};

/// How long a connection attempt may take: as the SDK's default configuration has it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The longest part of a refusal's body kept in the error: S3's XML error names the reason in
/// its first few hundred bytes.
const REFUSAL_BODY_LIMIT: usize = 1024;

/// Why an upload did not land.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload could not be sent: {0}")]
    Request(#[from] http::Error),
    #[error("no answer to the upload: {0}")]
    Transport(#[from] hyper_util::client::legacy::Error),
    #[error("the upload was refused ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// PUTs to presigned URLs.
#[derive(Clone, Debug)]
pub struct PresignedUploads {
    client: PooledClient,
}

impl PresignedUploads {
    /// Uploads over HTTPS trusting `anchors` (and plain HTTP, for emulators).
    pub fn new(anchors: TrustAnchors) -> Result<Self, HttpClientError> {
        Ok(Self {
            client: pooled_client(&tls_config(anchors)?, Some(CONNECT_TIMEOUT)),
        })
    }

    /// PUTs `body` as `content_type` to `url`; an answer other than 2xx is
    /// [`UploadError::Refused`], with the start of the answer's body.
    pub async fn put(
        &self,
        url: &url::Url,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), UploadError> {
        let request = http::Request::put(url.as_str())
            .header(http::header::CONTENT_TYPE, content_type)
            .body(SdkBody::from(body))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The body only explains the refusal; one that cannot be read leaves the status.
        let body = match response.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Default::default(),
        };
        let end = body.len().min(REFUSAL_BODY_LIMIT);
        Err(UploadError::Refused {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..end]).into_owned(),
        })
    }
}
