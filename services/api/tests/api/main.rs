//! The API's specification, request by request: each test sends HTTP requests through the real
//! router (`tower::ServiceExt::oneshot`) over a real SQLite store in a temporary file, with
//! tokens minted by a development issuer.

mod common;

mod admin;
mod auth;
mod binary;
mod dev;
mod hostile_input;
mod ingest;
mod openapi;
mod orders;
mod otlp;
mod problems;
mod serve;
mod tracing;
mod webhooks;
