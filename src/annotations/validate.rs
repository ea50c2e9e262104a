//! The OCI image-spec annotation rules (v1.1). Each rule yields a [`Diagnostic`] with a
//! stable code; every problem in a set is reported in one run, never just the first.
//!
//! Messages never repeat a credential: URLs are shown with user-info and secret-looking
//! query values replaced by `***`.

pub(crate) use super::diag::{has_errors, Diagnostic};
use super::levels::LevelKind;
use super::reference::{
    check_digest, check_fully_qualified_reference, is_ref_name, qualify_docker_hub,
};
use super::url::check_url;
pub(crate) use super::url::{redact_text, redact_url};
use std::collections::BTreeMap;

use super::{Annotations, Levels, Valid, ValidEntry, OCI_PREFIX, PREDEFINED, RESERVED_PREFIX};

/// Keys the image-spec's conversion document defines for runtime bundles; valid there, but
/// not image annotations.
const RUNTIME_KEYS: &[&str] = &[
    "org.opencontainers.image.architecture",
    "org.opencontainers.image.author",
    "org.opencontainers.image.exposedPorts",
    "org.opencontainers.image.os",
    "org.opencontainers.image.os.features",
    "org.opencontainers.image.os.version",
    "org.opencontainers.image.stopSignal",
    "org.opencontainers.image.variant",
];

/// Validates a draft; `levels` are the run's levels for entries without their own. Every
/// finding, and the valid set when none of them is an error.
pub(crate) fn validate(
    annotations: &Annotations,
    levels: &Levels,
) -> (Option<Valid>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut entries = BTreeMap::new();
    for (key, entry) in annotations.iter() {
        out.extend(check_key(key));
        out.extend(check_value(key, &entry.value));
        let levels = entry.levels.as_ref().unwrap_or(levels);
        if key == crate::annotations::spec::ANNOTATION_REF_NAME
            && levels.iter().any(|l| l.kind != LevelKind::IndexDescriptor)
        {
            out.push(ref_name_level(key, Some(levels)));
        }
        entries.insert(
            key.to_string(),
            ValidEntry {
                value: entry.value.clone(),
                levels: levels.clone(),
                provenance: entry.provenance.clone(),
            },
        );
    }
    let valid = (!has_errors(&out)).then_some(Valid { entries });
    (valid, out)
}

/// `ref.name` anywhere but on index.json descriptors: at the levels asked for, or (`None`) in
/// a target, at a place other than an index.json descriptor.
pub(crate) fn ref_name_level(key: &str, levels: Option<&Levels>) -> Diagnostic {
    let d = match levels {
        Some(levels) => Diagnostic::warning(
            "ref-name-level",
            key,
            format!("`{key}` belongs on index.json descriptors only, not at `{levels}`"),
        ),
        None => Diagnostic::warning(
            "ref-name-level",
            key,
            format!("`{key}` belongs on index.json descriptors only"),
        ),
    };
    d.hint(format!("write it as `index-descriptor:{key}=…`"))
}

/// Validates a plain key → value map (annotations already in a target).
pub(crate) fn validate_map<'a>(
    map: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, value) in map {
        out.extend(check_key(key));
        out.extend(check_value(key, value));
    }
    out
}

