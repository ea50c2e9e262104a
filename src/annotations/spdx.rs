//! SPDX rules: the strict check of `licenses`, and the one canonical form a lenient
//! declaration (`MIT/Apache-2.0`, `Apache 2.0`) stands for, when there is exactly one.
//!
//! Strict means what the SPDX specification says: identifiers from the license list (or
//! `LicenseRef-…`), operators in upper case (`AND`, `OR`, `WITH`). `NONE` and `NOASSERTION`
//! are SPDX document values, not license expressions: an image without a license is one
//! without the key. A name that stands for several licenses (`BSD`, `GPL`, `MIT/X11`) has
//! no canonical form: it is [`Declared::Ambiguous`], with its candidates.

use spdx::Expression;

use super::Diagnostic;

/// Names that stand for several SPDX licenses, compared in lower case with runs of blanks as
/// one space, and what they may mean. The spdx crate maps some of these to one license
/// (`BSD` to `BSD-2-Clause`, `GPL` to `GPL-2.0-only`); that would be a guess.
const AMBIGUOUS: &[(&[&str], &[&str])] = &[
    (
        &[
            "bsd",
            "bsd license",
            "bsd licence",
            "bsd-style",
            "bsd style",
            "bsd-like",
            "bsd-style license",
            "bsd-style licence",
        ],
        &["0BSD", "BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause"],
    ),
    (
        &[
            "gpl",
            "gnu gpl",
            "gpl license",
            "gnu general public license",
        ],
        &[
            "GPL-1.0-only",
            "GPL-1.0-or-later",
            "GPL-2.0-only",
            "GPL-2.0-or-later",
            "GPL-3.0-only",
            "GPL-3.0-or-later",
        ],
    ),
    (
        &[
            "lgpl",
            "gnu lgpl",
            "lgpl license",
            "gnu lesser general public license",
            "gnu library general public license",
        ],
        &[
            "LGPL-2.0-only",
            "LGPL-2.0-or-later",
            "LGPL-2.1-only",
            "LGPL-2.1-or-later",
            "LGPL-3.0-only",
            "LGPL-3.0-or-later",
        ],
    ),
    (
        &[
            "agpl",
            "gnu agpl",
            "agpl license",
            "gnu affero general public license",
        ],
        &[
            "AGPL-1.0-only",
            "AGPL-1.0-or-later",
            "AGPL-3.0-only",
            "AGPL-3.0-or-later",
        ],
    ),
    (
        &["apache", "apache license", "apache licence", "asl"],
        &["Apache-1.0", "Apache-1.1", "Apache-2.0"],
    ),
    (
        &["mpl", "mozilla public license"],
        &["MPL-1.0", "MPL-1.1", "MPL-2.0"],
    ),
    (
        &["mit/x11", "x11/mit", "mit-x11", "mit x11", "mit/x"],
        &["MIT", "X11"],
    ),
];

/// Imprecise names the spdx crate maps wrongly (`gnu gpl v2` to GPL-3.0-only): ours first.
const PRECISE: &[(&str, &str)] = &[
    ("gnu gpl v2", "GPL-2.0-only"),
    ("gnu gpl v3", "GPL-3.0-only"),
];

/// What a declared license string is, read strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Declared {
    /// A strict SPDX expression, as given.
    Strict(String),
    /// Not strict, but it has exactly one canonical form.
    Canonical {
        expression: String,
        original: String,
    },
    /// A name of several licenses: `term` (the whole value or a part of it) may be any of
    /// `candidates`.
    Ambiguous {
        original: String,
        term: String,
        candidates: &'static [&'static str],
    },
    /// `NONE` or `NOASSERTION`.
    NoLicense(String),
    /// Not an SPDX expression, with the reason.
    Invalid { original: String, reason: String },
}

fn normalised(term: &str) -> String {
    term.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// The candidates of an ambiguous license name.
pub(crate) fn ambiguous_candidates(term: &str) -> Option<&'static [&'static str]> {
    let n = normalised(term);
    let n = n.trim_start_matches("the ");
    AMBIGUOUS
        .iter()
        .find(|(names, _)| names.contains(&n))
        .map(|(_, c)| *c)
}

/// The terms of a lenient expression: split at `/`, parentheses and blank-separated
/// operators; runs of other words stay one term (`Apache 2.0`, `BSD style`).
fn terms(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `MIT/X11` is one ambiguous name before it is a choice of two.
    if ambiguous_candidates(value).is_some() {
        return vec![value.trim().to_string()];
    }
    for part in value.split(['/', '(', ')']) {
        let mut cur: Vec<&str> = Vec::new();
        for w in part.split_whitespace() {
            if matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR" | "WITH") {
                if !cur.is_empty() {
                    out.push(cur.join(" "));
                }
                cur.clear();
            } else {
                cur.push(w);
            }
        }
        if !cur.is_empty() {
            out.push(cur.join(" "));
        }
    }
    out
}

