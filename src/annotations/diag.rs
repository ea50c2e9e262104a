//! Diagnostics: what validation and the targets find, one finding a value, each with a stable
//! kebab-case code from the one registry below ([`CODES`]). Findings are not errors: a run
//! reports all of them, then exits 1 when any is an error.

use std::fmt;

use serde::Serialize;

/// Every code the binary can emit: code, usual severity, what it means. README's table lists
/// exactly these (a test holds both, and that every code in the sources is here).
pub(crate) const CODES: &[(&str, &str, &str)] = &[
    ("ambiguous-license", "warning", "a license name that stands for several licenses (`BSD`, `GPL`), or a text shared by several (`GPL-3.0-only`/`-or-later`), that nothing decides; `licenses` left out"),
    ("annotation-mismatch", "error", "`verify`: a target carries another value for a key than the one expected"),
    ("annotation-missing", "error", "`verify`: a target lacks a key at a place that must carry it"),
    ("annotations-not-object", "error", "a target's `annotations` is not a JSON object / YAML mapping"),
    ("artifacts-skipped", "warning", "`annotate` left artifact manifests (signatures, SBOMs, non-image configs) of a layout as they are"),
    ("bare-repository", "warning", "a bare repository: no work tree, so no project or license files and no dirty check"),
    ("base-lookup-failed", "warning", "`--resolve-base` could not get the base image's digest from its registry; `base.digest` left out"),
    ("base-unresolved", "warning", "the Dockerfile's base image cannot be told offline (an `ARG` without a value, the build platform); `base.*` left out"),
    ("chart-annotations", "error", "a Helm chart's `annotations` that is not a mapping"),
    ("chart-own-key", "warning", "`title` and `version` are not written into a Helm chart's annotations: `helm push` sets them from the chart's name and version"),
    ("ci-tag-not-head", "warning", "a CI tag variable ignored because the CI's commit variable is not HEAD"),
    ("created-normalised", "warning", "a `created` date-time with an offset or fractions of a second, written in UTC whole seconds (`2024-01-02T05:04:05.5+02:00` → `2024-01-02T03:04:05Z`)"),
    ("describe-gave-up", "warning", "no tag within the bounded walk from HEAD, so no version from git describe"),
    ("digest-reference", "error", "a registry image addressed by digest cannot change in place; give `--tag`"),
    ("dirty-tree", "error", "`--require-clean` and the working tree has modified tracked files"),
    ("docker-annotations", "warning", "a Docker-schema manifest or list carries annotations its schema does not define"),
    ("docker-media-type", "error", "a Docker-schema manifest or list cannot carry annotations at the level asked for"),
    ("dockerfile-invalid", "warning", "the Dockerfile cannot be read as BuildKit would read it; nothing is taken from it"),
    ("document-size", "error", "a manifest or index would be over 4 MiB with the annotations"),
    ("dotenv-blanks", "warning", "a value starting or ending with blanks is left out of dotenv (GitLab strips them)"),
    ("duplicate-key", "error", "a key given more than once"),
    ("empty-key", "error", "an empty key"),
    ("empty-value", "warning", "a key with an empty value"),
    ("ignored-value", "warning", "a value found in git, CI or a project file that breaks a rule is dropped, not published"),
    ("invalid-base-name", "error", "`base.name` is not a fully qualified image reference"),
    ("invalid-created", "error", "`created` is not an RFC 3339 date-time with a zone, or is outside the years 0000–9999 in UTC"),
    ("invalid-digest", "error", "`base.digest` is not `sha256:`+64 or `sha512:`+128 lower-case hex"),
    ("invalid-license", "error", "`licenses` is not a strict SPDX expression; the hint gives the canonical one when there is one"),
    ("invalid-ref-name", "error", "`ref.name` does not match the image-spec grammar"),
    ("invalid-url", "error", "`url`, `documentation` or `source` is not an absolute URL"),
    ("key-colon", "warning", "`:` in a key, which buildx reads as the level separator (an error for buildx flags)"),
    ("key-invalid-char", "error", "`=`, whitespace or a control character in a key"),
    ("kubernetes-key", "error", "with `--kubernetes`: not a valid Kubernetes annotation key"),
    ("kubernetes-size", "error", "with `--kubernetes`: the annotations of one object exceed 262,144 bytes"),
    ("label-conflict", "warning", "a Dockerfile `LABEL` sets an OCI key to another value than the one collected"),
    ("label-unresolved", "warning", "with `--from-dockerfile-labels`: an OCI `LABEL` whose value cannot be told offline"),
    ("level-not-found", "error", "a target has nothing at a level asked for"),
    ("levels-unsupported", "warning", "the build tool has no annotation levels; entries go to the image manifest only"),
    ("license-canonicalised", "warning", "a declared license that is not strict SPDX, read as its one canonical form (`MIT/Apache-2.0` → `MIT OR Apache-2.0`) or resolved by the license text (`BSD` → `BSD-3-Clause`)"),
    ("license-denied", "error", "the policy file's `[licenses] deny` names a license or exception that `licenses` needs"),
    ("license-not-allowed", "error", "`licenses` needs a license or exception the policy file's `[licenses] allow` does not list"),
    ("license-not-recognised", "warning", "a license file whose text is not recognised; `licenses` left out"),
    ("list-blanks", "error", "a value ending in whitespace, which build-push-action's list reader trims: refused by the `labels`/`annotations` formats, left out of the `github` lists"),
    ("missing-required", "error", "`--require KEY` and no source provided KEY (`verify`: the target does not carry KEY)"),
    ("misspelled-oci-key", "error", "a near miss of a predefined key (`oci.opencontainers.image.revision`)"),
    ("multiline-value", "error", "a value spanning lines, in a format that cannot hold it"),
    ("no-git", "warning", "the directory is not in a git repository; collection goes on from the other sources"),
    ("no-objects", "warning", "a YAML target holds no Kubernetes object (of the kinds asked for): `annotate` skips it with a warning; for `verify` it is an error, as nothing there carries the keys"),
    ("no-release-tag", "warning", "the repository has tags but none is a release of this package (see `--tag-prefix`), or none is in HEAD's history"),
    ("not-a-mapping", "error", "a Kubernetes object's `metadata` or `metadata.annotations` is not a mapping"),
    ("not-expected", "error", "`verify`: a key to compare has no expected value (a warning for the default keys)"),
    ("not-reverse-domain", "warning", "a key that is not a reverse-domain name"),
    ("packed-refs", "warning", "lines of `.git/packed-refs` that cannot be read; the refs there are missing"),
    ("project-file", "warning", "a project file that could not be read"),
    ("project-value", "warning", "a value in a project file that could not be read as written (an undefined property, a dynamic version not found) is left out"),
    ("ref-name-level", "warning", "`ref.name` anywhere but on index.json descriptors"),
    ("referrers-stale", "warning", "a referrers tag lists referrers of a manifest whose digest changed"),
    ("remote-not-url", "warning", "a git remote that is not a URL others can reach; no source from it"),
    ("reserved-key", "error", "an `org.opencontainers.*` key outside the predefined image keys"),
    ("revision-not-hash", "warning", "a revision that is not a 40- or 64-character hash"),
    ("revision-unknown", "error", "`verify`: a target's revision is no commit of this repository"),
    ("runtime-key", "warning", "a key the image-spec defines for runtime bundles only (`…image.os`, `…stopSignal`)"),
    ("shallow-clone", "warning", "a shallow clone: tags and describe may be incomplete"),
    ("subject-stale", "warning", "a signature or attestation refers to a manifest whose digest changed"),
    ("unborn-head", "warning", "HEAD has no commit yet: no revision, tag or commit time from git"),
    ("unknown-oci-key", "error", "a key under `org.opencontainers.image.` that the spec does not define, with did-you-mean"),
    ("unknown-short-name", "error", "a bare key that is a near miss of a short name (`licence`)"),
    ("unreadable-blob", "error", "a layout blob that cannot be read"),
    ("url-credentials", "error", "a URL carrying user-info (never echoed)"),
    ("url-secret-query", "error", "a URL whose query carries a credential-like parameter (never echoed)"),
    ("value-not-string", "error", "an annotation value in a target that is not a string"),
    ("value-nul", "error", "a NUL byte in a value"),
    ("variable-clash", "error", "two keys that become the same variable name in `env`/`make`/`dotenv`"),
    ("yaml-alias", "error", "`metadata` or `metadata.annotations` is shared through a YAML anchor, alias or merge key"),
    ("yaml-edit", "error", "a Kubernetes object whose annotations could not be edited in place"),
];

