//! eventforge-stacks