/// A word of `value` that is an operator written in lower or mixed case (`and`).
fn lower_case_operator(value: &str) -> Option<&str> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .find(|w| {
            matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR" | "WITH")
                && !matches!(*w, "AND" | "OR" | "WITH")
        })
}

fn is_no_license(value: &str) -> bool {
    matches!(value.trim(), "NONE" | "NOASSERTION")
}

/// Reads a declared license strictly (see [`Declared`]).
pub(crate) fn read_declared(value: &str) -> Declared {
    let value = value.trim();
    if is_no_license(value) {
        return Declared::NoLicense(value.to_string());
    }
    if Expression::parse(value).is_ok() && lower_case_operator(value).is_none() {
        return Declared::Strict(value.to_string());
    }
    for term in terms(value) {
        if let Some(candidates) = ambiguous_candidates(&term) {
            return Declared::Ambiguous {
                original: value.to_string(),
                term,
                candidates,
            };
        }
    }
    match canonical_form(value) {
        Some(expression) => Declared::Canonical {
            expression,
            original: value.to_string(),
        },
        None => Declared::Invalid {
            original: value.to_string(),
            reason: Expression::parse(value)
                .err()
                .map_or_else(|| "not an SPDX expression".into(), |e| e.reason.to_string()),
        },
    }
}

/// Checks `value` as a strict SPDX expression. A value that parses only leniently
/// (`MIT/Apache-2.0`, `GPL-2.0+`, `Apache 2.0`, `MIT and Apache-2.0`) is refused with the
/// canonical form as hint; an ambiguous name with its candidates.
pub(crate) fn check_expression(key: &str, value: &str) -> Result<(), Diagnostic> {
    let refuse = |what: &str| {
        Diagnostic::error(
            "invalid-license",
            key,
            format!("`{}` {what}", value.escape_debug()),
        )
    };
    match read_declared(value) {
        Declared::Strict(_) => Ok(()),
        Declared::NoLicense(v) => Err(refuse("is not a license expression").hint(format!(
            "`{v}` is an SPDX document value; to say nothing about the license, leave the key out"
        ))),
        Declared::Canonical { expression, .. } => {
            let what = match lower_case_operator(value) {
                Some(op) => format!(
                    "is not a valid SPDX license expression: the operator `{op}` must be upper case"
                ),
                None => "is not a valid SPDX license expression".to_string(),
            };
            Err(refuse(&what).hint(format!("write `{expression}`")))
        }
        Declared::Ambiguous {
            term, candidates, ..
        } => Err(
            refuse("is not a valid SPDX license expression").hint(format!(
                "`{}` names several licenses ({}); write the one meant",
                term.escape_debug(),
                candidates.join(", ")
            )),
        ),
        Declared::Invalid { reason, .. } => Err(refuse(
            "is not a valid SPDX license expression",
        )
        .hint(format!(
            "{reason}; see https://spdx.org/licenses/ for identifiers, or use `LicenseRef-…` for your own"
        ))),
    }
}

/// The strict SPDX expression a lenient one means, if there is exactly one (an ambiguous
/// name has none; see [`read_declared`]).
pub(crate) fn canonical_form(value: &str) -> Option<String> {
    if terms(value)
        .iter()
        .any(|t| ambiguous_candidates(t).is_some())
        || is_no_license(value)
    {
        return None;
    }
    if let Some((_, id)) = PRECISE.iter().find(|(n, _)| normalised(value) == *n) {
        return Some((*id).to_string());
    }
    let attempt = |v: &str| -> Option<String> {
        let canon = Expression::canonicalize(v)
            .ok()?
            .unwrap_or_else(|| v.to_string());
        (Expression::parse(&canon).is_ok() && lower_case_operator(&canon).is_none())
            .then_some(canon)
    };
    attempt(value).or_else(|| attempt(&join_version_words(value)))
}

/// `Apache 2.0` → `Apache-2.0`, `GPL v3` → `GPL-v3`: a word followed by a version number is
/// one identifier written with a space.
fn join_version_words(value: &str) -> String {
    let words: Vec<&str> = value.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let is_version = w
            .trim_start_matches(['v', 'V'])
            .starts_with(|c: char| c.is_ascii_digit());
        match out.last_mut() {
            Some(prev)
                if is_version
                    && !matches!(prev.to_ascii_uppercase().as_str(), "AND" | "OR" | "WITH") =>
            {
                prev.push('-');
                prev.push_str(w.trim_start_matches(['v', 'V']));
            }
            _ => out.push(w.to_string()),
        }
    }
    out.join(" ")
}

