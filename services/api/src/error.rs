//! The crate's one error type and its single mapping to RFC 7807 problem responses.
//!
//! Every failure a handler or extractor can meet becomes an [`ApiError`], and only
//! [`ApiError::into_response`] decides status codes and bodies, so a client always receives
//! `application/problem+json` of one shape, whatever went wrong and wherever.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventforge_application::commands::{OrderError, WebhookError};
use eventforge_auth::{AuthError, DevIssuerError};
use eventforge_core::signature::SignatureError;
use eventforge_core::store::StoreError;
use eventforge_core::validation::{FieldError, ValidationErrors};
use serde::Serialize;

/// Base of every problem `type` URI; the slug after it names the kind of problem.
pub const PROBLEM_TYPE_BASE: &str = "https://eventforge.dev/problems/";

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 7807 problem document, as every error response carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://eventforge.dev/problems/<slug>`, stable per kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong with this request and what to do about it.
    pub detail: String,
    /// For validation problems: every field that is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Everything that can make a request fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not well formed: unparsable JSON, a malformed header, query or path.
    #[error("{0}")]
    Malformed(String),
    /// No valid credentials: the bearer token or the ingest signature was refused.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed: the user lacks the role the route needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request contradicts the current state (a reused Idempotency-Key, a finished order).
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but invalid: every offending field is listed.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// A dependency we rely on (the token issuer's keys) is unreachable; retrying may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side. The cause is logged, never shown to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation problem with one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(ValidationErrors(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }]))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::Malformed(_) => ("malformed-request", "Malformed request"),
            Self::Unauthenticated(_) => ("unauthorized", "Authentication required"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Request body too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::Invalid(_) => ("validation-failed", "Validation failed"),
            Self::Unavailable(_) => ("service-unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal-error", "Internal server error"),
        }
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let (detail, errors) = match self {
            Self::Invalid(errors) => (
                "the request has invalid fields; see errors".to_owned(),
                Some(errors.0.clone()),
            ),
            Self::Internal(_) => (
                "something went wrong on our side; the request may be retried".to_owned(),
                None,
            ),
            other => (other.to_string(), None),
        };
        Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status: self.status().as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed on the server side");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"eventforge\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::OrderNotFound(_) | StoreError::WebhookNotFound(_) => {
                Self::NotFound(error.to_string())
            }
            StoreError::StatusConflict { .. }
            | StoreError::IdempotencyKeyReused { .. }
            | StoreError::InsufficientStock { .. } => Self::Conflict(error.to_string()),
            StoreError::UnknownSku(_) => Self::invalid_field("items", error.to_string()),
            StoreError::InvalidCursor => Self::Malformed(format!(
                "cursor: {error}; pass back the next_cursor of the previous page unchanged"
            )),
            StoreError::Backend(_) => Self::internal(error),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Invalid(errors) => Self::Invalid(errors),
            OrderError::MalformedIdempotencyKey => Self::Malformed(error.to_string()),
            OrderError::NotFound => Self::NotFound("no such order".to_owned()),
            OrderError::Store(store) => store.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Url(url) => Self::invalid_field("url", url.to_string()),
            WebhookError::EventTypeCount => Self::invalid_field("event_types", error.to_string()),
            WebhookError::TooMany => Self::Conflict(error.to_string()),
            WebhookError::Store(store) => store.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        if error.is_server_side() {
            Self::Unavailable(error.to_string())
        } else {
            Self::Unauthenticated(error.to_string())
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        Self::Unauthenticated(format!("the ingest signature was refused: {error}"))
    }
}

impl From<DevIssuerError> for ApiError {
    fn from(error: DevIssuerError) -> Self {
        match error {
            DevIssuerError::InvalidUsername { .. } => {
                Self::invalid_field("username", error.to_string())
            }
            other => Self::internal(other),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::PayloadTooLarge {
                limit: crate::BODY_LIMIT_BYTES,
            }
        } else {
            Self::Malformed(format!("the request body could not be read: {rejection}"))
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".to_owned(),
            ),
            JsonRejection::BytesRejection(bytes) => bytes.into(),
            JsonRejection::JsonDataError(data) => Self::invalid_field("body", data.body_text()),
            other => Self::Malformed(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::Malformed(format!("invalid path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Malformed(format!("invalid query string: {}", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_problem_lists_every_field() {
        let problem = ApiError::invalid_field("items[0].quantity", "too many").problem();
        assert_eq!(problem.status, 422);
        assert_eq!(
            problem.problem_type,
            "https://eventforge.dev/problems/validation-failed"
        );
        assert_eq!(
            problem.errors.expect("errors")[0].field,
            "items[0].quantity"
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let problem = ApiError::internal("database password is hunter2").problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn an_unreachable_key_set_is_our_fault_not_the_clients() {
        let error: ApiError = AuthError::KeySetUnavailable("timeout".into()).into();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        let error: ApiError = AuthError::Expired.into();
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_reused_idempotency_key_is_a_conflict() {
        let error: ApiError = OrderError::Store(StoreError::IdempotencyKeyReused {
            existing: eventforge_core::OrderId::generate(),
        })
        .into();
        assert_eq!(error.status(), StatusCode::CONFLICT);
    }

    #[test]
    fn problems_carry_the_problem_media_type_and_401s_a_challenge() {
        let response = ApiError::Unauthenticated("no token".into()).into_response();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
