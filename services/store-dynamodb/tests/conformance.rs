//! The shared Store conformance suite, run against DynamoDB as emulated by moto.

mod support;

eventforge_store_conformance::conformance_suite!(support::fresh_store);