/// What a project file declares, made strict: `(expression, Some(original))` when it had to
/// be canonicalised. Ambiguous names and `NONE`/`NOASSERTION` are errors here.
pub(crate) fn canonicalise_declared(value: &str) -> Result<(String, Option<String>), String> {
    match read_declared(value) {
        Declared::Strict(v) => Ok((v, None)),
        Declared::Canonical {
            expression,
            original,
        } => Ok((expression, Some(original))),
        Declared::Ambiguous {
            term, candidates, ..
        } => Err(format!(
            "`{}` names several licenses ({})",
            term.escape_debug(),
            candidates.join(", ")
        )),
        Declared::NoLicense(v) => Err(format!("`{v}` is not a license expression")),
        Declared::Invalid { original, .. } => Err(format!(
            "`{}` is not an SPDX expression",
            original.escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_expressions_pass() {
        for ok in [
            "MIT",
            "MIT OR Apache-2.0",
            "Apache-2.0 WITH LLVM-exception",
            "GPL-2.0-or-later",
            "LicenseRef-Proprietary",
        ] {
            assert!(check_expression("k", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn lenient_expressions_get_the_canonical_hint() {
        for (bad, canon) in [
            ("MIT/Apache-2.0", "MIT OR Apache-2.0"),
            ("GPL-2.0+", "GPL-2.0-or-later"),
            ("Apache 2.0", "Apache-2.0"),
            ("mit", "MIT"),
            ("GPL-3.0", "GPL-3.0-only"),
        ] {
            let d = check_expression("k", bad).unwrap_err();
            assert_eq!(d.code, "invalid-license");
            assert_eq!(
                d.hint.as_deref(),
                Some(format!("write `{canon}`").as_str()),
                "{bad}"
            );
        }
        let d = check_expression("k", "Totally Custom").unwrap_err();
        assert!(d.hint.unwrap().contains("LicenseRef-"));
    }

    #[test]
    fn declared_values_are_canonicalised() {
        assert_eq!(canonicalise_declared("MIT").unwrap(), ("MIT".into(), None));
        assert_eq!(
            canonicalise_declared("MIT/Apache-2.0").unwrap(),
            ("MIT OR Apache-2.0".into(), Some("MIT/Apache-2.0".into()))
        );
        assert!(canonicalise_declared("see LICENSE file").is_err());
        assert_eq!(
            canonicalise_declared("GPLv2+").unwrap().0,
            "GPL-2.0-or-later"
        );
        assert_eq!(
            canonicalise_declared("gnu gpl v2").unwrap().0,
            "GPL-2.0-only"
        );
    }

    #[test]
    fn ambiguous_names_have_no_canonical_form() {
        for (name, one) in [
            ("BSD", "BSD-3-Clause"),
            ("GPL", "GPL-3.0-only"),
            ("LGPL", "LGPL-2.1-only"),
            ("AGPL", "AGPL-3.0-or-later"),
            ("MIT/X11", "X11"),
            ("BSD-style", "BSD-2-Clause"),
            ("Apache", "Apache-2.0"),
        ] {
            match read_declared(name) {
                Declared::Ambiguous { candidates, .. } => {
                    assert!(candidates.contains(&one), "{name}: {candidates:?}")
                }
                other => panic!("{name}: {other:?}"),
            }
            assert_eq!(canonical_form(name), None, "{name}");
            let d = check_expression("k", name).unwrap_err();
            assert!(d.hint.unwrap().contains("names several licenses"), "{name}");
        }
        // a part of an expression too
        assert!(matches!(
            read_declared("MIT OR BSD"),
            Declared::Ambiguous { ref term, .. } if term == "BSD"
        ));
    }

    #[test]
    fn operators_are_upper_case() {
        let d = check_expression("k", "MIT and Apache-2.0").unwrap_err();
        assert_eq!(d.hint.as_deref(), Some("write `MIT AND Apache-2.0`"));
        assert!(
            d.message.contains("`and` must be upper case"),
            "{}",
            d.message
        );
        let d = check_expression("k", "Apache-2.0 with LLVM-exception").unwrap_err();
        assert_eq!(
            d.hint.as_deref(),
            Some("write `Apache-2.0 WITH LLVM-exception`")
        );
    }

    #[test]
    fn none_and_noassertion_are_not_licenses() {
        for v in ["NONE", "NOASSERTION"] {
            let d = check_expression("k", v).unwrap_err();
            assert_eq!(d.code, "invalid-license");
            assert!(d.hint.unwrap().contains("leave the key out"), "{v}");
            assert!(canonicalise_declared(v).is_err());
        }
    }
}
