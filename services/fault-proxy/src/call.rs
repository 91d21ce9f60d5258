//! What an AWS request is: the service (from its SigV4 credential scope), the operation (from
//! the protocol's own place for it) and what it names (a stack, an object key).

use axum::http::{HeaderMap, Method, Uri};

/// One request as the proxy saw it, and what it did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 signing name: `cloudformation`, `s3`, `lambda`; empty when unsigned.
    pub service: String,
    /// `CreateStack`, `PutItem`; for REST services the method and path, `PUT /bucket/key`.
    pub action: String,
    /// The stack a CloudFormation call names (`StackName`), if any.
    pub stack: Option<String>,
    pub fault: Option<Fault>,
}

/// A fault the proxy injected into a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answered with the service's throttling error; never reached the emulator.
    Throttled,
    /// A stack operation that took a while, as CloudFormation's do: its response was held and the
    /// stack showed `*_IN_PROGRESS` meanwhile.
    Slowed,
    /// A stack creation that failed on a resource and rolled back.
    FailedCreation,
    /// A `DeleteStack` for a stack already being deleted: answered, as AWS does, without a second
    /// deletion.
    AlreadyDeleting,
}

impl Call {
    /// Classifies a request from its method, URI, headers and body.
    pub fn classify(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        let service = signing_service(headers).unwrap_or_default();
        let form = || -> Vec<(String, String)> {
            url::form_urlencoded::parse(body)
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect()
        };
        let target = headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .and_then(|target| target.rsplit('.').next())
            .map(str::to_owned);
        let is_form = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
        let (action, stack) = if let Some(target) = target {
            (target, None)
        } else if is_form {
            let fields = form();
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            };
            (
                field("Action").unwrap_or_default(),
                field("StackName").filter(|_| service == "cloudformation"),
            )
        } else {
            (format!("{method} {}", uri.path()), None)
        };
        Self {
            service,
            action,
            stack,
            fault: None,
        }
    }
}

/// The service of the SigV4 credential scope, `Credential=<key>/<date>/<region>/<service>/aws4_request`.
fn signing_service(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    const SIGNED_CFN: &str = "AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn a_query_protocol_call_is_named_by_its_action_and_stack() {
        let call = Call::classify(
            &Method::POST,
            &"/".parse().unwrap(),
            &headers(&[
                ("authorization", SIGNED_CFN),
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
            ]),
            b"Action=CreateStack&Version=2010-05-15&StackName=eventforge-dev-data",
        );
        assert_eq!(call.service, "cloudformation");
        assert_eq!(call.action, "CreateStack");
        assert_eq!(call.stack.as_deref(), Some("eventforge-dev-data"));
    }

    #[test]
    fn a_json_protocol_call_is_named_by_its_target_and_a_rest_call_by_method_and_path() {
        let signed = SIGNED_CFN.replace("cloudformation", "dynamodb");
        let json = Call::classify(
            &Method::POST,
            &"/".parse().unwrap(),
            &headers(&[
                ("authorization", &signed),
                ("x-amz-target", "DynamoDB_20120810.PutItem"),
            ]),
            b"{}",
        );
        assert_eq!(
            (json.service.as_str(), json.action.as_str()),
            ("dynamodb", "PutItem")
        );
        let signed = SIGNED_CFN.replace("cloudformation", "s3");
        let rest = Call::classify(
            &Method::PUT,
            &"/bucket/lambda/abc.zip?x-id=PutObject".parse().unwrap(),
            &headers(&[("authorization", &signed)]),
            b"zip",
        );
        assert_eq!(rest.service, "s3");
        assert_eq!(rest.action, "PUT /bucket/lambda/abc.zip");
        assert_eq!(rest.stack, None);
    }
}
