//! eventforge-store-dynamodb
