//! The answers the proxy makes up, in each service's own protocol, so that the SDK parses them as
//! it parses AWS's: throttling errors, and CloudFormation responses changed to show a stack as
//! CloudFormation would while an operation runs or after a creation failed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The throttling error `service` answers with when a caller exceeds its rate: the codes the
/// AWS SDKs retry as throttling.
pub fn throttled(service: &str) -> Response {
    const RATE_EXCEEDED: &str = "Rate exceeded";
    let xml = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
    };
    let query_error = |code: &str| {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{RATE_EXCEEDED}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
    };
    match service {
        "s3" => xml(
            StatusCode::SERVICE_UNAVAILABLE,
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>\
             <RequestId>fault-proxy</RequestId></Error>"
                .to_owned(),
        ),
        "ec2" => xml(
            StatusCode::SERVICE_UNAVAILABLE,
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
             <Message>Request limit exceeded.</Message></Error></Errors>\
             <RequestID>fault-proxy</RequestID></Response>"
                .to_owned(),
        ),
        "cloudformation"
        | "sts"
        | "iam"
        | "sns"
        | "cloudfront"
        | "elasticloadbalancing"
        | "monitoring" => xml(StatusCode::BAD_REQUEST, query_error("Throttling")),
        "lambda" => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "application/json")],
                format!(r#"{{"Type":"User","message":"{RATE_EXCEEDED}","Reason":"CallerRateLimitExceeded"}}"#),
            )
                .into_response();
            response.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static("TooManyRequestsException"),
            );
            response
        }
        // The JSON protocols (DynamoDB, ECR, ECS, Logs, Step Functions, EventBridge, ...).
        _ => {
            let mut response = (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
                format!(r#"{{"__type":"ThrottlingException","message":"{RATE_EXCEEDED}"}}"#),
            )
                .into_response();
            response.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static("ThrottlingException"),
            );
            response
        }
    }
}

/// `DeleteStack`'s answer, for a deletion already under way.
pub fn delete_stack_accepted() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        "<DeleteStackResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <ResponseMetadata><RequestId>fault-proxy</RequestId></ResponseMetadata></DeleteStackResponse>",
    )
        .into_response()
}

/// A `DescribeStacks` response with the named stack's status (and reason) replaced. Unchanged
/// when the response does not hold the stack.
pub fn with_stack_status(xml: &str, stack: &str, status: &str, reason: Option<&str>) -> String {
    let name = format!("<StackName>{stack}</StackName>");
    let Some(at) = xml.find(&name) else {
        return xml.to_owned();
    };
    // The member's status follows its name (the Stack shape's member order); the nested
    // members between them (parameters) hold no status.
    let Some(open) = xml[at..].find("<StackStatus>").map(|offset| at + offset) else {
        return xml.to_owned();
    };
    let Some(close) = xml[open..]
        .find("</StackStatus>")
        .map(|offset| open + offset)
    else {
        return xml.to_owned();
    };
    let mut changed = String::with_capacity(xml.len() + 200);
    changed.push_str(&xml[..open]);
    changed.push_str(&format!("<StackStatus>{status}</StackStatus>"));
    let mut rest = &xml[close + "</StackStatus>".len()..];
    if rest.starts_with("<StackStatusReason>")
        && let Some(end) = rest.find("</StackStatusReason>")
    {
        rest = &rest[end + "</StackStatusReason>".len()..];
    }
    if let Some(reason) = reason {
        changed.push_str(&format!(
            "<StackStatusReason>{}</StackStatusReason>",
            escape(reason)
        ));
    }
    changed.push_str(rest);
    changed
}

/// A resource's failed creation, as a stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub reason: String,
}

