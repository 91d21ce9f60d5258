//! The HTTP handlers: each parses its input, calls a domain function or the store, and maps the
//! result. Business rules live in `eventforge_core`, not here.

pub mod admin;
pub mod dev;
pub mod events;
pub mod files;
pub mod ingest;
pub mod inventory;
pub mod operations;
pub mod orders;
pub mod webhooks;

use crate::error::ApiError;

/// Checks a requested page size against what the listing allows.
fn page_limit(requested: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = requested.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid_field(
            "limit",
            format!("limit must be 1 to {max}, got {limit}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_default_and_stay_in_range() {
        assert_eq!(page_limit(None, 20, 50).expect("default"), 20);
        assert_eq!(page_limit(Some(50), 20, 50).expect("max"), 50);
        assert!(page_limit(Some(0), 20, 50).is_err());
        assert!(page_limit(Some(51), 20, 50).is_err());
    }
}
