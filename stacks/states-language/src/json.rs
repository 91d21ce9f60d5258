//! JSON as the templates and the ASL documents are written.

use std::collections::BTreeMap;

/// Any JSON value.
pub type Json = serde_json::Value;

/// Rebuilds every object with its keys sorted, whatever map type `serde_json` was built with.
pub fn canonical(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let sorted: BTreeMap<String, Json> = map
                .into_iter()
                .map(|(key, inner)| (key, canonical(inner)))
                .collect();
            Json::Object(sorted.into_iter().collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}
