//! The one error type of this crate. [`crate::DynamoStore`] reports these to its callers as
//! [`StoreError::Backend`](eventforge_core::StoreError::Backend).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use eventforge_core::EventId;
use eventforge_core::StoreError;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    /// A DynamoDB call failed; `message` is the SDK's full error report, service message included.
    #[error("DynamoDB {operation} failed: {message}")]
    Service {
        operation: &'static str,
        message: String,
    },
    /// A request could not be built (a required field was missing).
    #[error("could not build a {operation} request: {message}")]
    Request {
        operation: &'static str,
        message: String,
    },
    #[error("item {key} is not what this crate writes: {reason}")]
    MalformedItem { key: String, reason: String },
    #[error(
        "a transaction kept conflicting with concurrent writes; gave up after {attempts} attempts"
    )]
    Contention { attempts: u32 },
    #[error("event {0} was already recorded by another write")]
    DuplicateEvent(EventId),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("instants before 1970 cannot be used in sort keys: {0}")]
    InstantBeforeEpoch(OffsetDateTime),
    #[error(
        "a reservation touching {skus} distinct SKUs does not fit one transaction (at most {max})"
    )]
    TooManySkus { skus: usize, max: usize },
    #[error("table {table} did not become ACTIVE within {seconds} s")]
    TableNotActive { table: String, seconds: u64 },
    #[error("could not serialise a value: {0}")]
    Json(#[from] serde_json::Error),
}

impl DynamoError {
    /// Keeps the service's error code and message; errors that never reached the service
    /// (timeouts, connection failures) keep the SDK's whole report.
    pub(crate) fn service<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&error).to_string(),
        };
        Self::Service { operation, message }
    }

    pub(crate) fn request(operation: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Request {
            operation,
            message: error.to_string(),
        }
    }

    pub(crate) fn malformed(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::MalformedItem {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl From<DynamoError> for StoreError {
    fn from(error: DynamoError) -> Self {
        StoreError::backend(error)
    }
}
