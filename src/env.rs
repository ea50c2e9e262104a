//! The process environment, read once: a snapshot that collection, the registry credentials
//! and the face consult, so nothing reads or changes the process environment behind the
//! others' backs. An empty variable counts as unset.

use std::collections::BTreeMap;

/// A snapshot of the process environment (only variables that are valid UTF-8).
#[derive(Debug, Clone, Default)]
pub(crate) struct Env(BTreeMap<String, String>);

impl Env {
    pub(crate) fn from_process() -> Self {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect())
    }

    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Env(pairs.into_iter().collect())
    }

    /// The variable's value when set and non-empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}
