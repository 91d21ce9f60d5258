//! eventforge-store-sqlite
