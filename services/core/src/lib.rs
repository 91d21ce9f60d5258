//! eventforge-core
pub mod table_schema;