/// The key rules: well-formed, not a misspelt or reserved OCI key, reverse-domain.
pub(crate) fn check_key(key: &str) -> Option<Diagnostic> {
    if key.is_empty() {
        return Some(
            Diagnostic::error("empty-key", key, "an annotation key is empty")
                .hint("write KEY=VALUE with a non-empty KEY"),
        );
    }
    if let Some(c) = key
        .chars()
        .find(|c| *c == '=' || c.is_whitespace() || c.is_control())
    {
        let what = match c {
            '=' => "`=`".to_string(),
            c if c.is_whitespace() && !c.is_control() => "whitespace".to_string(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Some(
            Diagnostic::error(
                "key-invalid-char",
                key,
                format!("key `{}` contains {what}", key.escape_debug()),
            )
            .hint("keys are reverse-domain names such as `com.example.build-id`"),
        );
    }
    if PREDEFINED.iter().any(|(_, full)| *full == key) {
        return None;
    }
    if key.starts_with("org.opencontainers.image.enc.") {
        return None; // ocicrypt's keys for encrypted layers, in use under the reserved prefix
    }
    if RUNTIME_KEYS.contains(&key) {
        return Some(
            Diagnostic::warning(
                "runtime-key",
                key,
                format!("`{key}` is defined for runtime bundles (image-spec conversion), not as an image annotation"),
            )
            .hint("use a predefined key or one under your own domain"),
        );
    }
    if let Some(suffix) = key.strip_prefix(OCI_PREFIX) {
        let mut d = Diagnostic::error(
            "unknown-oci-key",
            key,
            format!("`{key}` is not a predefined key; the `org.opencontainers.image.` namespace is reserved"),
        );
        d = match closest(suffix, PREDEFINED.iter().map(|(s, _)| *s), 3) {
            Some(short) => d.hint(format!("did you mean `{OCI_PREFIX}{short}`?")),
            None => d.hint("use a key under your own reverse domain, such as `com.example.…`"),
        };
        return Some(d);
    }
    if key.starts_with(RESERVED_PREFIX) {
        return Some(
            Diagnostic::error(
                "reserved-key",
                key,
                format!("`{key}` is under `org.opencontainers.`, which the OCI reserves"),
            )
            .hint("use a key under your own reverse domain, such as `com.example.…`"),
        );
    }
    // A key that is nearly a predefined one (`oci.opencontainers.image.revision`,
    // `org.opencontainer.image.version`) is a typo, not a custom key.
    if let Some(full) = closest(key, PREDEFINED.iter().map(|(_, f)| *f), 3) {
        return Some(
            Diagnostic::error(
                "misspelled-oci-key",
                key,
                format!("`{key}` is not a predefined key"),
            )
            .hint(format!("did you mean `{full}`?")),
        );
    }
    if !key.contains('.') {
        if let Some(short) = closest(key, PREDEFINED.iter().map(|(s, _)| *s), 2) {
            return Some(
                Diagnostic::error(
                    "unknown-short-name",
                    key,
                    format!("`{key}` is not a predefined short name"),
                )
                .hint(format!("did you mean `{short}` ({OCI_PREFIX}{short})?")),
            );
        }
    }
    if key.contains(':') {
        return Some(
            Diagnostic::warning("key-colon", key, format!("key `{key}` contains `:`"))
                .hint("buildx reads `:` in --annotation as the level separator, so this key cannot be passed to it"),
        );
    }
    if !is_reverse_domain(key) {
        return Some(
            Diagnostic::warning(
                "not-reverse-domain",
                key,
                format!("key `{key}` is not a reverse-domain name"),
            )
            .hint("prefix it with a domain you control, such as `com.example.`"),
        );
    }
    None
}

/// `com.example.thing`: at least two dot-separated, non-empty components, the first of them
/// a plausible top-level domain.
fn is_reverse_domain(key: &str) -> bool {
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    !first.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !rest.is_empty()
        && rest.iter().all(|p| !p.is_empty())
}

/// The candidate nearest to `word` by edit distance, if within `max`.
fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The value rules for the predefined keys; other keys accept any string without NUL.
pub(crate) fn check_value(key: &str, value: &str) -> Vec<Diagnostic> {
    use crate::annotations::spec;

    let mut out = Vec::new();
    if value.contains('\0') {
        out.push(
            Diagnostic::error(
                "value-nul",
                key,
                format!("the value of `{}` contains a NUL byte", key.escape_debug()),
            )
            .hint("annotation values are text; remove the NUL"),
        );
        return out;
    }
    if value.is_empty() {
        if key.starts_with(OCI_PREFIX) {
            out.push(
                Diagnostic::warning(
                    "empty-value",
                    key,
                    format!("`{}` has an empty value", key.escape_debug()),
                )
                .hint("leave the key out instead; an empty value says nothing"),
            );
        }
        return out;
    }
    match key {
        spec::ANNOTATION_CREATED => {
            if let Err(problem) = super::time::parse_created(value) {
                out.push(
                    Diagnostic::error(
                        "invalid-created",
                        key,
                        format!(
                            "`{}` is not an RFC 3339 date-time: {problem}",
                            value.escape_debug()
                        ),
                    )
                    .hint("write it like `2024-01-02T03:04:05Z`, or use --created"),
                );
            }
        }
        spec::ANNOTATION_LICENSES => {
            if let Err(d) = super::spdx::check_expression(key, value) {
                out.push(d);
            }
        }
        spec::ANNOTATION_URL | spec::ANNOTATION_DOCUMENTATION | spec::ANNOTATION_SOURCE => {
            out.extend(check_url(key, value));
        }
        spec::ANNOTATION_REF_NAME if !is_ref_name(value) => {
            out.push(
                    Diagnostic::error(
                        "invalid-ref-name",
                        key,
                        format!("`{}` does not match the image-spec ref.name grammar", value.escape_debug()),
                    )
                    .hint("components of letters and digits joined by `-._:@+` or `--`, separated by `/` (e.g. `v1.0.0`, `stable`)"),
                );
        }
        spec::ANNOTATION_BASE_IMAGE_DIGEST => {
            if let Err(problem) = check_digest(value) {
                out.push(
                    Diagnostic::error(
                        "invalid-digest",
                        key,
                        format!(
                            "`{}` is not a valid digest: {problem}",
                            value.escape_debug()
                        ),
                    )
                    .hint("write `sha256:` and 64 lower-case hex digits"),
                );
            }
        }
        spec::ANNOTATION_BASE_IMAGE_NAME => {
            if let Err(problem) = check_fully_qualified_reference(value) {
                let mut d = Diagnostic::error(
                    "invalid-base-name",
                    key,
                    format!(
                        "`{}` is not a fully qualified image reference: {problem}",
                        value.escape_debug()
                    ),
                );
                d = match qualify_docker_hub(value) {
                    Some(q) => d.hint(format!("write `{q}`")),
                    None => {
                        d.hint("write it with its registry, like `docker.io/library/alpine:3.20`")
                    }
                };
                out.push(d);
            }
        }
        spec::ANNOTATION_REVISION => {
            out.extend(super::url::check_embedded_credentials(key, value));
            let hex = value.bytes().all(|b| b.is_ascii_hexdigit());
            if !(hex && (value.len() == 40 || value.len() == 64)) {
                out.push(
                    Diagnostic::warning(
                        "revision-not-hash",
                        key,
                        format!(
                            "revision `{}` is not a full 40- or 64-character commit hash",
                            value.escape_debug()
                        ),
                    )
                    .hint(
                        "use the full hash (`git rev-parse HEAD`) so the source can be found again",
                    ),
                );
            }
        }
        spec::ANNOTATION_VENDOR | spec::ANNOTATION_AUTHORS => {
            out.extend(super::url::check_embedded_credentials(key, value));
        }
        _ if key.ends_with(".url") => {
            out.extend(super::url::check_embedded_credentials(key, value));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The codes of every finding about one annotation.
    pub(in crate::annotations) fn codes(key: &str, value: &str) -> Vec<&'static str> {
        check_key(key)
            .into_iter()
            .chain(check_value(key, value))
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn predefined_and_custom_keys_pass() {
        assert!(codes("org.opencontainers.image.title", "x").is_empty());
        assert!(codes("com.example.build-id", "x").is_empty());
        assert!(codes("io.k8s.description", "x").is_empty());
    }

    #[test]
    fn misspelt_oci_keys_get_did_you_mean() {
        let d = check_key("org.opencontainers.image.revison").unwrap();
        assert_eq!(d.code, "unknown-oci-key");
        assert!(d
            .hint
            .unwrap()
            .contains("org.opencontainers.image.revision"));
        let d = check_key("org.opencontainers.image.license").unwrap();
        assert!(d
            .hint
            .unwrap()
            .contains("org.opencontainers.image.licenses"));
        let d = check_key("oci.opencontainers.image.revision").unwrap();
        assert_eq!(d.code, "misspelled-oci-key");
        assert!(d
            .hint
            .unwrap()
            .contains("`org.opencontainers.image.revision`"));
        assert_eq!(
            check_key("org.opencontainers.artifact.x").unwrap().code,
            "reserved-key"
        );
        assert_eq!(
            check_key("org.opencontainers.image.stopSignal")
                .unwrap()
                .code,
            "runtime-key"
        );
        let d = check_key("revison").unwrap();
        assert_eq!(d.code, "unknown-short-name");
    }

    #[test]
    fn malformed_keys() {
        assert_eq!(check_key("").unwrap().code, "empty-key");
        for k in ["a=b", "a b", "a\tb", "a\nb", "a\u{7}b"] {
            assert_eq!(check_key(k).unwrap().code, "key-invalid-char", "{k:?}");
        }
        assert_eq!(check_key("buildid").unwrap().code, "not-reverse-domain");
        assert_eq!(check_key("com.example:x").unwrap().code, "key-colon");
        assert_eq!(check_key(".com.x").unwrap().code, "not-reverse-domain");
    }

    #[test]
    fn revision_warning() {
        let k = "org.opencontainers.image.revision";
        assert!(codes(k, &"a".repeat(40)).is_empty());
        assert!(codes(k, &"0".repeat(64)).is_empty());
        assert_eq!(codes(k, "abc1234"), ["revision-not-hash"]);
        let d = &check_value(k, "abc")[0];
        assert_eq!(d.severity, super::super::diag::Severity::Warning);
    }

    #[test]
    fn nul_in_value() {
        assert_eq!(codes("com.example.x", "a\0b"), ["value-nul"]);
        // One line per problem, whatever the key holds.
        let d = check_value("com.exa\nmple", "a\0b")[0].to_string();
        assert!(!d.contains('\n'), "{d}");
    }
}
