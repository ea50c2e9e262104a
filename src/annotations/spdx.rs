//! SPDX rules: the strict check of `licenses`, and the one canonical form a lenient
//! declaration (`MIT/Apache-2.0`, `Apache 2.0`) stands for, when there is exactly one.

use spdx::Expression;

use super::Diagnostic;

/// Checks `value` as a strict SPDX expression. A value that parses only leniently
/// (`MIT/Apache-2.0`, `GPL-2.0+`, `Apache 2.0`) is refused with the canonical form as hint.
pub(crate) fn check_expression(key: &str, value: &str) -> Result<(), Diagnostic> {
    match Expression::parse(value) {
        Ok(_) => Ok(()),
        Err(strict_err) => {
            let d = Diagnostic::error(
                "invalid-license",
                key,
                format!(
                    "`{}` is not a valid SPDX license expression",
                    value.escape_debug()
                ),
            );
            Err(match canonical_form(value) {
                Some(canon) => d.hint(format!("write `{canon}`")),
                None => d.hint(format!(
                    "{}; see https://spdx.org/licenses/ for identifiers, or use `LicenseRef-…` for your own",
                    strict_err.reason
                )),
            })
        }
    }
}

/// The strict SPDX expression a lenient one means, if there is exactly one.
pub(crate) fn canonical_form(value: &str) -> Option<String> {
    let attempt = |v: &str| -> Option<String> {
        let canon = Expression::canonicalize(v)
            .ok()?
            .unwrap_or_else(|| v.to_string());
        Expression::parse(&canon).ok().map(|_| canon)
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
/// be canonicalised.
pub(crate) fn canonicalise_declared(value: &str) -> Result<(String, Option<String>), String> {
    let value = value.trim();
    if Expression::parse(value).is_ok() {
        return Ok((value.to_string(), None));
    }
    canonical_form(value)
        .map(|c| (c, Some(value.to_string())))
        .ok_or_else(|| format!("`{}` is not an SPDX expression", value.escape_debug()))
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
    }
}
