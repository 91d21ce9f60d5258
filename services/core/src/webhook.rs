//! Webhooks: where a user wants their events delivered, and which destinations are refused.

use crate::event::EventType;
use crate::ids::{UserId, WebhookId};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use time::OffsetDateTime;
use url::{Host, Url};

/// The most event types one webhook may ask for.
pub const MAX_WEBHOOK_EVENT_TYPES: usize = 20;
/// The events a webhook receives when the request names none.
pub const DEFAULT_WEBHOOK_EVENTS: [EventType; 2] =
    [EventType::ORDER_CONFIRMED, EventType::ORDER_FAILED];

/// The body of `POST /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhookRequest {
    #[schema(schema_with = crate::schema::webhook_url)]
    pub url: String,
    /// Defaults to `order.confirmed` and `order.failed`.
    #[schema(schema_with = crate::schema::webhook_event_types)]
    pub event_types: Option<Vec<EventType>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub user_id: UserId,
    pub url: String,
    /// Only events of these types are delivered.
    pub event_types: Vec<EventType>,
    /// Key of the HMAC-SHA256 signature on every delivery; shown to the user once, at creation.
    pub secret: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl Webhook {
    pub fn wants(&self, event_type: &EventType) -> bool {
        self.event_types.contains(event_type)
    }
}

/// Which webhook destinations are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlPolicy {
    /// Public `https` destinations only: the production rule.
    #[default]
    PublicHttpsOnly,
    /// Also plain `http` to loopback addresses, so local development and tests can receive
    /// deliveries on 127.0.0.1. Never enabled on AWS.
    AllowLoopback,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("not a valid absolute URL: {0}")]
    Unparsable(String),
    #[error("webhook URLs must use https")]
    NotHttps,
    #[error("webhook URLs must not contain a user name or password")]
    HasCredentials,
    #[error("webhook URLs must name a host")]
    NoHost,
    #[error(
        "{0} is a private, loopback, link-local or metadata address; webhooks go to public hosts only"
    )]
    ForbiddenAddress(String),
}

/// Checks a webhook destination before it is stored. Host names are checked again after DNS
/// resolution at delivery time with [`is_forbidden_ip`], since a public name can point anywhere.
pub fn validate_url(raw: &str, policy: UrlPolicy) -> Result<Url, WebhookUrlError> {
    let url = Url::parse(raw).map_err(|e| WebhookUrlError::Unparsable(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookUrlError::HasCredentials);
    }
    let host = url.host().ok_or(WebhookUrlError::NoHost)?;
    let ip = match &host {
        Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
        Host::Domain(_) => None,
    };
    let loopback_allowed = policy == UrlPolicy::AllowLoopback
        && (ip.is_some_and(|ip| ip.is_loopback()) || is_localhost_name(&host));
    match url.scheme() {
        "https" => {}
        "http" if loopback_allowed => {}
        _ => return Err(WebhookUrlError::NotHttps),
    }
    if loopback_allowed {
        return Ok(url);
    }
    let forbidden = match (&host, ip) {
        (_, Some(ip)) => is_forbidden_ip(ip),
        (Host::Domain(name), None) => is_localhost_name(&host) || is_metadata_name(name),
        _ => false,
    };
    if forbidden {
        return Err(WebhookUrlError::ForbiddenAddress(host.to_string()));
    }
    Ok(url)
}

fn is_localhost_name(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        _ => false,
    }
}

fn is_metadata_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "metadata.google.internal" || name == "instance-data" || name.ends_with(".internal")
}

/// True for every address a webhook must never reach: loopback, private, link-local (which holds
/// the cloud metadata service at 169.254.169.254), carrier-grade NAT, unspecified, broadcast,
/// multicast, documentation ranges, IPv6 unique-local and link-local, the EC2 IPv6 metadata
/// address, and IPv4 addresses wrapped in IPv6.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7, includes fd00:ec2::254
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0) // NAT64 prefix base
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
        }
    }
}

fn is_forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_are_accepted() {
        assert!(validate_url("https://hooks.example.com/eventforge", UrlPolicy::default()).is_ok());
        assert!(validate_url("https://93.184.216.34/in", UrlPolicy::default()).is_ok());
    }

    #[test]
    fn plain_http_is_refused() {
        assert_eq!(
            validate_url("http://hooks.example.com/", UrlPolicy::default()),
            Err(WebhookUrlError::NotHttps)
        );
    }

    #[test]
    fn internal_destinations_are_refused_however_they_are_spelled() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://localhost/",
            "https://api.localhost/",
            "https://10.0.0.5/",
            "https://172.16.3.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://metadata.google.internal/",
        ] {
            assert!(
                matches!(
                    validate_url(url, UrlPolicy::default()),
                    Err(WebhookUrlError::ForbiddenAddress(_))
                ),
                "{url} should be refused"
            );
        }
    }

    #[test]
    fn credentials_in_urls_are_refused() {
        assert_eq!(
            validate_url("https://user:pw@hooks.example.com/", UrlPolicy::default()),
            Err(WebhookUrlError::HasCredentials)
        );
    }

    #[test]
    fn loopback_over_http_only_when_the_policy_allows_it() {
        let url = "http://127.0.0.1:9000/hook";
        assert!(validate_url(url, UrlPolicy::PublicHttpsOnly).is_err());
        assert!(validate_url(url, UrlPolicy::AllowLoopback).is_ok());
        assert!(validate_url("http://10.0.0.1/", UrlPolicy::AllowLoopback).is_err());
    }
}
