//! The functions' AWS configuration, and the AWS stand-ins for the handlers' local sinks:
//! receipts into S3, emails through SES.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use eventforge_application::email::{EmailSink, OutgoingEmail, Recipient, Recipients};
use eventforge_application::message::ProcessError;
use eventforge_application::receipt::ReceiptStore;
use eventforge_application::webhook::{Delivery, DeliveryError, WebhookTransport, delivery_tls};
use eventforge_aws_https::presign::{BucketAddressError, PresigningBucket};
use eventforge_aws_https::{
    HttpClientError, PresignedUploads, TrustAnchors, http_client, post_pinned,
};
use eventforge_core::UserId;

/// Why the AWS configuration cannot be made from the function's environment.
#[derive(Debug, thiserror::Error)]
pub enum LambdaConfigError {
    #[error("AWS_REGION is not set: Lambda sets it in every execution environment")]
    NoRegion,
    #[error(transparent)]
    Https(#[from] HttpClientError),
    #[error(transparent)]
    Bucket(#[from] BucketAddressError),
}

/// The AWS configuration of a Lambda execution environment, read from its variables: the
/// region (`AWS_REGION`) and the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), which Lambda sets in every environment;
/// `AWS_ENDPOINT_URL` points every client elsewhere, as the emulator tests do. HTTPS trusts the
/// Amazon Trust Services roots compiled into the binary (see `eventforge-aws-https`).
///
/// Not `aws_config::load()`: its default chain (profile files, SSO, web identity and STS,
/// container and instance metadata) is for machines where the credentials could be anywhere; on
/// Lambda they are in the environment, and the chain's code was a tenth of each zip
/// (BENCHMARKS.md, "Functions: what is in a zip").
pub(crate) fn lambda_sdk_config() -> Result<aws_config::SdkConfig, LambdaConfigError> {
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|region| !region.is_empty())
        .ok_or(LambdaConfigError::NoRegion)?;
    let credentials = SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new());
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(credentials)
        .http_client(http_client(TrustAnchors::AmazonTrustServices)?)
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::new(SystemTimeSource::new()))
        .retry_config(aws_config::retry::RetryConfig::standard());
    if let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|endpoint| !endpoint.is_empty())
    {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// Receipts as objects of the receipts bucket, under the key the API presigns: one presigned
/// PUT each, without the S3 client (see `eventforge_aws_https::presign`).
pub struct S3Receipts {
    bucket: PresigningBucket,
    uploads: PresignedUploads,
}

/// How long a receipt's upload URL stays valid: it is used at once.
const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(60);

impl S3Receipts {
    /// The receipts bucket `bucket`, addressed and signed with `aws`'s configuration.
    pub fn new(
        aws: &aws_config::SdkConfig,
        bucket: impl Into<String>,
    ) -> Result<Self, LambdaConfigError> {
        Ok(Self {
            bucket: PresigningBucket::new(aws, bucket)?,
            uploads: PresignedUploads::new(TrustAnchors::AmazonTrustServices)?,
        })
    }
}

#[async_trait]
impl ReceiptStore for S3Receipts {
    async fn put(&self, key: &str, pdf: &[u8]) -> Result<(), ProcessError> {
        let url = self
            .bucket
            .put_url(key, UPLOAD_URL_LIFETIME)
            .await
            .map_err(|e| ProcessError::Failed(format!("no AWS credentials: {e}")))?;
        self.uploads
            .put(&url, "application/pdf", pdf.to_vec())
            .await
            .map_err(|e| ProcessError::Failed(format!("s3://{}/{key}: {e}", self.bucket.name())))
    }
}

/// Webhook deliveries on the SDK's HTTP client (`eventforge_aws_https::post_pinned`), TLS from
/// the execution environment's certificate store (`webhook::delivery_tls`): no second HTTP
/// client in the webhook function's zip.
pub struct PinnedHttpsTransport;

#[async_trait]
impl WebhookTransport for PinnedHttpsTransport {
    async fn post(&self, delivery: Delivery) -> Result<u16, DeliveryError> {
        post_pinned(
            &delivery_tls()?,
            &delivery.url,
            delivery.address,
            &delivery.headers,
            delivery.body,
            delivery.timeout,
        )
        .await
        .map_err(|error| DeliveryError::Failed(error.to_string()))
    }
}

/// Emails sent through SES v2 as simple content (subject and text; SES writes the message), from
/// the verified sender address.
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
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| ProcessError::Failed(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                let error = aws_sdk_sesv2::error::DisplayErrorContext(e);
                ProcessError::Failed(format!("SES to {}: {error}", email.to))
            })?;
        Ok(())
    }
}

