//! eventforge-store-conformance
