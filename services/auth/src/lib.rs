//! eventforge-auth
