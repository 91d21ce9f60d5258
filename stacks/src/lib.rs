//! eventforge-stacks
#![allow(missing_docs)]

pub mod asl;
pub mod error;
pub mod generated;
pub mod handle;
pub mod iam;
pub mod manifest;
pub mod order;
pub mod platform;
pub mod resource;
pub mod stack;
pub mod synth;
pub mod value;
