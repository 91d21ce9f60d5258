//! Logical ids and placeholders derived from kebab-case names (a function's, a queue's).

/// `kebab-case` to `UpperCamelCase`, the only case conversion the crate needs.
pub fn upper_camel(kebab: &str) -> String {
    kebab
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}
