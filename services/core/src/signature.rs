//! HMAC-SHA256 request signatures with a timestamp, as used by `/webhooks/ingest` and by outgoing
//! webhook deliveries.
//!
//! The signed message is `"{timestamp}.{body}"` where `timestamp` is Unix seconds; the signature
//! is sent as `v1=<lower-case hex>`. Binding the timestamp into the MAC and refusing old
//! timestamps stops a captured request from being replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// How far a signed timestamp may be from now, either way.
pub const REPLAY_WINDOW: time::Duration = time::Duration::minutes(5);

const SCHEME_PREFIX: &str = "v1=";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not a whole number of Unix seconds")]
    MalformedTimestamp,
    #[error("the signature is not of the form v1=<hex>")]
    MalformedSignature,
    #[error("the timestamp is more than five minutes away from the server's clock")]
    OutsideReplayWindow,
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `v1=<hex>` signature of `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("{SCHEME_PREFIX}{}", hex::encode(tag))
}

/// Checks a signature in constant time and the timestamp against the replay window.
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    let tag = signature_header
        .trim()
        .strip_prefix(SCHEME_PREFIX)
        .and_then(|hex_tag| hex::decode(hex_tag).ok())
        .ok_or(SignatureError::MalformedSignature)?;
    let age = now.unix_timestamp().abs_diff(timestamp);
    if age > REPLAY_WINDOW.whole_seconds().unsigned_abs() {
        return Err(SignatureError::OutsideReplayWindow);
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SECRET: &[u8] = b"shared-secret";
    const NOW: OffsetDateTime = datetime!(2026-11-24 12:00:00 UTC);

    #[test]
    fn a_fresh_correct_signature_verifies() {
        let ts = NOW.unix_timestamp();
        let sig = sign(SECRET, ts, b"{}");
        assert_eq!(verify(SECRET, &ts.to_string(), &sig, b"{}", NOW), Ok(()));
    }

    #[test]
    fn a_changed_body_or_secret_fails() {
        let ts = NOW.unix_timestamp();
        let sig = sign(SECRET, ts, b"{}");
        assert_eq!(
            verify(SECRET, &ts.to_string(), &sig, b"{ }", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &ts.to_string(), &sig, b"{}", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_timestamp_is_part_of_what_is_signed() {
        let ts = NOW.unix_timestamp();
        let sig = sign(SECRET, ts, b"{}");
        assert_eq!(
            verify(SECRET, &(ts - 1).to_string(), &sig, b"{}", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn requests_older_than_five_minutes_are_replays() {
        let ts = NOW.unix_timestamp() - 301;
        let sig = sign(SECRET, ts, b"{}");
        assert_eq!(
            verify(SECRET, &ts.to_string(), &sig, b"{}", NOW),
            Err(SignatureError::OutsideReplayWindow)
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(
            verify(SECRET, "yesterday", "v1=00", b"", NOW),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            verify(SECRET, "1", "sha256=zz", b"", NOW),
            Err(SignatureError::MalformedSignature)
        );
    }
}
