//! Extractors whose every rejection is an [`ApiError`], so no request can be answered with
//! axum's plain-text rejections.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use eventforge_auth::AuthenticatedUser;
use eventforge_core::UserId;
use eventforge_core::roles::ADMINS_GROUP;
use serde::de::DeserializeOwned;

/// A JSON body. Wrong or missing content type is 415, unparsable JSON 400, JSON of the wrong
/// shape 422 naming the field (`items[0].quantity`), a body over the limit 413.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(request.headers())?;
        let bytes = Bytes::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Refuses a request whose `Content-Type` is not JSON (`application/json` or `application/*+json`).
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            let essence = essence.to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`".to_owned(),
        ))
    }
}

/// Parses a JSON body, telling syntax errors (400) apart from well-formed JSON that does not fit
/// the expected shape (422, with the path of the offending field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.classify() == serde_json::error::Category::Data {
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::invalid_field(field, inner.to_string())
        } else {
            ApiError::Malformed(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::Malformed(format!("the body is not valid JSON: {error}")))?;
    Ok(value)
}

/// The caller, proven by a verified bearer token. Missing or refused tokens are 401; a token
/// issuer whose keys cannot be fetched is 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        Ok(AuthUser(UserId(user.user_id)))
    }
}

/// The caller, who must be a member of the `admins` group (`cognito:groups`): the catalogue's
/// administrators. Anyone else with a valid token is refused with 403.
pub struct AdminUser(pub UserId);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        if !user.is_member_of(ADMINS_GROUP) {
            return Err(ApiError::Forbidden(format!(
                "only members of the {ADMINS_GROUP} group may manage the catalogue"
            )));
        }
        Ok(AdminUser(UserId(user.user_id)))
    }
}

/// The user of the request's bearer token, verified; the request's log line names it.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<AuthenticatedUser, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthenticated(
            "no bearer token was provided; send `Authorization: Bearer <access token>`".to_owned(),
        )
    })?;
    let token = value
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "the Authorization header must be `Bearer <access token>`".to_owned(),
            )
        })?;
    let user = state.config().verifier.verify(token).await?;
    crate::request_log::note_user(&user.user_id);
    Ok(user)
}

/// Path parameters; an unparsable one (an order id that is no UUID) is 400.
#[derive(Debug, Clone, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters; an unparsable one (`limit=ten`) is 400.
#[derive(Debug, Clone, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The value of an optional text header; one that is not visible ASCII is 400.
pub fn optional_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::Malformed(format!("the {name} header must be ASCII text")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: u32,
    }

    #[test]
    fn json_of_the_wrong_shape_names_the_field() {
        let error = parse_json::<Body>(br#"{"items":[{"quantity":"two"}]}"#).unwrap_err();
        let problem = error.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(
            problem.errors.expect("errors")[0].field,
            "items[0].quantity"
        );
    }

    #[test]
    fn broken_json_is_malformed() {
        assert_eq!(
            parse_json::<Body>(b"{\"items\":")
                .unwrap_err()
                .problem()
                .status,
            400
        );
        assert_eq!(
            parse_json::<Body>(b"{\"items\":[]} x")
                .unwrap_err()
                .problem()
                .status,
            400
        );
    }

    #[test]
    fn json_media_types_include_structured_suffixes() {
        let mut headers = HeaderMap::new();
        assert!(require_json_content_type(&headers).is_err());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(require_json_content_type(&headers).is_ok());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/merge-patch+json"),
        );
        assert!(require_json_content_type(&headers).is_ok());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(require_json_content_type(&headers).is_err());
    }
}
