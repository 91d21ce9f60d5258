//! The environment the functions stack gives each function (`stacks::platform::functions`).
//! Every function has the table and the bus; the others are set only where they are used, so
//! each is asked for by the function that needs it and missing ones fail its initialisation
//! with the variable's name.

use std::env;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "the environment variable {0} is not set; the functions stack sets it on every function that needs it"
    )]
    Missing(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub table_name: String,
    event_bus_name: Option<String>,
    receipts_bucket: Option<String>,
    email_from: Option<String>,
    user_pool_id: Option<String>,
}

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const RECEIPTS_BUCKET: &str = "RECEIPTS_BUCKET";
pub const EMAIL_FROM: &str = "EMAIL_FROM";
pub const USER_POOL_ID: &str = "USER_POOL_ID";

impl Settings {
    pub fn from_environment() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the process environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let present = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Ok(Self {
            table_name: present(TABLE_NAME).ok_or(SettingsError::Missing(TABLE_NAME))?,
            event_bus_name: present(EVENT_BUS_NAME),
            receipts_bucket: present(RECEIPTS_BUCKET),
            email_from: present(EMAIL_FROM),
            user_pool_id: present(USER_POOL_ID),
        })
    }

    pub fn event_bus_name(&self) -> Result<&str, SettingsError> {
        required(&self.event_bus_name, EVENT_BUS_NAME)
    }

    pub fn receipts_bucket(&self) -> Result<&str, SettingsError> {
        required(&self.receipts_bucket, RECEIPTS_BUCKET)
    }

    pub fn email_from(&self) -> Result<&str, SettingsError> {
        required(&self.email_from, EMAIL_FROM)
    }

    /// The user pool holding the customers' email addresses.
    pub fn user_pool_id(&self) -> Result<&str, SettingsError> {
        required(&self.user_pool_id, USER_POOL_ID)
    }
}

fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, SettingsError> {
    value.as_deref().ok_or(SettingsError::Missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_table_is_required_of_every_function() {
        assert_eq!(settings(&[]), Err(SettingsError::Missing(TABLE_NAME)));
        assert_eq!(
            settings(&[(TABLE_NAME, "")]),
            Err(SettingsError::Missing(TABLE_NAME))
        );
    }

    #[test]
    fn the_others_are_required_only_when_asked_for_and_named_when_missing() {
        let settings = settings(&[(TABLE_NAME, "t"), (RECEIPTS_BUCKET, "receipts")]).unwrap();
        assert_eq!(settings.receipts_bucket(), Ok("receipts"));
        let missing = settings.email_from().unwrap_err();
        assert_eq!(missing, SettingsError::Missing(EMAIL_FROM));
        assert!(missing.to_string().contains("EMAIL_FROM"));
    }
}
