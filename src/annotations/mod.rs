//! The annotation model: the predefined OCI keys and their short names, the validated map
//! that every sink renders, and the levels each entry goes to.
//!
//! Collection produces facts; this module turns them into `Annotations`, a map ordered by
//! key. Sinks only ever see an `Annotations` that passed validation.

pub(crate) mod diag;
pub(crate) mod kubernetes;
pub(crate) mod levels;
pub(crate) mod license_policy;
pub(crate) mod reference;
pub(crate) mod spdx;
pub(crate) mod spec;
pub(crate) mod time;
pub(crate) mod url;
pub(crate) mod validate;

use std::collections::BTreeMap;

pub(crate) use diag::Diagnostic;
pub(crate) use levels::{LevelError, Levels};

/// The prefix every predefined image-spec key shares.
pub(crate) const OCI_PREFIX: &str = "org.opencontainers.image.";
/// The prefix the image spec reserves for itself.
pub(crate) const RESERVED_PREFIX: &str = "org.opencontainers.";

/// The keys image-spec v1.1 predefines, with the short names accepted on the command line.
pub(crate) const PREDEFINED: &[(&str, &str)] = &[
    ("authors", spec::ANNOTATION_AUTHORS),
    ("base.digest", spec::ANNOTATION_BASE_IMAGE_DIGEST),
    ("base.name", spec::ANNOTATION_BASE_IMAGE_NAME),
    ("created", spec::ANNOTATION_CREATED),
    ("description", spec::ANNOTATION_DESCRIPTION),
    ("documentation", spec::ANNOTATION_DOCUMENTATION),
    ("licenses", spec::ANNOTATION_LICENSES),
    ("ref.name", spec::ANNOTATION_REF_NAME),
    ("revision", spec::ANNOTATION_REVISION),
    ("source", spec::ANNOTATION_SOURCE),
    ("title", spec::ANNOTATION_TITLE),
    ("url", spec::ANNOTATION_URL),
    ("vendor", spec::ANNOTATION_VENDOR),
    ("version", spec::ANNOTATION_VERSION),
];

/// The legacy label-schema keys and the predefined key (short name) each mirrors.
pub(crate) const LABEL_SCHEMA: &[(&str, &str)] = &[
    ("org.label-schema.build-date", "created"),
    ("org.label-schema.description", "description"),
    ("org.label-schema.name", "title"),
    ("org.label-schema.url", "url"),
    ("org.label-schema.usage", "documentation"),
    ("org.label-schema.vcs-ref", "revision"),
    ("org.label-schema.vcs-url", "source"),
    ("org.label-schema.vendor", "vendor"),
    ("org.label-schema.version", "version"),
];

/// The full key for a predefined short name (`version` → `org.opencontainers.image.version`).
pub(crate) fn full_key(short: &str) -> Option<&'static str> {
    PREDEFINED
        .iter()
        .find(|(s, _)| *s == short)
        .map(|(_, full)| *full)
}

/// The short name of a predefined key, if it is one.
pub(crate) fn short_name(key: &str) -> Option<&'static str> {
    PREDEFINED
        .iter()
        .find(|(_, full)| *full == key)
        .map(|(short, _)| *short)
}

/// What the user typed as a key, expanded: a predefined short name becomes its full key.
pub(crate) fn expand_key(key: &str) -> String {
    full_key(key).map_or_else(|| key.to_string(), str::to_string)
}

/// Where a value came from, as `--explain` shows it (`git HEAD`, `Cargo.toml license`), with
/// a note when it was changed on the way (`canonicalised from MIT/Apache-2.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provenance {
    pub(crate) source: String,
    pub(crate) note: Option<String>,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.note {
            Some(n) => write!(f, "{} ({n})", self.source),
            None => f.write_str(&self.source),
        }
    }
}

/// One annotation of a draft: its value, its own levels when it was given some, and where it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) value: String,
    /// `None` means "the levels chosen for the whole run" (`--level`, default `manifest`).
    pub(crate) levels: Option<Levels>,
    pub(crate) provenance: Option<Provenance>,
}

/// A draft: the annotations as collected (or given to `validate`), ordered by key, not yet
/// checked. Only [`validate::validate`] turns one into [`Valid`], the type sinks take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Annotations {
    entries: BTreeMap<String, Entry>,
}

impl Annotations {
    pub(crate) fn insert(&mut self, key: String, value: String, levels: Option<Levels>) {
        self.insert_entry(
            key,
            Entry {
                value,
                levels,
                provenance: None,
            },
        );
    }

    pub(crate) fn insert_entry(&mut self, key: String, entry: Entry) {
        self.entries.insert(key, entry);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|e| e.value.as_str())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// The plain key → value map.
    pub(crate) fn to_map(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }
}

/// One entry of a valid set, its levels resolved (its own, else the run's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidEntry {
    pub(crate) value: String,
    pub(crate) levels: Levels,
    pub(crate) provenance: Option<Provenance>,
}

/// The validated annotations, ordered by key: what every renderer and target takes. Its
/// fields are private to this module, so only validation ([`validate::validate`]) makes one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Valid {
    entries: BTreeMap<String, ValidEntry>,
}

impl Valid {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &ValidEntry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// A valid set of a draft, for unit tests of the sinks; panics when the rules refuse it.
    #[cfg(test)]
    pub(crate) fn from_draft(draft: &Annotations, levels: &Levels) -> Valid {
        let (valid, diagnostics) = validate::validate(draft, levels);
        valid.unwrap_or_else(|| panic!("not valid: {diagnostics:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_expand_and_round_trip() {
        assert_eq!(expand_key("revision"), "org.opencontainers.image.revision");
        assert_eq!(
            expand_key("base.name"),
            "org.opencontainers.image.base.name"
        );
        assert_eq!(expand_key("com.example.x"), "com.example.x");
        for (short, full) in PREDEFINED {
            assert!(full.starts_with(OCI_PREFIX));
            assert_eq!(short_name(full), Some(*short));
            assert_eq!(&full[OCI_PREFIX.len()..], *short);
        }
    }
}
