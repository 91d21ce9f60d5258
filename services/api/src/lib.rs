//! eventforge-api
