//! The AWS stand-ins for the handlers' local sinks: receipts into S3, emails through SES.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent, RawMessage};
use eventforge_handlers::email::{EmailSink, OutgoingEmail};
use eventforge_handlers::message::ProcessError;
use eventforge_handlers::receipt::ReceiptStore;

/// Receipts as objects of the receipts bucket, under the key the API presigns.
pub struct S3Receipts {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Receipts {
    pub fn new(aws: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_s3::Client::new(aws),
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ReceiptStore for S3Receipts {
    async fn put(&self, key: &str, pdf: &[u8]) -> Result<(), ProcessError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .body(ByteStream::from(pdf.to_vec()))
            .send()
            .await
            .map_err(|e| {
                let error = aws_sdk_s3::error::DisplayErrorContext(e);
                ProcessError::Failed(format!("s3://{}/{key}: {error}", self.bucket))
            })?;
        Ok(())
    }
}

/// Emails sent as they were composed (the whole RFC 5322 message) through SES v2, from the
/// verified sender address.
pub struct SesEmail {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesEmail {
    pub fn new(aws: &aws_config::SdkConfig, from: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sesv2::Client::new(aws),
            from: from.into(),
        }
    }
}

#[async_trait]
impl EmailSink for SesEmail {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), ProcessError> {
        let raw = RawMessage::builder()
            .data(Blob::new(email.raw.clone()))
            .build()
            .map_err(|e| ProcessError::Failed(e.to_string()))?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| {
                let error = aws_sdk_sesv2::error::DisplayErrorContext(e);
                ProcessError::Failed(format!("SES to {}: {error}", email.to))
            })?;
        Ok(())
    }
}