/// A `DescribeStackEvents` response with the failure event of `failed` added as the newest,
/// stamped with the newest event's time (the emulator's clock, so the caller's filters by time
/// treat it as its other events).
pub fn with_failure_event(xml: &str, stack: &str, failed: &FailedResource) -> String {
    const EVENTS: &str = "<StackEvents>";
    let Some(at) = xml.find(EVENTS).map(|offset| offset + EVENTS.len()) else {
        return xml.to_owned();
    };
    let between = |open: &str, close: &str| -> Option<&str> {
        let start = xml.find(open)? + open.len();
        let end = start + xml[start..].find(close)?;
        Some(&xml[start..end])
    };
    let timestamp = between("<Timestamp>", "</Timestamp>").unwrap_or("2026-01-01T00:00:00Z");
    let stack_id = between("<StackId>", "</StackId>").unwrap_or(stack);
    let event = format!(
        "<member><StackId>{stack_id}</StackId><EventId>fault-proxy-{id}</EventId>\
         <StackName>{stack}</StackName><LogicalResourceId>{id}</LogicalResourceId>\
         <ResourceType>{kind}</ResourceType><Timestamp>{timestamp}</Timestamp>\
         <ResourceStatus>CREATE_FAILED</ResourceStatus>\
         <ResourceStatusReason>{reason}</ResourceStatusReason></member>",
        id = failed.logical_id,
        kind = failed.resource_type,
        reason = escape(&failed.reason),
    );
    format!("{}{event}{}", &xml[..at], &xml[at..])
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_STACKS: &str = "<DescribeStacksResponse><DescribeStacksResult><Stacks>\
        <member><StackId>id-a</StackId><StackName>a</StackName><Parameters><member><ParameterKey>K</ParameterKey></member></Parameters><StackStatus>CREATE_COMPLETE</StackStatus><Tags/></member>\
        <member><StackId>id-b</StackId><StackName>b</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><StackStatusReason>done</StackStatusReason></member>\
        </Stacks></DescribeStacksResult></DescribeStacksResponse>";

    #[test]
    fn only_the_named_stack_s_status_changes() {
        let changed = with_stack_status(TWO_STACKS, "b", "UPDATE_IN_PROGRESS", None);
        assert!(changed.contains("<StackName>a</StackName><Parameters><member><ParameterKey>K</ParameterKey></member></Parameters><StackStatus>CREATE_COMPLETE</StackStatus>"));
        assert!(changed.contains(
            "<StackName>b</StackName><StackStatus>UPDATE_IN_PROGRESS</StackStatus></member>"
        ));
        let failed = with_stack_status(TWO_STACKS, "a", "ROLLBACK_COMPLETE", Some("R <failed>"));
        assert!(failed.contains("<StackStatus>ROLLBACK_COMPLETE</StackStatus><StackStatusReason>R &lt;failed&gt;</StackStatusReason><Tags/>"));
        assert_eq!(with_stack_status(TWO_STACKS, "c", "X", None), TWO_STACKS);
    }

    #[test]
    fn the_failure_event_comes_first_with_the_newest_event_s_time() {
        let events = "<DescribeStackEventsResponse><DescribeStackEventsResult><StackEvents>\
            <member><StackId>id-a</StackId><EventId>e1</EventId><Timestamp>2026-12-05T08:48:42.2Z</Timestamp></member>\
            </StackEvents></DescribeStackEventsResult></DescribeStackEventsResponse>";
        let failed = FailedResource {
            logical_id: "SiteBucket".to_owned(),
            resource_type: "AWS::S3::Bucket".to_owned(),
            reason: "bucket name taken".to_owned(),
        };
        let changed = with_failure_event(events, "a", &failed);
        let first = changed
            .find("<LogicalResourceId>SiteBucket</LogicalResourceId>")
            .unwrap();
        assert!(first < changed.find("<EventId>e1</EventId>").unwrap());
        assert!(changed.contains("<Timestamp>2026-12-05T08:48:42.2Z</Timestamp><ResourceStatus>CREATE_FAILED</ResourceStatus><ResourceStatusReason>bucket name taken</ResourceStatusReason>"));
    }
}
