//! Test support: every store is a new, uniquely named table on the one moto server of this test
//! binary (started on first use, stopped when the binary exits).

#![allow(dead_code)] // Each test binary uses its own subset.

use eventforge_core::Store;
use eventforge_store_dynamodb::DynamoStore;
use eventforge_store_dynamodb::moto::MotoServer;
use std::sync::Arc;

pub fn server() -> &'static MotoServer {
    MotoServer::shared().unwrap_or_else(|error| panic!("{error}"))
}

/// A fresh, empty store: the conformance suite's factory.
pub async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(fresh_dynamo_store().await)
}

pub async fn fresh_dynamo_store() -> DynamoStore {
    server()
        .fresh_store()
        .await
        .unwrap_or_else(|error| panic!("could not create a test table: {error}"))
}
