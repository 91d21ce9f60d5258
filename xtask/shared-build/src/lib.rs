//! Intentionally empty: this crate exists for its manifest, which turns on in xtask's build the
//! dependency features the workspace's build turns on (see `Cargo.toml`).
