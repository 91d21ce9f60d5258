//! Where a client downloads a receipt from: the order stores only the receipt's storage key,
//! and a [`ReceiptLinks`] turns that key into a URL.

use async_trait::async_trait;
use aws_config::SdkConfig;
use eventforge_aws_https::presign::{BucketAddressError, PresigningBucket};
use std::time::Duration;

/// How long a presigned receipt URL stays valid.
pub const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
#[error("could not make a download link for receipt {key}: {reason}")]
pub struct ReceiptLinkError {
    pub key: String,
    pub reason: String,
}

/// Turns a receipt's storage key into a URL the client can GET.
#[async_trait]
pub trait ReceiptLinks: Send + Sync {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError>;
}

/// Receipts in a local directory, served by this API at `{base_url}/files/receipts/{key}`.
#[derive(Debug, Clone)]
pub struct LocalReceiptLinks {
    base_url: String,
}

impl LocalReceiptLinks {
    /// `base_url` is where clients reach this API (`http://127.0.0.1:3000`), or empty for links
    /// relative to the page that asks.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
impl ReceiptLinks for LocalReceiptLinks {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError> {
        Ok(format!(
            "{}/files/receipts/{}",
            self.base_url,
            encode_path(key.trim_start_matches('/'))
        ))
    }
}

/// Percent-encodes everything but unreserved characters and `/`, so a key is one URL path.
fn encode_path(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Receipts in an S3 bucket, handed out as presigned GET URLs valid for
/// [`PRESIGNED_URL_LIFETIME`]; the bucket itself stays private. Presigned without the S3 client
/// (see `eventforge_aws_https::presign`).
pub struct S3ReceiptLinks {
    bucket: PresigningBucket,
}

impl S3ReceiptLinks {
    /// The receipts bucket `bucket`, addressed and signed with `aws`'s configuration.
    pub fn new(aws: &SdkConfig, bucket: impl Into<String>) -> Result<Self, BucketAddressError> {
        Ok(Self {
            bucket: PresigningBucket::new(aws, bucket)?,
        })
    }
}

#[async_trait]
impl ReceiptLinks for S3ReceiptLinks {
    async fn url_for(&self, key: &str) -> Result<String, ReceiptLinkError> {
        let url = self
            .bucket
            .get_url(key, PRESIGNED_URL_LIFETIME)
            .await
            .map_err(|error| ReceiptLinkError {
                key: key.to_owned(),
                reason: format!("no AWS credentials: {error}"),
            })?;
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_links_point_at_the_files_route_with_the_key_encoded() {
        let links = LocalReceiptLinks::new("http://127.0.0.1:3000/");
        assert_eq!(
            links.url_for("2026/abc def.pdf").await.expect("url"),
            "http://127.0.0.1:3000/files/receipts/2026/abc%20def.pdf"
        );
        assert_eq!(
            LocalReceiptLinks::new("")
                .url_for("r.pdf")
                .await
                .expect("url"),
            "/files/receipts/r.pdf"
        );
    }

    #[tokio::test]
    async fn s3_links_are_presigned_gets_that_expire() {
        use aws_credential_types::Credentials;
        use aws_credential_types::provider::SharedCredentialsProvider;
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let aws = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let links = S3ReceiptLinks::new(&aws, "receipts-bucket").unwrap();

        let url = links
            .url_for("receipts/order-1.pdf")
            .await
            .expect("presigned");

        assert!(
            url.starts_with(
                "https://receipts-bucket.s3.eu-west-1.amazonaws.com/receipts/order-1.pdf?"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("X-Amz-Expires=900"), "{url}");
    }
}