/// What a code means, if it is registered.
pub(crate) fn describe(code: &str) -> Option<&'static str> {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, d)| *d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding: a stable kebab-case code, the key it concerns, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Diagnostic {
    pub(crate) severity: Severity,
    pub(crate) code: &'static str,
    pub(crate) key: String,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hint: Option<String>,
    /// Where the finding was made (a file, `kind/name` of an object), when not the run itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(code: &'static str, key: &str, message: impl Into<String>) -> Self {
        debug_assert!(
            describe(code).is_some(),
            "diagnostic code `{code}` is not in CODES"
        );
        Diagnostic {
            severity: Severity::Error,
            code,
            key: key.to_string(),
            // A message may echo a value: never a credential in it.
            message: super::url::redact_text(&message.into()),
            hint: None,
            location: None,
        }
    }

    pub(crate) fn warning(code: &'static str, key: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, key, message)
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(super::url::redact_text(&hint.into()));
        self
    }

    pub(crate) fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `error[code]: location: message — hint`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: ", self.severity, self.code)?;
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

/// Whether any diagnostic is an error.
pub(crate) fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn codes_are_unique_sorted_kebab_case() {
        for pair in CODES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (code, severity, description) in CODES {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{code}"
            );
            assert!(matches!(*severity, "error" | "warning"), "{code}");
            assert!(!description.is_empty(), "{code}");
        }
    }

    /// The code literals handed to `Diagnostic::error`/`warning` anywhere in `src/` (codes
    /// passed through a variable are held by the assertion in [`Diagnostic::error`]), and
    /// the text of the sources other than this file.
    fn codes_in_sources() -> (BTreeSet<String>, String) {
        fn walk(dir: &Path, out: &mut BTreeSet<String>, all: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out, all);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if !path.ends_with("annotations/diag.rs") {
                        all.push_str(&text);
                    }
                    for part in text.split("Diagnostic::").skip(1) {
                        let Some(rest) = part
                            .strip_prefix("error(")
                            .or_else(|| part.strip_prefix("warning("))
                        else {
                            continue;
                        };
                        let rest = rest.trim_start();
                        if let Some(lit) = rest.strip_prefix('"') {
                            out.insert(lit[..lit.find('"').unwrap()].to_string());
                        }
                    }
                }
            }
        }
        let (mut out, mut all) = (BTreeSet::new(), String::new());
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut out,
            &mut all,
        );
        (out, all)
    }

    #[test]
    fn every_code_in_the_sources_is_registered_and_used() {
        let registered: BTreeSet<String> = CODES.iter().map(|(c, _, _)| c.to_string()).collect();
        let (used, sources) = codes_in_sources();
        let unregistered: Vec<_> = used.difference(&registered).collect();
        assert!(
            unregistered.is_empty(),
            "codes not in CODES: {unregistered:?}"
        );
        let unused: Vec<_> = registered
            .iter()
            .filter(|c| !sources.contains(&format!("\"{c}\"")))
            .collect();
        assert!(
            unused.is_empty(),
            "codes in CODES that nothing emits: {unused:?}"
        );
    }

    /// README's diagnostic table: the rows after the `| code | severity | meaning |` header.
    #[test]
    fn readme_lists_exactly_the_codes() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let mut lines = readme
            .lines()
            .skip_while(|l| !l.starts_with("| code | severity |"));
        assert!(
            lines.next().is_some(),
            "README has no `| code | severity | …` table"
        );
        let rows: Vec<(String, String)> = lines
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[2].to_string())
            })
            .collect();
        let expected: Vec<(String, String)> = CODES
            .iter()
            .map(|(c, s, _)| (c.to_string(), s.to_string()))
            .collect();
        assert_eq!(
            rows, expected,
            "README's code table is out of step with CODES"
        );
    }
}
