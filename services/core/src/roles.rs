//! Who may do more than place and read their own orders.

/// The Cognito group (the token's `cognito:groups` claim) whose members manage the catalogue:
/// create products and set their stock. The auth stack creates it; the API checks it.
pub const ADMINS_GROUP: &str = "admins";
