//! The process environment, read once: a snapshot that collection, the registry credentials
//! and the face consult, so nothing reads or changes the process environment behind the
//! others' backs. An empty variable counts as unset.

use std::collections::{BTreeMap, BTreeSet};

/// A snapshot of the process environment: the variables that are valid UTF-8, and the names
/// of those that are not (so they can be refused by name rather than vanish).
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    vars: BTreeMap<String, String>,
    not_utf8: BTreeSet<String>,
}

impl Env {
    pub(crate) fn from_process() -> Self {
        let mut env = Env::default();
        for (k, v) in std::env::vars_os() {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.vars.insert(k, v);
                }
                (Ok(k), Err(_)) => {
                    env.not_utf8.insert(k);
                }
                (Err(_), _) => {}
            }
        }
        env
    }

    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Env {
            vars: pairs.into_iter().collect(),
            not_utf8: BTreeSet::new(),
        }
    }

    /// The variable's value when set and non-empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether the variable is set to the empty string (which counts as unset).
    pub(crate) fn is_empty_var(&self, key: &str) -> bool {
        self.vars.get(key).is_some_and(String::is_empty)
    }

    /// Whether some variable whose name starts with `prefix` is set and empty.
    pub(crate) fn any_empty_var(&self, prefix: &str) -> bool {
        self.vars
            .iter()
            .any(|(k, v)| v.is_empty() && k.starts_with(prefix))
    }

    /// Whether the variable is set to something that is not UTF-8.
    pub(crate) fn is_not_utf8(&self, key: &str) -> bool {
        self.not_utf8.contains(key)
    }
}