/// Customers' addresses from the Cognito user pool: the `email` of the user whose `sub` is the
/// order's user id, when `email_verified` is true.
///
/// Looked up when an email is sent rather than carried on the order: Cognito's access tokens
/// (what the API sees) carry no email, and an address changed after the order is placed is
/// the one the customer reads now. `ListUsers` with a `sub` filter finds the user whatever the
/// pool's sign-in attribute (email, or a username); its IAM grant is scoped to the one pool.
/// Answers are kept for a minute, so a batch of one customer's orders asks once.
pub struct CognitoRecipients {
    client: aws_sdk_cognitoidentityprovider::Client,
    user_pool_id: String,
    cache: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Recipient)>>,
}

/// How long a looked-up address is reused.
const RECIPIENT_CACHE_LIFETIME: Duration = Duration::from_secs(60);

impl CognitoRecipients {
    pub fn new(aws: &aws_config::SdkConfig, user_pool_id: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_cognitoidentityprovider::Client::new(aws),
            user_pool_id: user_pool_id.into(),
            cache: std::sync::Mutex::default(),
        }
    }

    fn cached(&self, user: &str) -> Option<Recipient> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(user)
            .filter(|(at, _)| at.elapsed() < RECIPIENT_CACHE_LIFETIME)
            .map(|(_, recipient)| recipient.clone())
    }
}

#[async_trait]
impl Recipients for CognitoRecipients {
    async fn recipient(&self, user: &UserId) -> Result<Recipient, ProcessError> {
        if let Some(known) = self.cached(&user.0) {
            return Ok(known);
        }
        // A sub is a UUID; anything else cannot be one of the pool's users (and must not be
        // put into the filter expression).
        let recipient = if !user.0.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            Recipient::Unreachable(format!("{} is not a user pool user id", user.0))
        } else {
            let found = self
                .client
                .list_users()
                .user_pool_id(&self.user_pool_id)
                .filter(format!("sub = \"{}\"", user.0))
                .limit(1)
                .send()
                .await
                .map_err(|error| {
                    ProcessError::Failed(format!(
                        "looking up the customer in the user pool {}: {}",
                        self.user_pool_id,
                        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(error)
                    ))
                })?;
            recipient_of(found.users().first())
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(
            user.0.clone(),
            (std::time::Instant::now(), recipient.clone()),
        );
        Ok(recipient)
    }
}

/// The address of a user pool user, or why there is none to send to.
fn recipient_of(user: Option<&aws_sdk_cognitoidentityprovider::types::UserType>) -> Recipient {
    let Some(user) = user else {
        return Recipient::Unreachable("no such user in the user pool".to_owned());
    };
    let attribute = |name: &str| {
        user.attributes()
            .iter()
            .find(|attribute| attribute.name() == name)
            .and_then(|attribute| attribute.value())
    };
    match (attribute("email"), attribute("email_verified")) {
        (None, _) => Recipient::Unreachable("the user has no email address".to_owned()),
        (Some(email), Some("true")) => Recipient::Verified(email.to_owned()),
        (Some(_), _) => {
            Recipient::Unreachable("the user's email address is not verified".to_owned())
        }
    }
}
